package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/receive"
	"github.com/logship/logship/schedule"
)

func receiveCommand() *cli.Command {
	return &cli.Command{
		Name:  "receive",
		Usage: "stream the source's WAL into the store as it is written (a standby whose flush means durable in the store)",
		Description: `Connects to the source (--pg / LOGSHIP_PG and the usual PG* variables; the user needs
the REPLICATION attribute) over the replication protocol with a physical replication slot
(--slot, created when missing; default logship_<source>), and stores the WAL as it arrives:
the open segment's new bytes as pieces at least every --partial-interval or --partial-bytes,
each finished segment as the same object wal-push stores (archive_command may keep running:
both store the same bytes, and the second one is the idempotent retry). It reports to the
server as flushed only what is durable in the store, so with its application name in
synchronous_standby_names, a commit with synchronous_commit = on returns once it is in the
store. --synchronous stores every message as it arrives instead of waiting for
--partial-interval. It reconnects with backoff and resumes where the store ends; it follows
timeline switches. The slot keeps WAL on the server while the receiver is stopped: only
receive --drop-slot drops it. See docs/RECEIVE.md.

Exit codes: 0 stopped by SIGTERM/SIGINT (or --drop-slot done), 1 failed, 2 bad arguments or
configuration (also: the server is another cluster than the source's).

Example:
   logship --store s3://dr/pg --source main --pg "host=db1 user=logship" receive --synchronous
   # postgresql.conf of db1:
   #   synchronous_standby_names = 'logship_main'`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "slot", DefaultText: "logship_<source>", Usage: "physical replication slot (lowercase letters, digits, _; at most 63)"},
			&cli.StringFlag{Name: "application-name", DefaultText: "logship_<source>", Usage: "application_name of the connection: what synchronous_standby_names matches"},
			&cli.DurationFlag{Name: "partial-interval", Value: receive.DefaultPartialInterval, Usage: "store the open segment's new bytes at least this often"},
			&cli.IntFlag{Name: "partial-bytes", Value: receive.DefaultPartialBytes, Usage: "store the open segment's new bytes once this many are waiting"},
			&cli.BoolFlag{Name: "synchronous", Usage: "store every message as it arrives (one upload at a time; what arrives meanwhile goes in the next)"},
			&cli.DurationFlag{Name: "status-interval", Value: receive.DefaultStatusInterval, Usage: "longest time between two status updates to the server (keep it well under wal_sender_timeout); no message from the server for three of them ends the connection"},
			&cli.DurationFlag{Name: "max-backoff", Value: receive.DefaultMaxBackoff, Usage: "longest wait between two reconnects"},
			&cli.BoolFlag{Name: "drop-slot", Usage: "drop the slot and exit (stop the receiver first); the server then keeps no WAL for it"},
		},
		Action: withCatalog(runReceive),
	}
}

// receiveOptions are the receiver's options for rt's source from the
// command's flags.
func receiveOptions(c *cli.Context, rt *runtime) (receive.Options, error) {
	o := receive.Options{
		ConnString: rt.cfg.PG, Slot: c.String("slot"), ApplicationName: c.String("application-name"),
		PartialInterval: c.Duration("partial-interval"), PartialBytes: c.Int("partial-bytes"),
		Synchronous: c.Bool("synchronous"), MaxBackoff: c.Duration("max-backoff"), StatusInterval: c.Duration("status-interval"),
		Encode: rt.encodeOptions(), AllowPlaintext: rt.cfg.AllowPlaintext, Logger: rt.log,
	}
	if o.Slot == "" {
		o.Slot = receive.DefaultSlot(rt.cfg.Source)
	}
	if o.ApplicationName == "" {
		o.ApplicationName = receive.DefaultApplicationName(rt.cfg.Source)
	}
	if o.PartialInterval <= 0 || o.PartialBytes <= 0 || o.StatusInterval <= 0 || o.MaxBackoff <= 0 {
		return o, errors.New("--partial-interval, --partial-bytes, --status-interval and --max-backoff must be positive")
	}
	return o, receive.CheckSlotName(o.Slot)
}

func runReceive(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
	o, err := receiveOptions(c, rt)
	if err != nil {
		return usageErr(err)
	}
	if c.Bool("drop-slot") {
		if err := receive.DropSlot(c.Context, o); err != nil {
			return err
		}
		fmt.Fprintf(rt.stdout, "dropped replication slot %s\n", o.Slot)
		return nil
	}
	err = receive.Run(c.Context, cat, o)
	if c.Context.Err() != nil {
		return nil // SIGTERM is the daemon's normal stop
	}
	return err
}

// receiveTask is logship receive as a task of the schedule daemon
// (jobs.receive: on or synchronous), with the command's defaults.
func receiveTask(rt *runtime, cat *catalog.Catalog, synchronous bool) schedule.Task {
	o := receive.Options{
		ConnString: rt.cfg.PG, Slot: receive.DefaultSlot(rt.cfg.Source), ApplicationName: receive.DefaultApplicationName(rt.cfg.Source),
		PartialInterval: receive.DefaultPartialInterval, PartialBytes: receive.DefaultPartialBytes, Synchronous: synchronous,
		MaxBackoff: receive.DefaultMaxBackoff, StatusInterval: receive.DefaultStatusInterval,
		Encode: rt.encodeOptions(), AllowPlaintext: rt.cfg.AllowPlaintext, Logger: rt.log.With("task", "receive"),
	}
	return schedule.Task{Name: "receive", Run: func(ctx context.Context) error { return receive.Run(ctx, cat, o) }}
}
