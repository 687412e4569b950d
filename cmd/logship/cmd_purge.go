package main

import (
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/plural"
)

func purgeCommand() *cli.Command {
	return &cli.Command{
		Name:  "purge",
		Usage: "apply the retention policy: delete old backups, marks and WAL",
		Description: `Keeps the newest --keep-backups backups and/or every backup a restore to any moment
of the last --recovery-window-days needs (a backup is kept when either rule keeps it),
then deletes what no kept backup or kept mark needs: older backups, marks before the start
of the oldest kept backup (no kept backup can reach them), and WAL before that start.
Timeline history files are always kept. Objects that no record points at (an interrupted
backup) go once older than --orphan-grace. Without flags, the retention of the config
file's jobs: section applies.

Records are deleted before their objects, and WAL oldest first, so a purge cut short
at any point leaves a store that logship verify passes; running it again finishes.
--dry-run prints exactly what would go and what stays, and why, and changes nothing.

Exit codes: 0 purged (or planned), 1 the store failed, 2 no retention policy or bad
configuration.

Example:
   logship purge --keep-backups 2 --dry-run
   logship purge --recovery-window-days 14 --json`,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep-backups", EnvVars: []string{"LOGSHIP_KEEP_BACKUPS"}, Usage: "keep the newest N backups (default: jobs.keep-backups)"},
			&cli.Float64Flag{Name: "recovery-window-days", EnvVars: []string{"LOGSHIP_RECOVERY_WINDOW_DAYS"}, Usage: "keep what restores to any moment of the last D days need (default: jobs.recovery-window-days)"},
			&cli.DurationFlag{Name: "orphan-grace", EnvVars: []string{"LOGSHIP_ORPHAN_GRACE"}, Usage: "age at which objects of unrecorded backups go (default: jobs.orphan-grace, else 24h)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing"},
			jsonFlag,
		},
		Action: runPurge,
	}
}

// purgeOutput is purge's JSON: the plan, and what was deleted.
type purgeOutput struct {
	*catalog.PurgePlan
	DryRun bool                 `json:"dry_run"`
	Result *catalog.PurgeResult `json:"result,omitempty"`
}

func runPurge(c *cli.Context) error {
	rt, jc, err := setupJobs(c)
	if err != nil {
		return err
	}
	if c.IsSet("keep-backups") || c.IsSet("recovery-window-days") {
		jc.KeepBackups, jc.RecoveryWindowDays = c.Int("keep-backups"), c.Float64("recovery-window-days")
		if err := jc.validate(); err != nil {
			return usageErr(err)
		}
	}
	pol := jc.policy()
	if c.IsSet("orphan-grace") {
		pol.OrphanGrace = c.Duration("orphan-grace")
	}
	if err := pol.Validate(); err != nil {
		return usageErr(fmt.Errorf("%w (flags, or jobs: in the config file)", err))
	}
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return err
	}
	plan, err := cat.PlanPurge(c.Context, pol, time.Now())
	if errors.Is(err, catalog.ErrNoPolicy) {
		return usageErr(err)
	}
	if err != nil {
		return err
	}
	out := purgeOutput{PurgePlan: plan, DryRun: c.Bool("dry-run")}
	if !out.DryRun && !plan.Empty() {
		res, err := cat.Purge(c.Context, plan)
		if err != nil {
			return fmt.Errorf("purge stopped after deleting %s (the store stays consistent; run purge again to finish): %w", plural.N(res.Objects, "object"), err)
		}
		out.Result = &res
		rt.log.Info("purge done", "backups_deleted", res.Deleted.Backups, "marks_deleted", res.Deleted.Marks,
			"wal_files_deleted", res.Deleted.WALFiles, "wal_pieces_deleted", res.Deleted.WALPieces, "orphans_deleted", res.Deleted.Orphans, "stored_bytes_deleted", res.Deleted.StoredBytes)
		for _, r := range res.Retained {
			rt.log.Info("versions kept by Object Lock", "key", r.Key, "until", r.Until.UTC().Format(time.RFC3339))
		}
	}
	if c.Bool("json") {
		return printJSON(rt.stdout, out)
	}
	printPlan(rt.stdout, out)
	return nil
}

