package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/crypt"
	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store/backends"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "logship",
		Usage: "log-shipping disaster recovery for PostgreSQL",
		Description: `Ships compressed, checksummed WAL and base backups to object storage, records
them in a catalog kept in the store, and restores a standby to an exact mark.

Exit codes of every command: 0 done, 1 failed (wal-fetch: the file is absent), 2 bad
arguments, configuration or input (nothing was changed), 130 interrupted (SIGTERM or
SIGINT; a command still busy 5 s later, or at a second signal, is stopped; schedule
has its stop grace and timeout and exits 0 when stopped cleanly), 200 wal-fetch only:
the object is corrupt or the store failed.

Example:
   archive_command = 'logship --store file:///backup wal-push %p'
   logship --store file:///backup catalog list`,
		Version:              fullVersion(),
		Writer:               stdout,
		ErrWriter:            stderr,
		Flags:                globalFlags(),
		EnableBashCompletion: true,
		OnUsageError:         onUsageError,
		Action:               unknownCommand,
		Commands: []*cli.Command{
			walPushCommand(),
			walFetchCommand(),
			residentCommand(),
			receiveCommand(),
			backupCommand(),
			markCommand(),
			restoreCommand(),
			standbyCommand(),
			failoverCommand(),
			catalogCommand(),
			scheduleCommand(),
			purgeCommand(),
			statusCommand(),
			sourcesCommand(),
			checkCommand(),
			verifyCommand(),
			drillCommand(),
			keyCommand(),
			versionCommand(),
			manCommand(),
			completionCommand(),
		},
		ExitErrHandler: func(*cli.Context, error) {}, // run() prints errors and exits, once
		Metadata:       map[string]any{},
	}
	// --version prints what the version command prints; no -v, which
	// reads as "verbose".
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c.App.Writer) }
	oneDefault(app.Flags)
	for _, cmd := range app.Commands {
		setUsageErrors(cmd)
	}
	return app
}

// setUsageErrors makes every error of the framework itself (an unknown
// flag or subcommand, a missing required flag, a negative duration) one
// line and exit 2, instead of a page of help.
func setUsageErrors(cmd *cli.Command) {
	if cmd.OnUsageError == nil { // wal-fetch sets its own
		cmd.OnUsageError = onUsageError
	}
	checkFlags(cmd)
	oneDefault(cmd.Flags)
	if len(cmd.Subcommands) > 0 && cmd.Action == nil {
		cmd.Action = unknownCommand
	}
	for _, sub := range cmd.Subcommands {
		setUsageErrors(sub)
	}
}

// runtime is what every command needs once its configuration is resolved.
type runtime struct {
	cfg    Config
	log    *slog.Logger
	stdout io.Writer
	stderr io.Writer
	// deferBucketCheck opens an S3 store without checking the bucket first
	// (wal-push: one request less per segment).
	deferBucketCheck bool
	// prefetcher adds --prefetcher to the restore_command restore writes.
	prefetcher bool
}

func setup(c *cli.Context) (*runtime, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, usageErr(err)
	}
	return newRuntime(c, cfg), nil
}

// newRuntime is the runtime of a resolved configuration (setup's, or one
// entry of sources: for schedule).
func newRuntime(c *cli.Context, cfg Config) *runtime {
	// Logs and warnings go through the progress bar's line (progress.go).
	stderr := newTermLine(c.App.ErrWriter)
	rt := &runtime{cfg: cfg, log: newLogger(stderr, cfg), stdout: c.App.Writer, stderr: stderr}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[loggerKey] = rt.log
	if cfg.LogFormat == "json" {
		// No plain text on stderr, and no progress bar: records.
		lines := &logLines{log: rt.log}
		rt.stderr = lines
		jsonStderr.Store(lines)
	}
	return rt
}

// setupCatalog is setup followed by opening the source's catalog, which
// most commands need first.
func setupCatalog(c *cli.Context) (*runtime, *catalog.Catalog, error) {
	rt, err := setup(c)
	if err != nil {
		return nil, nil, err
	}
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return nil, nil, err
	}
	return rt, cat, nil
}

// withCatalog is the Action of a command that takes the arguments names
// and works on the source's catalog: fn runs once the arguments are checked
// and the catalog is open.
func withCatalog(fn func(c *cli.Context, rt *runtime, cat *catalog.Catalog) error, names ...string) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := needArgs(c, names...); err != nil {
			return err
		}
		rt, cat, err := setupCatalog(c)
		if err != nil {
			return err
		}
		return fn(c, rt, cat)
	}
}

func newLogger(w io.Writer, cfg Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openCatalogs opens the store and returns how to open the catalog of any
// source in it. The store itself stays behind the catalog.
func (r *runtime) openCatalogs(ctx context.Context) (func(source string) *catalog.Catalog, error) {
	st, err := backends.Open(ctx, r.cfg.Store, backends.Options{
		S3Endpoint: r.cfg.S3.Endpoint, S3Region: r.cfg.S3.Region, S3PathStyle: r.cfg.S3.PathStyle,
		S3SSE: r.cfg.S3.SSE, S3SSEKMSKeyID: r.cfg.S3.SSEKMSKeyID, S3RequestTimeout: r.cfg.S3.RequestTimeout,
		S3ObjectLock: r.cfg.S3.ObjectLock, S3LockExempt: catalog.TransientKeys{},
		S3ReadOriginal: r.cfg.S3.ReadOriginal, S3DeferBucketCheck: r.deferBucketCheck,
		Logger: r.log,
	})
	if err != nil {
		return nil, err
	}
	var ids *crypt.Identities
	if r.cfg.IdentityFile != "" {
		if ids, err = crypt.LoadIdentities(r.cfg.IdentityFile); err != nil {
			return nil, usageErr(err)
		}
	}
	return func(source string) *catalog.Catalog {
		cat := catalog.New(st, source)
		if ids != nil {
			cat.SetDecrypter(ids)
		}
		return cat
	}, nil
}

func (r *runtime) openCatalog(ctx context.Context) (*catalog.Catalog, error) {
	catalogOf, err := r.openCatalogs(ctx)
	if err != nil {
		return nil, err
	}
	return catalogOf(r.cfg.Source), nil
}

func (r *runtime) encodeOptions() object.EncodeOptions {
	opts := object.EncodeOptions{Compression: r.cfg.Compression, Level: r.cfg.CompressionLevel}
	if r.cfg.Recipients != nil {
		opts.Encrypt = r.cfg.Recipients
	}
	return opts
}

// needArgs checks the number of positional arguments.
func needArgs(c *cli.Context, names ...string) error {
	if c.NArg() != len(names) {
		return usageErr(fmt.Errorf("%s needs %s (%v), got %d: see logship %s --help",
			c.Command.Name, plural.N(len(names), "argument"), names, c.NArg(), c.Command.Name))
	}
	return nil
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version",
		UsageText: "logship version\n\nExample:\n   logship version",
		Action: func(c *cli.Context) error {
			printVersion(c.App.Writer)
			return nil
		},
	}
}
