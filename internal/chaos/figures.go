package chaos

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
)

// Figures is what a campaign counts. Every field below Faults but the
// acknowledgements is a failure when non-zero.
type Figures struct {
	Faults map[string]int // landed faults by kind
	Missed map[string]int // kills that came after the process had exited

	AckSegments int // segments wal-push acknowledged (exit 0), kept byte-exact
	AckMarks    int // marks acknowledged, with their data recorded
	AckBackups  int // backups acknowledged
	Restores    int // restores to a mark checked against recorded data
	SegChecks   int // byte-exact fetches of acknowledged segments

	Lost          int // acknowledged segments or marks gone or unreadable
	CorruptToPG   int // wal-fetch exit 0 with bytes other than the acknowledged ones
	CorruptBytes  int64
	FalseAbsent   int // wal-fetch exit 1 for a segment that is in the store
	WeakFetchExit int // wal-fetch of a damaged object exiting 1..125 (PostgreSQL would go on)
	SilentShort   int // restore exit 0 with data other than recorded at the mark
	RestoreFailed int // restore to a live acknowledged mark failed
	StoreBroken   int // verify exit 1 after a fault
	Interrupted   int // verify exit 1 naming only a mark whose command was killed (not a failure)
	Conflicts     int // create-only broken: two different contents acknowledged
	Torn          int // a killed or failed push left an unreadable object
	RetryFailed   int // the retry of an interrupted push failed
	Panics        int
	Hangs         int
}

func newFigures() Figures {
	return Figures{Faults: map[string]int{}, Missed: map[string]int{}}
}

// TotalFaults is the number of faults that landed.
func (f *Figures) TotalFaults() int {
	n := 0
	for _, v := range f.Faults {
		n += v
	}
	return n
}

// Bad is the number of failures of every kind.
func (f *Figures) Bad() int {
	return f.Lost + f.CorruptToPG + f.FalseAbsent + f.WeakFetchExit + f.SilentShort +
		f.RestoreFailed + f.StoreBroken + f.Conflicts + f.Torn + f.RetryFailed + f.Panics + f.Hangs
}

// Print writes the figures table.
func (f *Figures) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "fault kind\tlanded\tmissed (exited first)\t")
	var kinds []string
	for k := range f.Faults {
		kinds = append(kinds, k)
	}
	for k := range f.Missed {
		if _, ok := f.Faults[k]; !ok {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", k, f.Faults[k], f.Missed[k])
	}
	fmt.Fprintf(tw, "total\t%d\t\t\n", f.TotalFaults())
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	rows := []struct {
		name string
		n    any
	}{
		{"acknowledged segments", f.AckSegments},
		{"acknowledged marks", f.AckMarks},
		{"acknowledged backups", f.AckBackups},
		{"byte-exact segment checks", f.SegChecks},
		{"restores to a mark checked", f.Restores},
		{"lost (acknowledged, then gone or unreadable)", f.Lost},
		{"corrupt files handed to PostgreSQL (wal-fetch exit 0)", f.CorruptToPG},
		{"corrupt bytes handed to PostgreSQL", f.CorruptBytes},
		{"present segment reported absent (exit 1)", f.FalseAbsent},
		{"damaged object not refused (exit 0 exact, or 1..125)", f.WeakFetchExit},
		{"silent short restores", f.SilentShort},
		{"failed restores to a live mark", f.RestoreFailed},
		{"verify failures after a fault", f.StoreBroken},
		{"verify naming only the killed mark (not a failure)", f.Interrupted},
		{"create-only conflicts acknowledged twice", f.Conflicts},
		{"unreadable objects left by an interrupted push", f.Torn},
		{"retries of an interrupted push that failed", f.RetryFailed},
		{"panics", f.Panics},
		{"hangs", f.Hangs},
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%v\t\n", r.name, r.n)
	}
	tw.Flush()
}
