package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/standby"
)

func failoverCommand() *cli.Command {
	return &cli.Command{
		Name:  "failover",
		Usage: "promote the standby (or every member of a group) at the mark it stands on",
		Description: `Promotes the server that logship standby keeps in --target-dir, at the mark it stands
on, or with --mark first advances it to that mark (latest: the newest one; for a
group the newest one every member has). Before promoting anything it checks that every
member is paused exactly at the same mark's LSN; each is then promoted with pg_promote
(which ends recovery where it is paused) and checked to have branched its new timeline
off exactly at the mark. Prints what was reached and the RTO.

The promoted servers archive with the source's archive_command, into the same store,
on a new timeline.

Exit codes: 0 every member promoted at the mark; 1 a member cannot reach the mark or
is not paused at it (no member was promoted), or a promotion failed or ended away from
the mark (the message says which members were promoted); 2 bad arguments or
configuration, an unknown mark, or a --target-dir that is no standby; 130 interrupted.

Example:
   logship --store s3://dr/pg --source main failover --target-dir /srv/pg-standby --mark latest`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target-dir", Usage: "data directory of the standby (with --group: of one per member)", Required: true},
			&cli.StringFlag{Name: "group", Usage: "promote every member of this group (config groups:)"},
			&cli.StringFlag{Name: "mark", Usage: "advance to mark NAME (or latest) before promoting"},
			&cli.StringFlag{Name: "pg-bin", Usage: "directory of pg_ctl, postgres and psql (default: PATH, pg_config, /usr/lib/postgresql)"},
			&cli.DurationFlag{Name: "start-timeout", Value: time.Hour, Usage: "with --mark: how long to wait for a server to reach it"},
			jsonFlag,
		},
		Action: runFailover,
	}
}

func runFailover(c *cli.Context) error {
	if err := needArgs(c); err != nil {
		return err
	}
	rt, members, opts, err := standbySetup(c)
	if err != nil {
		return err
	}
	rep, err := standby.Failover(c.Context, members, c.String("mark"), opts)
	if c.Bool("json") && (err == nil || rep.Step != nil) {
		if perr := printJSON(rt.stdout, rep); perr != nil {
			return perr
		}
	}
	if err != nil {
		if rep.Step != nil && !c.Bool("json") {
			_ = printStandby(c, rt.stderr, *rep.Step)
		}
		if errors.Is(err, standby.ErrNoMark) && c.String("mark") != "" && c.String("mark") != "latest" {
			return usageErr(err)
		}
		return standbyErr(err)
	}
	if !c.Bool("json") {
		for _, m := range rep.Members {
			fmt.Fprintf(rt.stdout, "%s: promoted at mark %s: the new timeline %d branches off at LSN %s (checked: exactly the mark's); pid %d, port %d\n",
				m.Source, m.Mark, m.Timeline, m.LSN, m.PID, m.Port)
		}
		fmt.Fprintf(rt.stdout, "failover to mark %s done: RTO %s\n", rep.Mark, rep.RTO.Round(time.Millisecond))
	}
	return nil
}
