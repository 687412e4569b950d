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
		Usage:     "create a mark (a named restore point) on the source",
		ArgsUsage: "NAME",
		Description: `Creates a restore point with pg_create_restore_point, records it in the catalog,
switches WAL and waits until the mark's segment is in the store, so that the mark can
be restored to as soon as this command exits 0. A name is used at most once per source
(PostgreSQL recovers to the first restore point of a name).

Exit codes: 0 marked and shipped, 1 failed (or created but not shipped within --wait),
2 bad name, a name already used, or bad configuration.

Example:
   logship --pg "host=/var/run/postgresql" mark before_upgrade_2026_11
   restore later with: logship restore --target-dir /srv/pg --mark before_upgrade_2026_11`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-switch", Usage: "do not switch WAL (the mark ships when the segment fills or archive_timeout passes)"},
			&cli.DurationFlag{Name: "wait", Usage: "how long to wait for the mark to be shipped (default 60s)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c, "NAME"); err != nil {
				return err
			}
			rt, cat, err := setupCatalog(c)
			if err != nil {
				return err
			}
			m, err := shipper.Mark(c.Context, cat, c.Args().First(), shipper.MarkOptions{
				ConnString: rt.cfg.PG, NoSwitch: c.Bool("no-switch"), Wait: c.Duration("wait"),
			})
			if errors.Is(err, catalog.ErrInvalidMarkName) || errors.Is(err, catalog.ErrDuplicateMark) {
				return usageErr(err)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(rt.stdout, m)
			}
			fmt.Fprintf(rt.stdout, "mark %s at %s on timeline %d (%s)\n", m.Name, m.LSN, m.Timeline, m.Time.Format("2006-01-02 15:04:05.000Z07:00"))
			return nil
		},
	}
}
