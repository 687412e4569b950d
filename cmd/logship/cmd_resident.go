package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/resident"
	"github.com/logship/logship/resident/client"
	"github.com/logship/logship/shipper"
)

func residentCommand() *cli.Command {
	return &cli.Command{
		Name:  "resident",
		Usage: "serve logship-push: push WAL files as soon as PostgreSQL marks them ready",
		Description: `Runs the resident shipper of one pg_wal directory: it keeps the store open, pushes the
files PostgreSQL marks ready (archive_status/*.ready) up to --push-parallel at a time,
and answers logship-push, the thin client archive_command runs, once the file it asks
for is durable (object and catalog record stored). logship-push starts it on demand
(it then leaves after a minute without requests); run it yourself to keep it up, e.g.
as the systemd unit logship-resident@.service. Give it the same global flags, in the
same order, as archive_command gives logship-push, and no LOGSHIP_* variable that the
archiver does not have: a client of other settings pushes by itself. See
docs/RESIDENT.md.

Example:
   archive_command = 'logship-push --config /etc/logship/15-main.yaml %p'
   logship --config /etc/logship/15-main.yaml resident --wal-dir /var/lib/postgresql/15/main/pg_wal`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "wal-dir", Required: true, Usage: "the cluster's pg_wal directory"},
			&cli.DurationFlag{Name: "idle-exit", Usage: "leave after this long without requests once nothing is left to push (0: never)"},
			&cli.BoolFlag{Name: "spawned", Hidden: true, Usage: "started by logship-push"},
			&cli.IntFlag{Name: "ready-fd", Hidden: true, Usage: "descriptor told ready or busy"},
			&cli.StringFlag{Name: "build-id", Hidden: true, Usage: "identity of this binary (tests fake an old one)"},
		},
		Action: runResident,
	}
}

func runResident(c *cli.Context) error {
	rt, err := setup(c)
	if err != nil {
		return err
	}
	walDir, err := client.WALDir(filepath.Join(c.String("wal-dir"), "x"))
	if err != nil {
		return usageErr(fmt.Errorf("--wal-dir: %w", err))
	}
	loc, err := client.Locate(walDir)
	if err != nil {
		return err
	}
	build := c.String("build-id")
	if build == "" {
		if build, err = ownBuildID(); err != nil {
			return err
		}
	}
	idle := c.Duration("idle-exit")
	if c.Bool("spawned") && !c.IsSet("idle-exit") {
		// Longer than the usual archive_timeout, so that a quiet
		// primary's calls find it warm.
		idle = 15 * time.Minute
	}
	cfg := resident.Config{
		WalDir: walDir, Location: loc, BuildID: build,
		Key:     client.Key(globalArgs(c.App, os.Args), os.Environ()),
		Spawned: c.Bool("spawned"), Parallel: rt.cfg.PushParallel, IdleExit: idle,
		Push:    residentPush(rt),
		Answer:  func(err error) (int, string) { return exitCode(err), oneLine(err) },
		Changed: configChanged(c.String("config")),
		Failed:  func(ctx context.Context, err error) { rt.notify(ctx, "wal-push", err) },
		Ready:   readyNotifier(c.Int("ready-fd")),
		Log:     rt.log,
	}
	err = resident.Run(c.Context, cfg)
	if errors.Is(err, resident.ErrBusy) && c.Bool("spawned") {
		return nil // a racing client started one first: it serves
	}
	return err
}

// residentPush is wal-push's push, the store opened once for the whole
// life of the resident (on first use, again after a failure).
func residentPush(rt *runtime) func(ctx context.Context, path string, ahead bool) error {
	var mu sync.Mutex
	var cat *catalog.Catalog
	open := func(ctx context.Context) (*catalog.Catalog, error) {
		mu.Lock()
		defer mu.Unlock()
		if cat != nil {
			return cat, nil
		}
		var err error
		cat, err = rt.openCatalog(ctx)
		return cat, err
	}
	return func(ctx context.Context, path string, ahead bool) error {
		if err := regularFile(path); err != nil {
			return usageErr(err)
		}
		cat, err := open(ctx)
		if err != nil {
			return err
		}
		opts := shipper.PushOptions{Encode: rt.encodeOptions(), Logger: rt.log, AllowPlaintext: rt.cfg.AllowPlaintext}
		if ahead {
			// Several files at once already keep the cores busy.
			opts.Encode.Concurrency = 1
		}
		_, err = shipper.PushWAL(ctx, cat, path, opts)
		if errors.Is(err, pg.ErrInvalidWALFileName) || errors.Is(err, shipper.ErrNotWALFile) {
			return usageErr(err)
		}
		return err
	}
}

// globalArgs is the global flags of a command line, up to its command:
// with the environment, what client.Key identifies a configuration by.
func globalArgs(app *cli.App, args []string) []string {
	var out []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
			break
		}
		out = append(out, a)
		if takesValue(app.Flags, a) && i+1 < len(args) {
			out = append(out, args[i+1])
			i++
		}
	}
	return out
}

// ownBuildID is client.BuildID of the running executable, which the
// clients compute from the logship beside them.
func ownBuildID() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	return client.BuildID(self)
}

// configChanged reports whether the config file (the one given, else the
// default one) is another file or was modified since the start.
func configChanged(path string) func() bool {
	if path == "" {
		path = defaultConfigFile
	}
	stamp := func() string {
		fi, err := os.Stat(path)
		if err != nil {
			return "absent"
		}
		var ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		return fmt.Sprintf("%d %d %d", ino, fi.Size(), fi.ModTime().UnixNano())
	}
	first := stamp()
	return func() bool { return stamp() != first }
}

// readyNotifier writes the resident's state to the descriptor its client
// waits on, once.
func readyNotifier(fd int) func(string) {
	if fd <= 2 {
		return nil
	}
	return func(state string) {
		f := os.NewFile(uintptr(fd), "ready")
		_, _ = f.WriteString(state + "\n")
		f.Close()
	}
}
