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
on a new timeline; logship status and catalog list show the new timeline and host.

--on-promote CMD runs once per promoted member, after it accepts writes, through
/bin/sh -c, to re-point clients (DNS, a pooler, an application's config). Its
environment has LOGSHIP_HOOK_JOB=promote, LOGSHIP_HOOK_SOURCE (the member),
LOGSHIP_HOOK_MARK, LOGSHIP_HOOK_LSN, LOGSHIP_HOOK_TIMELINE, LOGSHIP_HOOK_HOST (this
host's name), LOGSHIP_HOOK_PORT, LOGSHIP_HOOK_SOCKET_DIR and LOGSHIP_HOOK_DATA_DIR.
It is killed after 30s. A failing hook makes failover exit 1 (the message names the
member) but never undoes a promotion.

Exit codes: 0 every member promoted at the mark (and every --on-promote hook
succeeded); 1 an --on-promote hook failed (the promotions stand), a member cannot reach the mark or
is not paused at it (no member was promoted), or a promotion failed or ended away from
the mark (the message says which members were promoted); 2 bad arguments or
configuration, an unknown mark, or a --target-dir that is no standby; 130 interrupted.

Example:
   logship --store s3://dr/pg --source main failover --target-dir /srv/pg-standby --mark latest`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target-dir", Usage: "data directory of the standby (with --group: of one per member)", Required: true},
			&cli.StringFlag{Name: "group", Usage: "promote every member of this group (config groups:)"},
			&cli.StringFlag{Name: "mark", Usage: "advance to mark NAME (or latest) before promoting"},
			&cli.StringFlag{Name: "on-promote", Usage: "run `CMD` once per promoted member, with LOGSHIP_HOOK_* saying where it is (re-point clients)"},
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
	// Members promoted before a failure accept writes: clients still go
	// there.
	hookErr := runPromoteHooks(c.Context, rt, c.String("on-promote"), rep.Members)
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
		if hookErr != nil {
			err = fmt.Errorf("%w; and %v", err, hookErr)
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
	return hookErr
}
