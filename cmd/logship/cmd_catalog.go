package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/plural"
)

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON instead of text (consumers should ignore unknown fields)"}

func catalogCommand() *cli.Command {
	return &cli.Command{
		Name:  "catalog",
		Usage: "list, show or rebuild the backup history kept in the store",
		Description: `Example:
   logship --store file:///var/lib/logship catalog list
   logship catalog show 000000010000000000000003 --json
   logship catalog rebuild`,
		Subcommands: append([]*cli.Command{
			{
				Name:  "list",
				Usage: "list the source, its timelines, WAL ranges and gaps",
				Flags: []cli.Flag{jsonFlag,
					&cli.BoolFlag{Name: "wal", Usage: "also list every WAL record, not only the ranges per timeline"}},
				Description: `Exit codes: 0 listed, 1 the store could not be read, 2 bad configuration.

Example:
   logship --store file:///var/lib/logship catalog list
   logship --store s3://backups/pg catalog list --json | jq '.timelines'
   logship catalog list --json --wal | jq '.wal[] | select(.kind != "segment")'`,
				Action: catalogList,
			},
			{
				Name:      "show",
				Usage:     "show one WAL file (its record and stored header), backup or mark",
				ArgsUsage: "NAME",
				Flags:     []cli.Flag{jsonFlag},
				Description: `NAME is a WAL file name, a backup id or a mark name, looked up in that order.

Exit codes: 0 shown, 1 not found or unreadable, 2 bad configuration.

Example:
   logship catalog show 000000010000000000000003 --json
   logship catalog show 20261201T165604.654Z
   logship catalog show before-upgrade --json | jq .mark.lsn`,
				Action: catalogShow,
			},
			{
				Name:  "rebuild",
				Usage: "re-create missing catalog records from the stored objects alone",
				Flags: []cli.Flag{jsonFlag},
				Description: `Reads the header of every stored object that has no record and records it.
Existing records are kept. Safe to run while wal-push runs.

Exit codes: 0 rebuilt, 1 an object could not be read, 2 bad configuration.

Example:
   logship --store file:///var/lib/logship catalog rebuild`,
				Action: catalogRebuild,
			},
		}, pinCommands()...),
	}
}

// warnStrayKeys says which keys the catalog's listings ignored because
// they are not records, on stderr so that --json output stays clean.
func warnStrayKeys(w io.Writer, cat *catalog.Catalog) {
	for _, k := range cat.StrayKeys() {
		fmt.Fprintf(w, "logship: warning: %s is not a catalog record; ignored it (delete it)\n", k)
	}
}

