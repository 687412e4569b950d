package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/drill"
	"github.com/logship/logship/restore"
	"github.com/logship/logship/schedule"
)

func drillCommand() *cli.Command {
	return &cli.Command{
		Name:  "drill",
		Usage: "restore test: restore a mark into a scratch directory, start it, check it, remove it",
		Description: `The restore test CI and auditors ask for. Restores a mark (default: the latest) into a
new directory under --scratch-dir on a free port, with archiving off, starts it and waits
until it reached the mark exactly, then checks: every database accepts connections, its
catalog can be read (counts are reported), with --amcheck every B-tree index passes
amcheck where the server has the extension, and every statement of --check-sql FILE
returns what the file expects. The report gives each check and the measured RTO (from
the start of the drill until the restored server was ready at its target). Then the
server is stopped (immediate mode) and the directory removed: also when a check fails,
and on SIGTERM or SIGINT.

` + drill.CheckFileHelp + `

Exit codes: 0 healthy: restored, started and every check passed; 1 a check failed, or
the mark cannot be restored (a segment missing, the server does not start); 2 bad
arguments or configuration, an unknown mark, a bad check file; 130 interrupted (cleaned
up all the same).

Example:
   logship --store s3://backups/pg drill
   logship drill --mark before_upgrade --check-sql checks.sql --format junit > drill.xml
   logship drill --amcheck --format json | jq '.rto_seconds'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "mark", Usage: "restore to the mark NAME (default: latest)"},
			&cli.StringFlag{Name: "time", Usage: `restore to a time instead, RFC 3339 or "2006-01-02 15:04:05-07"`},
			&cli.StringFlag{Name: "lsn", Usage: "restore to a WAL position instead"},
			&cli.StringFlag{Name: "check-sql", Usage: "FILE of SQL statements and the results they must give (format above)"},
			&cli.BoolFlag{Name: "amcheck", Usage: "also check every B-tree index with amcheck, where the server has it"},
			&cli.StringFlag{Name: "scratch-dir", Usage: "where to make the drill's directory (default: the system's temporary directory)"},
			&cli.IntFlag{Name: "port", DefaultText: "a free one", Usage: "port of the restored server"},
			&cli.StringFlag{Name: "user", DefaultText: "the server's OS user", Usage: "database user the checks connect as"},
			&cli.StringFlag{Name: "pg-bin", Usage: "directory of pg_ctl and postgres (default: PATH, pg_config, /usr/lib/postgresql)"},
			&cli.DurationFlag{Name: "start-timeout", Value: time.Hour, Usage: "how long to wait for the restored server to reach the mark"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output: text, json or junit"},
			jsonFlag,
		},
		Action: runDrill,
	}
}

func runDrill(c *cli.Context) error {
	if err := needArgs(c); err != nil {
		return err
	}
	format := c.String("format")
	if c.Bool("json") {
		format = "json"
	}
	if format != "text" && format != "json" && format != "junit" {
		return usageErr(fmt.Errorf("--format %q: want text, json or junit", format))
	}
	opts, err := drillOptions(c)
	if err != nil {
		return usageErr(err)
	}
	rt, cat, err := setupCatalog(c)
	if err != nil {
		return err
	}
	if opts.RestoreCommand, err = rt.fetchCommand(cat); err != nil {
		return err
	}
	opts.Logger = rt.log
	rep, err := drill.Run(c.Context, cat, opts)
	warnStrayKeys(rt.stderr, cat)
	if errors.Is(err, restore.ErrUnknownMark) || errors.Is(err, restore.ErrBadTarget) {
		return usageErr(err)
	}
	var werr error
	switch format {
	case "json":
		werr = printJSON(rt.stdout, rep)
	case "junit":
		werr = rep.WriteJUnit(rt.stdout)
	default:
		rep.WriteText(rt.stdout)
	}
	if err != nil {
		return drillError(rep, err)
	}
	return werr
}

// drillOptions reads the flags: the target and the check file.
func drillOptions(c *cli.Context) (drill.Options, error) {
	opts := drill.Options{ScratchDir: c.String("scratch-dir"), PGBin: c.String("pg-bin"), User: c.String("user"),
		StartTimeout: c.Duration("start-timeout"), Amcheck: c.Bool("amcheck"), Port: c.Int("port")}
	if p := opts.Port; p < 0 || p > 65535 {
		return opts, fmt.Errorf("--port %d: want 1 to 65535", p)
	}
	t, err := restoreTarget(c)
	if err != nil {
		return opts, err
	}
	opts.Target = t
	if name := c.String("check-sql"); name != "" {
		f, err := os.Open(name)
		if err != nil {
			return opts, fmt.Errorf("--check-sql: %w", err)
		}
		defer f.Close()
		if opts.SQL, err = drill.ParseCheckFile(f); err != nil {
			return opts, fmt.Errorf("--check-sql %s: %w", name, err)
		}
	}
	return opts, nil
}

// drillError names the first failed check, for stderr.
func drillError(rep *drill.Report, err error) error {
	if !errors.Is(err, drill.ErrUnhealthy) {
		return err
	}
	for _, ch := range rep.Checks {
		if !ch.OK && !ch.Skipped {
			return fmt.Errorf("%w: %s: %s", err, ch.Name, ch.Message)
		}
	}
	return err
}

// withDrillJob adds the drill job when jobs.drill is scheduled: a restore
// drill of the latest mark, with jobs.drill-check-sql and jobs.drill-amcheck.
func withDrillJob(jobs []schedule.Job, rt *runtime, jc JobsConfig, cat *catalog.Catalog) ([]schedule.Job, error) {
	s := jobSetting(jc.Drill, "")
	if s == "" {
		return jobs, nil
	}
	opts := drill.Options{Amcheck: jc.DrillAmcheck}
	if name := jc.DrillCheckSQL; name != "" {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, usageErr(fmt.Errorf("jobs.drill-check-sql: %w", err))
		}
		if opts.SQL, err = drill.ParseCheckFile(bytes.NewReader(b)); err != nil {
			return nil, usageErr(fmt.Errorf("jobs.drill-check-sql %s: %w", name, err))
		}
	}
	var err error
	if opts.RestoreCommand, err = rt.fetchCommand(cat); err != nil {
		return nil, err
	}
	return append(jobs, schedule.DrillJob(cat, s, opts)), nil
}
