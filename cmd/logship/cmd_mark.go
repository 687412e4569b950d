package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/shipper"
)

func markCommand() *cli.Command {
	return &cli.Command{
		Name:      "mark",
		Usage:     "create a mark (a named restore point) on the source, or on every member of a group",
		ArgsUsage: "NAME",
		Description: `Creates a restore point with pg_create_restore_point, records it in the catalog,
switches WAL and waits until the mark's segment is in the store, so that the mark can
be restored to as soon as this command exits 0. A name is used at most once per source
(PostgreSQL recovers to the first restore point of a name).

With --group, marks every member of a group (sources that are restored together) at
once: the name is reserved on all members or none, prepared transactions are waited out
(--quiesce-timeout), the restore points are created together and the skew between them is
reported; see docs/GROUPS.md. Members come from the config file's groups: section and from
--member SOURCE=CONNSTRING, which replaces the file's entry for that source or adds one.

With --keep the mark is pinned: purge never deletes it nor what restoring it needs
(catalog unkeep NAME removes the pin).

Exit codes: 0 marked and shipped, 1 failed (or created but not shipped within --wait),
2 bad name, a name already used, or bad configuration.

Example:
   logship --pg "host=/var/run/postgresql" mark before_upgrade_2026_11
   restore later with: logship restore --target-dir /srv/pg --mark before_upgrade_2026_11

Example (group):
   logship --store s3://dr/logship mark eod_2026_11_27 --group billing \
     --member orders="host=db1 user=logship" --member payments="host=db2 user=logship"
   restore each member with: logship --source orders restore --target-dir /srv/orders --mark eod_2026_11_27`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-switch", Usage: "do not switch WAL (the mark ships when the segment fills or archive_timeout passes)"},
			&cli.DurationFlag{Name: "wait", Usage: "how long to wait for the mark to be shipped (default 60s)"},
			&cli.StringFlag{Name: "group", Usage: "mark every member of this group at once (see --member)"},
			&cli.GenericFlag{Name: "member", Value: &memberFlags{}, Usage: "with --group: a member as SOURCE=CONNSTRING (repeatable)"},
			&cli.DurationFlag{Name: "quiesce-timeout", Usage: "with --group: how long to wait for prepared transactions to finish (default 10s)"},
			&cli.BoolFlag{Name: "keep", Usage: "pin the mark: purge never deletes it nor what restoring it needs (see catalog keep)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, "NAME"); err != nil {
				return err
			}
			if c.IsSet("group") || c.IsSet("member") {
				return markGroup(c)
			}
			rt, cat, err := setupCatalog(c)
			if err != nil {
				return err
			}
			m, err := shipper.Mark(c.Context, cat, c.Args().First(), shipper.MarkOptions{
				ConnString: rt.cfg.PG, NoSwitch: c.Bool("no-switch"), Wait: c.Duration("wait"),
				Notice: func(msg string) { fmt.Fprintln(rt.stderr, msg) },
			})
			if errors.Is(err, catalog.ErrInvalidMarkName) || errors.Is(err, catalog.ErrDuplicateMark) {
				return usageErr(err)
			}
			if err != nil {
				return err
			}
			if c.Bool("keep") {
				if err := cat.Keep(c.Context, catalog.Pin{Kind: catalog.PinMark, Name: m.Name}); err != nil {
					return fmt.Errorf("mark %s made, but not pinned (run logship catalog keep %s): %w", m.Name, m.Name, err)
				}
			}
			if c.Bool("json") {
				return printJSON(rt.stdout, m)
			}
			fmt.Fprintf(rt.stdout, "mark %s at %s on timeline %d (%s)\n", m.Name, m.LSN, m.Timeline, m.Time.Format("2006-01-02 15:04:05.000Z07:00"))
			return nil
		},
	}
}

func markGroup(c *cli.Context) error {
	group := c.String("group")
	if c.Bool("keep") {
		return usageErr(errors.New("--keep is for one source's mark: pin each member's with logship --source SOURCE catalog keep NAME"))
	}
	if group == "" {
		return usageErr(errors.New("--member needs --group: name the group the members belong to"))
	}
	rt, err := setupGroup(c, group)
	if err != nil {
		return err
	}
	groups, err := loadGroupsConfig(c)
	if err != nil {
		return usageErr(err)
	}
	members := groupMembers(groups[group], *c.Generic("member").(*memberFlags))
	if len(members) == 0 {
		return usageErr(fmt.Errorf("group %s has no members: define it under groups: in the config file or pass --member SOURCE=CONNSTRING", group))
	}
	catalogOf, err := rt.openCatalogs(c.Context)
	if err != nil {
		return err
	}
	gm, err := shipper.MarkGroup(c.Context, catalogOf, group, members, c.Args().First(), shipper.GroupMarkOptions{
		QuiesceTimeout: c.Duration("quiesce-timeout"), NoSwitch: c.Bool("no-switch"), Wait: c.Duration("wait"),
		Notice: func(msg string) { fmt.Fprintln(rt.stderr, msg) },
	})
	if errors.Is(err, catalog.ErrInvalidMarkName) || errors.Is(err, catalog.ErrDuplicateMark) || errors.Is(err, shipper.ErrInvalidGroup) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(rt.stdout, gm)
	}
	for _, m := range gm.Members {
		fmt.Fprintf(rt.stdout, "group %s mark %s: %s at %s on timeline %d (%s)\n", gm.Group, gm.Name, m.Source, m.LSN, m.Timeline,
			m.Time.Format("2006-01-02 15:04:05.000000Z07:00"))
	}
	fmt.Fprintf(rt.stdout, "group %s mark %s: skew %s\n", gm.Group, gm.Name, gm.Skew)
	return nil
}