func catalogList(c *cli.Context) error {
	rt, cat, err := setupKnownCatalog(c)
	if err != nil {
		return err
	}
	l, err := cat.List(c.Context)
	if err != nil {
		return err
	}
	warnStrayKeys(rt.stderr, cat)
	if c.Bool("json") {
		out := listOutput{Listing: l}
		if c.Bool("wal") {
			out.WAL = &l.WAL
		}
		return printJSON(rt.stdout, out)
	}
	w := rt.stdout
	if l.Source == nil {
		fmt.Fprintf(w, "source %q in %s: nothing shipped yet\n", cat.SourceName(), cat.StoreURL())
		return nil
	}
	fmt.Fprintf(w, "source %s  system %d  segment size %d MiB  store %s\n", l.Source.Name, l.Source.SystemID, l.Source.SegmentSize>>20, cat.StoreURL())
	fmt.Fprintf(w, "%s, %s raw, %s stored\n\n", plural.N(l.Files, "WAL file"), humanBytes(l.RawBytes), humanBytes(l.StoredBytes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIMELINE\tSEGMENTS\tFIRST\tLAST\tLSN RANGE\tGAPS")
	for _, t := range l.Timelines {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s - %s\t%d\n", t.Timeline, t.Segments, t.First, t.Last, t.StartLSN, t.EndLSN, len(t.Gaps))
	}
	tw.Flush()
	if st := l.StreamedTail; st != nil {
		fmt.Fprintln(w, streamedTailLine(st))
	}
	for _, t := range l.Timelines {
		if o := t.Origin; o != nil {
			fmt.Fprintf(w, "timeline %d shipped from %s (data directory %s) since %s\n", t.Timeline, o.Host, orUnknown(o.DataDir), o.Time.Format("2006-01-02 15:04:05Z07:00"))
		}
	}
	if len(l.Backups) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "BACKUP\tTIMELINE\tSTART LSN\tEND LSN\tRAW\tSTORED\tPARTS\tFINISHED")
		for _, b := range l.Backups {
			id := b.ID
			if b.Incremental() {
				id += " (incremental from " + b.Parent + ")"
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\n", id, b.Timeline, b.StartLSN, b.EndLSN,
				humanBytes(b.RawSize), humanBytes(b.StoredSize), len(b.AllParts()), b.EndTime.Format("2006-01-02 15:04:05Z07:00"))
		}
		tw.Flush()
		for _, b := range l.Backups {
			if len(b.Recipients) > 0 {
				fmt.Fprintf(w, "backup %s is encrypted for recipients %s\n", b.ID, strings.Join(b.Recipients, ", "))
			}
		}
	}
	if len(l.Marks) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MARK\tTIMELINE\tLSN\tTIME")
		for _, m := range l.Marks {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", m.Name, m.Timeline, m.LSN, m.Time.Format("2006-01-02 15:04:05.000Z07:00"))
		}
		tw.Flush()
	}
	if len(l.Pins) > 0 {
		fmt.Fprintf(w, "\npinned (purge keeps them): %s\n", pinList(l.Pins))
	}
	if c.Bool("wal") {
		printWALRecords(w, l.WAL)
	}
	for _, t := range l.Timelines {
		for _, g := range t.Gaps {
			fmt.Fprintf(w, "gap on timeline %d: %s missing between %s and %s\n", t.Timeline, plural.N(g.Missing, "segment"), g.After, g.Before)
		}
	}
	return nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func catalogShow(c *cli.Context) error {
	if err := needArgs(c, "NAME"); err != nil {
		return err
	}
	rt, cat, err := setupKnownCatalog(c)
	if err != nil {
		return err
	}
	out, err := lookupName(c.Context, cat, c.Args().First())
	if err != nil {
		return err
	}
	if len(out.others) > 0 {
		fmt.Fprintf(rt.stderr, "logship: warning: mark %s has %d records; showing the first (see logship verify)\n", out.Mark.Name, len(out.others)+1)
	}
	if c.Bool("json") {
		return printJSON(rt.stdout, out)
	}
	w := rt.stdout
	switch {
	case out.WAL != nil:
		info := out.WAL
		fmt.Fprintf(w, "name          %s\nkind          %s\ntimeline      %d\nraw size      %d\nstored size   %d\nsha256        %s\ncompression   %s\nformat        %d\n",
			info.Name, info.Kind, info.Timeline, info.RawSize, info.StoredSize, info.SHA256, info.Compression, info.FormatVersion)
	case out.Backup != nil:
		b := out.Backup
		fmt.Fprintf(w, "backup        %s\nlabel         %s\ntimeline      %d\nstart lsn     %s\nend lsn       %s\nwal           %s to %s\nstarted       %s\nfinished      %s\nraw size      %d\nstored size   %d\nparts         %d\ncompression   %s\n",
			b.ID, b.Label, b.Timeline, b.StartLSN, b.EndLSN, b.StartWAL, b.EndWAL, b.StartTime.Format(time.RFC3339), b.EndTime.Format(time.RFC3339),
			b.RawSize, b.StoredSize, len(b.Parts), b.Compression)
	default:
		m := out.Mark
		fmt.Fprintf(w, "mark          %s\ntimeline      %d\nlsn           %s\ntime          %s\n", m.Name, m.Timeline, m.LSN, m.Time.Format(time.RFC3339Nano))
	}
	return nil
}

func catalogRebuild(c *cli.Context) error {
	rt, cat, err := setupCatalog(c)
	if err != nil {
		return err
	}
	res, err := cat.Rebuild(c.Context)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(rt.stdout, res)
	}
	fmt.Fprintf(rt.stdout, "%s, %s added, source record restored: %v\n", plural.N(res.Objects, "object"), plural.N(res.Added, "record"), res.Source)
	if res.Pieces > 0 {
		fmt.Fprintf(rt.stdout, "%s of streamed WAL pieces restored\n", plural.N(res.Pieces, "record"))
	}
	return nil
}

// streamedTailLine shows the newest segment stored only as pieces by
// logship receive: how far the WAL is stored, and how long ago the
// receiver last stored any (its RPO, as far as the store can tell).
func streamedTailLine(st *catalog.StreamedTailInfo) string {
	line := fmt.Sprintf("streamed tail: %s (timeline %d), %s bytes in %s, streamed up to %s",
		st.Segment, st.Timeline, strconv.FormatUint(uint64(st.TailEnd), 10), plural.N(st.Pieces, "piece"), st.StreamedUpTo)
	if !st.NewestPiece.IsZero() {
		line += fmt.Sprintf("; newest piece stored %s ago", ago(st.AgeSeconds))
	}
	return line
}