func printPlan(w io.Writer, out purgeOutput) {
	p := out.PurgePlan
	var rules []string
	switch k := p.Policy.KeepBackups; {
	case k == 1:
		rules = append(rules, "keep the newest backup")
	case k > 1:
		rules = append(rules, fmt.Sprintf("keep the %d newest backups", k))
	}
	if p.Policy.RecoveryWindowDays > 0 {
		rules = append(rules, fmt.Sprintf("a %g-day recovery window", p.Policy.RecoveryWindowDays))
	}
	fmt.Fprintf(w, "purge plan for source %s (%s)", p.Source, joinOr(rules))
	if p.CutoffLSN != "" {
		fmt.Fprintf(w, ": WAL before %s (%s) goes", p.CutoffLSN, p.CutoffWAL)
	}
	fmt.Fprintln(w)
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(p.Backups) > 0 {
		fmt.Fprintln(tw, "\nBACKUP\tACTION\tSTORED\tWHY")
		for _, b := range p.Backups {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", b.ID, b.Action, humanBytes(b.StoredSize), b.Reason)
		}
	}
	if len(p.Marks) > 0 {
		fmt.Fprintln(tw, "\nMARK\tACTION\tLSN\tWHY")
		for _, m := range p.Marks {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Action, m.LSN, m.Reason)
		}
	}
	if len(p.WAL) > 0 {
		fmt.Fprintln(tw, "\nWAL\tACTION\tFILES\tSTORED\tWHY")
		for _, r := range p.WAL {
			span := r.First
			if r.Last != r.First {
				span += " - " + r.Last
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", span, r.Action, r.Files, humanBytes(r.StoredBytes), r.Reason)
		}
	}
	if len(p.Pieces) > 0 {
		fmt.Fprintln(tw, "\nSTREAMED SEGMENT\tACTION\tPIECES\tTAIL\tSTORED\tWHY")
		for _, pp := range p.Pieces {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d bytes\t%s\t%s\n", pp.Segment, pp.Action, pp.Pieces, pp.TailEnd, humanBytes(pp.StoredBytes), pp.Reason)
		}
	}
	if len(p.Orphans) > 0 {
		fmt.Fprintln(tw, "\nOBJECT WITHOUT RECORD\tACTION\tSTORED\tWHY")
		for _, o := range p.Orphans {
			fmt.Fprintf(tw, "%s\tdelete\t%s\t%s\n", o.Key, humanBytes(o.Size), o.Reason)
		}
	}
	tw.Flush()
	d, k := p.Delete, p.Keep
	kept := fmt.Sprintf("kept %s, %s, %s (%s)", plural.N(k.Backups, "backup"), plural.N(k.Marks, "mark"), plural.N(k.WALFiles, "WAL file"), humanBytes(k.StoredBytes))
	if p.Empty() {
		fmt.Fprintf(w, "\nnothing to delete; %s\n", kept)
		return
	}
	verb := "deleted"
	if out.DryRun {
		verb = "would delete"
	}
	wal := plural.N(d.WALFiles, "WAL file")
	if d.WALPieces > 0 {
		wal += ", " + plural.N(d.WALPieces, "streamed WAL piece")
	}
	fmt.Fprintf(w, "\n%s %s, %s, %s, %s (%s); %s\n", verb, plural.N(d.Backups, "backup"), plural.N(d.Marks, "mark"),
		wal, plural.N(d.Orphans, "orphan object"), humanBytes(d.StoredBytes), kept)
	if out.Result != nil && len(out.Result.Retained) > 0 {
		// The keys are gone, but not their storage: say until when.
		fmt.Fprintf(w, "Object Lock keeps versions of %s (a lifecycle rule expiring noncurrent versions frees them after these dates):\n", plural.N(len(out.Result.Retained), "deleted object"))
		for _, r := range out.Result.Retained {
			fmt.Fprintf(w, "  %s  until %s\n", r.Key, r.Until.UTC().Format(time.RFC3339))
		}
	}
}

func joinOr(rules []string) string {
	switch len(rules) {
	case 0:
		return "no rule"
	case 1:
		return rules[0]
	}
	return rules[0] + " or " + rules[1]
}
