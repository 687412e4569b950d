package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/shipper"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "check that the source and the store are set up for shipping",
		Description: `Checks, each as ok, WARN or FAILED with what to do: the connection to the source
(--pg; when PostgreSQL cannot be reached, that one line is all about the source);
wal_level (replica or logical); archive_mode; that archive_command runs logship wal-push
with %p and ships to this --store and --source (a store or source it leaves to the
server's environment or a config file is a warning: not checked); that the archiver is
not failing (pg_stat_archiver); that a replication connection works (the REPLICATION
attribute, pg_hba.conf, max_wal_senders: backup needs it); that the store takes a write,
a read back and a delete of a probe object (under <source>/check/, or .check-probe-* at
the top of the store while the source has shipped nothing); that the store's source
and the cluster have one system identifier (a warning while nothing was shipped yet);
and, when the source has replication slots of logship receive (named logship_*, or
--slot), that none keeps more WAL than --max-slot-retained (a warning: a stopped
receiver's slot fills the source's disk).

Exit codes: 0 no check failed (warnings included), 1 a check failed, 2 bad configuration.

Example:
   logship --pg "host=/var/run/postgresql user=postgres" check
   logship check --json | jq '.checks[] | select(.ok | not)'`,
		Flags: []cli.Flag{jsonFlag, maxSlotRetainedFlag, slotFlag},
		Action: withCatalog(func(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
			maxSlot, err := parseSize(c.String("max-slot-retained"))
			if err != nil {
				return usageErr(fmt.Errorf("--max-slot-retained: %w", err))
			}
			results := shipper.RunChecks(c.Context, cat, shipper.CheckOptions{
				ConnString: rt.cfg.PG, ArchiveCommand: suggestedArchiveCommand(c, rt.cfg),
				ObjectLock: rt.cfg.S3.ObjectLock, Slot: c.String("slot"), MaxSlotRetained: maxSlot})
			if c.Bool("json") {
				if err := printJSONList(rt.stdout, "checks", results); err != nil {
					return err
				}
			} else {
				for _, r := range results {
					verdict := "ok    "
					switch {
					case !r.OK:
						verdict = "FAILED"
					case r.Warning:
						verdict = "WARN  "
					}
					fmt.Fprintf(rt.stdout, "%s  %-17s  %s\n", verdict, r.Name, r.Detail)
					if (!r.OK || r.Warning) && r.Fix != "" {
						fmt.Fprintf(rt.stdout, "        %-17s  fix: %s\n", "", r.Fix)
					}
				}
			}
			if n := shipper.Failed(results); n > 0 {
				return withCode(exitFailure, fmt.Errorf("%d of %d checks failed", n, len(results)))
			}
			return nil
		}),
	}
}

// suggestedArchiveCommand is the archive_command that ships to this store
// and source with this binary.
func suggestedArchiveCommand(c *cli.Context, cfg Config) string {
	bin, err := os.Executable()
	if err != nil {
		bin = "logship"
	}
	parts := []string{bin}
	if f := c.String("config"); f != "" {
		parts = append(parts, "--config", f)
	}
	parts = append(parts, "--store", cfg.Store, "--source", cfg.Source, "wal-push", "%p")
	return strings.ReplaceAll(strings.Join(parts, " "), "'", "''")
}
