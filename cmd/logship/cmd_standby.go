package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/standby"
)

const defaultStandbyListen = "127.0.0.1:9848"

func standbyCommand() *cli.Command {
	return &cli.Command{
		Name:  "standby",
		Usage: "keep a restored server (or one per group member) paused at the newest mark, read-only",
		Description: `Restores --target-dir from the store if it is empty, then keeps the server at the
source's newest mark: it replays to the mark's exact LSN (recovery_target_lsn, not
inclusive) and pauses there with hot_standby on, open read-only. When a newer mark is
shipped, a step stops the server, sets the new target, starts it and waits for the pause,
checking that replay ended exactly at the mark (recovery targets are read only at
startup). It never resumes replay past a target: logship failover promotes.

With --group G, --target-dir holds one data directory per member, named after its
source, and the members follow the newest mark that every member has (a group mark):
they always stand on the same mark. A member that cannot reach it (its WAL is not all
shipped) holds the others back and is reported. Members come from the config file's
groups: section; they get consecutive ports from --port unless a member has
standby_port.

Runs as a daemon (a step every --interval, SIGHUP for a step now, SIGTERM/SIGINT to stop;
the servers keep running) serving /metrics at --metrics-listen: per member the mark, its
age and the lag behind the source's newest mark. --once runs one step, for cron.
The directory keeps logship_standby.json: the source, store and mark it stands on.

Exit codes: 0 every member stands paused at the newest (common) mark (daemon: stopped
cleanly); 1 a step failed, a member cannot reach the newest common mark (held: every
member stays where it stood), or there is no mark yet; 2 bad arguments or configuration,
or a --target-dir that holds files but is no standby; 130 interrupted.

Example:
   logship --store s3://dr/pg --source main standby --target-dir /srv/pg-standby --port 5433 --once`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target-dir", Usage: "data directory of the standby (with --group: of one per member)", Required: true},
			&cli.StringFlag{Name: "group", Usage: "follow every member of this group (config groups:)"},
			&cli.IntFlag{Name: "port", DefaultText: "the backup's", Usage: "port of the standby, set when it is restored (group: the first member's; the next ones count up)"},
			&cli.BoolFlag{Name: "once", Usage: "run one step and exit (for cron)"},
			&cli.DurationFlag{Name: "interval", Value: time.Minute, Usage: "daemon: time between steps"},
			&cli.StringFlag{Name: "metrics-listen", Value: defaultStandbyListen, Usage: `daemon: address of /metrics; "off" disables`},
			&cli.StringFlag{Name: "pg-bin", Usage: "directory of pg_ctl, postgres and psql (default: PATH, pg_config, /usr/lib/postgresql)"},
			&cli.DurationFlag{Name: "start-timeout", Value: time.Hour, Usage: "how long to wait for a server to reach its mark"},
			jsonFlag,
		},
		Action: runStandby,
	}
}

func runStandby(c *cli.Context) error {
	if err := needArgs(c); err != nil {
		return err
	}
	rt, members, opts, err := standbySetup(c)
	if err != nil {
		return err
	}
	if c.Bool("once") {
		rep, err := standby.Step(c.Context, members, opts)
		if perr := printStandby(c, rt.stdout, rep); perr != nil {
			return perr
		}
		return standbyErr(err)
	}
	listen := c.String("metrics-listen")
	if listen == "off" {
		listen = ""
	}
	wake := make(chan struct{}, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go forwardWake(c.Context, hup, wake)
	err = standby.Run(c.Context, members, opts, standby.DaemonOptions{Interval: c.Duration("interval"), Listen: listen, Wake: wake})
	if err == nil && c.Context.Err() != nil {
		return nil
	}
	return err
}

func forwardWake(ctx context.Context, in <-chan os.Signal, out chan<- struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-in:
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}
}

// standbyErr gives a step's error its exit code.
func standbyErr(err error) error {
	if errors.Is(err, standby.ErrNotStandby) {
		return usageErr(err)
	}
	return err
}

// standbySetup resolves the configuration, the members and their
// directories, ports and restore commands; its errors are usage errors.
func standbySetup(c *cli.Context) (*runtime, []standby.Member, standby.Options, error) {
	opts := standby.Options{PGBin: c.String("pg-bin"), StartTimeout: c.Duration("start-timeout")}
	rt, err := setup(c)
	if err != nil {
		return nil, nil, opts, err
	}
	opts.Logger = rt.log
	dir := c.String("target-dir")
	if err := checkTargetDir(dir); err != nil {
		return nil, nil, opts, usageErr(err)
	}
	port := c.Int("port")
	if port < 0 || port > 65535 {
		return nil, nil, opts, usageErr(fmt.Errorf("--port %d: want 1 to 65535", port))
	}
	type spec struct {
		source, dir string
		port        int
	}
	specs := []spec{{rt.cfg.Source, dir, port}}
	if group := c.String("group"); group != "" {
		cfgs, err := standbyGroup(c, group)
		if err != nil {
			return nil, nil, opts, usageErr(err)
		}
		specs = specs[:0]
		for i, m := range cfgs {
			p := m.StandbyPort
			if p == 0 && port != 0 {
				p = port + i
			}
			specs = append(specs, spec{m.Source, filepath.Join(dir, m.Source), p})
		}
	}
	catalogOf, err := rt.openCatalogs(c.Context)
	if err != nil {
		return nil, nil, opts, err
	}
	members := make([]standby.Member, len(specs))
	for i, s := range specs {
		cat := catalogOf(s.source)
		fetch, err := rt.fetchCommand(cat)
		if err != nil {
			return nil, nil, opts, err
		}
		members[i] = standby.Member{Cat: cat, Dir: s.dir, Port: s.port, RestoreCommand: fetch}
	}
	return rt, members, opts, nil
}

// standbyGroup reads group's members from the config file; a standby needs
// their sources (and ports), not their servers.
func standbyGroup(c *cli.Context, group string) ([]groupMemberConfig, error) {
	groups, path, err := loadGroupConfigs(c)
	if err != nil {
		return nil, err
	}
	members := groups[group]
	if len(members) == 0 {
		return nil, fmt.Errorf("group %s has no members: define it under groups: in the config file (%s)", group, path)
	}
	seen := map[string]bool{}
	for i, m := range members {
		if m.Source == "" || seen[m.Source] {
			return nil, fmt.Errorf("config file %s: groups.%s[%d]: want a source, once per group", path, group, i)
		}
		if m.StandbyPort < 0 || m.StandbyPort > 65535 {
			return nil, fmt.Errorf("config file %s: groups.%s[%d]: standby_port %d: want 1 to 65535", path, group, i, m.StandbyPort)
		}
		seen[m.Source] = true
	}
	return members, nil
}

func printStandby(c *cli.Context, w io.Writer, rep standby.Report) error {
	if c.Bool("json") {
		return printJSON(w, rep)
	}
	for _, s := range rep.Members {
		at := "no mark yet"
		if s.Mark != "" {
			at = fmt.Sprintf("at mark %s (LSN %s)", s.Mark, s.LSN)
		}
		fmt.Fprintf(w, "%s: %s %s; newest mark %s", s.Source, s.Action, at, orNone(s.Newest))
		if s.Port != 0 {
			fmt.Fprintf(w, "; pid %d, port %d, read-only", s.PID, s.Port)
		}
		fmt.Fprintln(w)
		if s.Reason != "" {
			fmt.Fprintf(w, "%s: why: %s\n", s.Source, s.Reason)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
