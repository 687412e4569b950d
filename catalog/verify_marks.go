package catalog

import (
	"errors"
	"fmt"
	"time"

	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/pg"
)

// checkStray warns about the keys the catalog's listings skipped because
// they are not records: nothing reads them, but someone put them there.
func (v *verifier) checkStray() {
	for _, k := range v.cat.StrayKeys() {
		v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeStrayKey, Object: k,
			Message: fmt.Sprintf("%s is not a catalog record; it was ignored", k),
			Fix:     "delete it: only logship should write under catalog/"})
	}
}

// checkMarks checks that each mark can be restored.
func (v *verifier) checkMarks(ch *Chain) {
	v.rep.Marks = len(ch.Marks)
	dup := map[string]int{}
	for _, m := range ch.Marks {
		dup[m.Name]++
	}
	for _, m := range ch.Marks {
		mc := v.check(CheckMark, m.Name)
		if n := dup[m.Name]; n > 1 {
			v.add(mc, Problem{Severity: SevError, Code: CodeDuplicateMark, Object: m.Name,
				Message: fmt.Sprintf("mark %s has %d records (one at LSN %s on timeline %d): a restore to it may stop at another point than the one meant", m.Name, n, m.LSN, m.Timeline),
				Fix:     fmt.Sprintf("delete the records of %s under %s that are not the mark you meant (logship catalog list shows them)", m.Name, v.cat.markPrefix())})
		}
		at := fmt.Sprintf("LSN %s on timeline %d, %s", m.LSN, m.Timeline, m.Time.Format(time.RFC3339))
		r, err := ch.ReachMark(m, v.usable)
		if err == nil {
			v.rep.Reachable++
			mc.Summary = fmt.Sprintf("%s: restorable from backup %s, %s", at, r.ID, plural.N(r.Segments(), "segment"))
			if cands, _ := ch.Candidates(pg.TimelineID(m.Timeline), m.LSN); len(cands) > 0 && cands[0].ID != r.ID {
				mc.Summary += fmt.Sprintf(" (the newer backup %s is not restorable)", cands[0].ID)
			}
			continue
		}
		if !errors.Is(err, ErrUnreachable) {
			v.historyProblem(mc, pg.TimelineID(m.Timeline), err)
		}
		why := "no backup ends before it on its timeline's path"
		fix := "the mark is older than every backup on its timeline and can never be restored; purge may drop it"
		switch {
		case !errors.Is(err, ErrUnreachable):
			why = "its timeline's history is unknown"
			fix = "restore the history file (see the problem above)"
		case len(r.Missing) > 0:
			why = fmt.Sprintf("from backup %s, WAL %s is missing", r.ID, r.Missing[0])
			fix = "push the missing WAL with logship wal-push if any copy exists; otherwise this mark is lost"
		case r.ID != "":
			why = fmt.Sprintf("backup %s (and every older one) is not restorable", r.ID)
			fix = "see the backup's problems; if none can be repaired, this mark is lost"
		}
		v.add(mc, Problem{Severity: SevError, Code: CodeMarkUnreachable, Object: m.Name,
			Message: fmt.Sprintf("mark %s (%s) cannot be restored: %s", m.Name, at, why), Fix: fix})
		mc.Summary = at + ": NOT RESTORABLE"
	}
}
