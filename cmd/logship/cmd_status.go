package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/shipper"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the RPO, the newest segment, backup and mark, and the source's archiver",
		Description: `Reads the catalog: the newest shipped segment and its age (the RPO: what a loss of the
source right now would cost at most), the newest backup and mark, and totals. With --pg
(or LOGSHIP_PG, pg: in the config file) it also shows the source's pg_stat_archiver; an
unreachable source is reported, not an error. A --source that has shipped nothing to
the store is an error naming the sources it has (see logship sources).

With logship receive, it shows the streamed tail (how far the receiver stored the WAL
of the segment it was streaming, and the age of its newest piece) and, with --pg, the
receiver's replication slots (named logship_*, or --slot) and how much WAL each keeps
on the source.

Exit codes: 0 all well, 1 a problem (the status is still shown; --json lists them in
"problems"): the store could not be read, the archiver is failing (its last failure
is newer than its last success, when --pg reaches the source), the RPO is over
--max-rpo (or nothing was shipped yet), or a receiver's slot keeps more WAL than
--max-slot-retained; 2 bad configuration or an unknown source.

Example:
   logship status
   logship status --max-rpo 15m || alert "logship: shipping is behind"
   logship status --json | jq .rpo_seconds`,
		Flags: []cli.Flag{jsonFlag,
			&cli.DurationFlag{Name: "max-rpo", Usage: "exit 1 when the RPO (age of the newest shipped segment) is over this, e.g. 15m"},
			maxSlotRetainedFlag, slotFlag},
		Action: withCatalog(func(c *cli.Context, rt *runtime, cat *catalog.Catalog) error {
			// Only an unknown source stops here: a store that cannot be read
			// is shown as such below.
			if err := cat.RequireSource(c.Context); errors.Is(err, catalog.ErrUnknownSource) {
				return usageErr(err)
			}
			maxSlot, err := parseSize(c.String("max-slot-retained"))
			if err != nil {
				return usageErr(fmt.Errorf("--max-slot-retained: %w", err))
			}
			st, serr := shipper.GetStatus(c.Context, cat, shipper.StatusOptions{ConnString: rt.cfg.PG, MaxRPO: c.Duration("max-rpo"),
				Slot: c.String("slot"), MaxSlotRetained: maxSlot})
			if c.Bool("json") {
				if err := printJSON(rt.stdout, st); err != nil {
					return err
				}
			} else {
				printStatus(rt.stdout, st)
			}
			if serr != nil { // exit code by the store's error, as elsewhere
				return fmt.Errorf("store %s unreachable: %w", st.Store, serr)
			}
			if len(st.Problems) > 0 {
				return withCode(exitFailure, errors.New(strings.Join(st.Problems, "; ")))
			}
			return nil
		}),
	}
}

func printStatus(w io.Writer, st shipper.Status) {
	fmt.Fprintf(w, "source          %s  store %s", st.Source, st.Store)
	if st.SystemID != 0 {
		fmt.Fprintf(w, "  system %d", st.SystemID)
	}
	fmt.Fprintln(w)
	if !st.StoreReachable {
		fmt.Fprintf(w, "store           UNREACHABLE: %s\n", st.StoreError)
	} else {
		if s := st.NewestSegment; s != nil {
			fmt.Fprintf(w, "RPO             %s (age of the newest segment)\n", ago(s.AgeSeconds))
			fmt.Fprintf(w, "newest segment  %s (timeline %d, up to %s) shipped %s\n", s.Name, s.Timeline, s.EndLSN, s.ShippedAt.Format(time.RFC3339))
			if o := s.ShippedFrom; o != nil {
				fmt.Fprintf(w, "shipping from   %s (data directory %s): started timeline %d at %s\n", o.Host, orUnknown(o.DataDir), o.Timeline, o.Time.Format(time.RFC3339))
			}
		} else {
			fmt.Fprintln(w, "RPO             unknown: no segment shipped yet")
		}
		if b := st.NewestBackup; b != nil {
			fmt.Fprintf(w, "newest backup   %s (timeline %d, from %s, %s) finished %s, %s ago\n",
				b.ID, b.Timeline, b.StartLSN, humanBytes(b.StoredSize), b.EndTime.Format(time.RFC3339), ago(b.AgeSeconds))
		} else {
			fmt.Fprintln(w, "newest backup   none: take one with logship backup")
		}
		if m := st.NewestMark; m != nil {
			fmt.Fprintf(w, "newest mark     %s at %s (timeline %d) %s, %s ago\n", m.Name, m.LSN, m.Timeline, m.Time.Format(time.RFC3339), ago(m.AgeSeconds))
		} else {
			fmt.Fprintln(w, "newest mark     none")
		}
		fmt.Fprintf(w, "catalog         %d WAL files (%d segments, %s stored), %d backups, %d marks\n",
			st.WALFiles, st.Segments, humanBytes(st.StoredBytes), st.Backups, st.Marks)
		if len(st.Pins) > 0 {
			fmt.Fprintf(w, "pinned          %s\n", pinList(st.Pins))
		}
		if t := st.StreamedTail; t != nil {
			fmt.Fprintf(w, "streamed        %s\n", strings.TrimPrefix(streamedTailLine(t), "streamed tail: "))
		}
	}
	for _, s := range st.ReplicationSlots {
		state := "active"
		if !s.Active {
			state = "INACTIVE"
		}
		over := ""
		if s.OverLimit {
			over = ": OVER --max-slot-retained"
		}
		fmt.Fprintf(w, "slot            %s (%s) keeps %s of WAL on the source since %s%s\n", s.Name, state, humanBytes(s.RetainedBytes), orUnknown(s.RestartLSN), over)
	}
	if st.SlotsError != "" {
		fmt.Fprintf(w, "slots           unknown: %s\n", st.SlotsError)
	}
	switch a := st.Archiver; {
	case a != nil:
		line := fmt.Sprintf("%d archived", a.ArchivedCount)
		if a.LastArchivedTime != nil {
			line += fmt.Sprintf(", last %s at %s", a.LastArchivedWAL, a.LastArchivedTime.UTC().Format(time.RFC3339))
		}
		line += fmt.Sprintf("; %d failed", a.FailedCount)
		if a.Failing {
			line += fmt.Sprintf(", FAILING since %s at %s: see the PostgreSQL log", a.LastFailedWAL, a.LastFailedTime.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "archiver        %s\n", line)
	case st.ArchiverError != "":
		fmt.Fprintf(w, "archiver        unknown: %s\n", st.ArchiverError)
	}
}

// ago renders an age in seconds the way people read it.
func ago(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second))
	switch {
	case d < time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < 48*time.Hour:
		return d.Round(time.Second).String()
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// maxSlotRetainedFlag and slotFlag watch the replication slots of logship
// receive (status and check).
var (
	maxSlotRetainedFlag = &cli.StringFlag{Name: "max-slot-retained", Value: "1GiB",
		Usage: "with --pg: report a receiver's replication slot that keeps more WAL than this on the source (e.g. 512MB, 2GiB)"}
	slotFlag = &cli.StringFlag{Name: "slot", Usage: "with --pg: also watch this replication slot (slots named logship_* always are)"}
)
