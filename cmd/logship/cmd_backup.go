package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/shipper"
)

func backupCommand() *cli.Command {
	return &cli.Command{
		Name:  "backup",
		Usage: "take a full base backup of the source",
		Description: `Streams a base backup over the replication protocol (no access to the data
directory needed), cuts it into parts that are compressed, checksummed and stored in
parallel, and records it once the WAL up to its end is in the store. The connection
comes from --pg / LOGSHIP_PG and the usual PG* variables; the user needs the
REPLICATION attribute.

Exit codes: 0 recorded, 1 failed (no record is written; the backup is not used),
2 bad configuration.

Example:
   logship --store file:///var/lib/logship --pg "host=/var/run/postgresql user=postgres" backup --fast`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "label", Usage: "label recorded in backup_label"},
			&cli.BoolFlag{Name: "fast", Usage: "request an immediate checkpoint instead of a spread one"},
			&cli.DurationFlag{Name: "archive-wait", Value: 0, Usage: "how long to wait for the backup's WAL to be shipped (default 5m)"},
			jsonFlag,
		},
		Action: func(c *cli.Context) error {
			if err := needArgs(c); err != nil {
				return err
			}
			rt, cat, err := setupCatalog(c)
			if err != nil {
				return err
			}
			prog := newProgress("backup", rt.stderr, rt.log)
			b, err := shipper.Backup(c.Context, cat, shipper.BackupOptions{
				ConnString: rt.cfg.PG, Label: c.String("label"), FastCheckpoint: c.Bool("fast"),
				Encode: rt.encodeOptions(), ArchiveWait: c.Duration("archive-wait"),
				Progress: prog.update, Logger: rt.log,
			})
			prog.end()
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(rt.stdout, b)
			}
			fmt.Fprintf(rt.stdout, "backup %s: %s raw, %s stored in %s, WAL %s to %s (timeline %d), %s\n",
				b.ID, humanBytes(b.RawSize), humanBytes(b.StoredSize), plural.N(len(b.Parts), "part"), b.StartLSN, b.EndLSN, b.Timeline,
				b.EndTime.Sub(b.StartTime).Round(1e7))
			return nil
		},
	}
}
