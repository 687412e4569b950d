package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/shipper"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "take a full (or, with --incremental, an incremental) base backup of the source",
		Description: `Streams a base backup over the replication protocol (no access to the data
directory needed), cuts it into parts that are compressed, checksummed and stored in
parallel, and records it once the WAL up to its end is in the store. The connection
comes from --pg / LOGSHIP_PG and the usual PG* variables; the user needs the
REPLICATION attribute.

--incremental (PostgreSQL 17+) takes an incremental backup: only the blocks changed
since its parent, the newest complete backup (or --parent ID). The server needs
summarize_wal = on, and its WAL summaries from the parent's start on; they age out
after wal_summary_keep_time (10 days by default), after which a new full backup is
needed. A restore needs the full backup and every incremental down to the one used.

Exit codes: 0 recorded, 1 failed (no record is written; the backup is not used),
2 bad configuration (also: --incremental on PostgreSQL 15/16, with summarize_wal
off, or without a usable parent).

Example:
   logship --store file:///var/lib/logship --pg "host=/var/run/postgresql user=postgres" backup --fast`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "label", Usage: "label recorded in backup_label"},
			&cli.BoolFlag{Name: "fast", Usage: "request an immediate checkpoint instead of a spread one"},
			&cli.DurationFlag{Name: "archive-wait", Value: 0, Usage: "how long to wait for the backup's WAL to be shipped (default 5m)"},
			&cli.BoolFlag{Name: "incremental", Usage: "take an incremental backup on top of the newest complete backup (PostgreSQL 17+)"},
			&cli.StringFlag{Name: "parent", Usage: "with --incremental: the backup ID to build on"},
			jsonFlag,
		},
		Action: withCatalog(func(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
			prog := newProgress("backup", rt.stderr, rt.log)
			b, err := shipper.Backup(c.Context, cat, shipper.BackupOptions{
				ConnString: rt.cfg.PG, Label: c.String("label"), FastCheckpoint: c.Bool("fast"),
				Encode: rt.encodeOptions(), ArchiveWait: c.Duration("archive-wait"),
				Progress: prog.update, Logger: rt.log,
				Incremental: c.Bool("incremental"), Parent: c.String("parent"), AllowPlaintext: rt.cfg.AllowPlaintext,
			})
			prog.end()
			if errors.Is(err, shipper.ErrIncrementalRefused) {
				return usageErr(err)
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(rt.stdout, b)
			}
			kind := "backup"
			if b.Incremental() {
				kind = "incremental backup (parent " + b.Parent + ")"
			}
			fmt.Fprintf(rt.stdout, "%s %s: %s raw, %s stored in %s, WAL %s to %s (timeline %d), %s\n",
				kind, b.ID, humanBytes(b.RawSize), humanBytes(b.StoredSize), plural.N(len(b.Parts), "part"), b.StartLSN, b.EndLSN, b.Timeline,
				b.EndTime.Sub(b.StartTime).Round(1e7))
			return nil
		}),
	}
}
