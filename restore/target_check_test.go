package restore

import (
	"errors"
	"testing"
	"time"

	"github.com/logship/logship/pg"
)

// F2: a mark restores to exactly its LSN, and any other stop fails. The
// LSN is the end of the restore point record; recovery stops before the
// record that follows (inclusive off).
func TestF2_TargetCheckMarkLSNExactly(t *testing.T) {
	mark := recoveryGoal{lsn: 0x3000100}
	page := recoveryGoal{lsn: 0x3002000} // the record ended at a page boundary
	seg := recoveryGoal{lsn: 0x4000000}  // ... at a segment boundary
	before := func(lsn string) string { return `LOG:  recovery stopping before WAL location (LSN) "` + lsn + `"` }
	tests := []struct {
		name string
		goal recoveryGoal
		stop recoveryStop
		ok   bool
	}{
		{"paused exactly at the mark", mark, recoveryStop{state: "paused", stopLine: before("0/3000100"), replayEnd: 0x3000100}, true},
		{"promoted exactly at the mark", mark, recoveryStop{state: "promoted", stopLine: before("0/3000100"), replayEnd: 0x3000100}, true},
		{"shut down: only the log line", mark, recoveryStop{state: "shut down", stopLine: before("0/3000100")}, true},
		{"next record after a page header", page, recoveryStop{state: "shut down", stopLine: before("0/3002018")}, true},
		{"next record after a long page header", seg, recoveryStop{state: "shut down", stopLine: before("0/4000028")}, true},
		{"an earlier restore point of the same name", mark, recoveryStop{state: "promoted", stopLine: `LOG:  recovery stopping at restore point "m1", time 2026-12-01 17:00:00.1+00`, replayEnd: 0x3000080}, false},
		{"replay ended short", mark, recoveryStop{state: "paused", stopLine: before("0/3000100"), replayEnd: 0x30000C0}, false},
		{"replay went one record further", mark, recoveryStop{state: "promoted", stopLine: before("0/3000100"), replayEnd: 0x3000140}, false},
		{"stopped after, not before", mark, recoveryStop{state: "paused", stopLine: `recovery stopping after WAL location (LSN) "0/3000100"`, replayEnd: 0x3000140}, false},
		{"stopped before a later record", mark, recoveryStop{state: "shut down", stopLine: before("0/3000140")}, false},
		{"no stop line", mark, recoveryStop{state: "promoted", replayEnd: 0x3000100}, false},
		{"page header only at a page boundary", mark, recoveryStop{state: "shut down", stopLine: before("0/3000118")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkTarget(tt.goal, tt.stop)
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrTargetMissed)) {
				t.Errorf("checkTarget = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

// F2, --lsn: inclusive (the default), recovery must stop after a record
// starting at or past the LSN, and replay must end past that record.
func TestF2_TargetCheckLSNInclusive(t *testing.T) {
	g := recoveryGoal{lsn: 0x3000148, inclusive: true}
	after := `LOG:  recovery stopping after WAL location (LSN) "0/3000150"`
	if err := checkTarget(g, recoveryStop{state: "promoted", stopLine: after, replayEnd: 0x3000190}); err != nil {
		t.Errorf("a stop after the first record at the LSN failed: %v", err)
	}
	for name, s := range map[string]recoveryStop{
		"stop before the LSN": {state: "paused", stopLine: `recovery stopping after WAL location (LSN) "0/3000100"`, replayEnd: 0x3000148},
		"replay short of it":  {state: "paused", stopLine: after, replayEnd: 0x3000150},
		"no stop at all":      {state: "promoted", replayEnd: 0x3000190},
	} {
		if err := checkTarget(g, s); !errors.Is(err, ErrTargetMissed) {
			t.Errorf("%s: checkTarget = %v, want ErrTargetMissed", name, err)
		}
	}
}

// F2, --time: recovery stops before the first commit after the time, and
// the last replayed commit is not after it.
func TestF2_TargetCheckTime(t *testing.T) {
	target := time.Date(2026, 12, 1, 17, 0, 0, 500000000, time.UTC)
	g := recoveryGoal{time: target, inclusive: true}
	line := func(ts string) string {
		return "LOG:  recovery stopping before commit of transaction 745, time " + ts
	}
	ok := recoveryStop{state: "paused", stopLine: line("2026-12-01 17:00:01.2+00"), lastCommit: target.Add(-time.Second)}
	if err := checkTarget(g, ok); err != nil {
		t.Errorf("a stop at the first later commit failed: %v", err)
	}
	if err := checkTarget(g, recoveryStop{state: "shut down", stopLine: line("2026-12-01 18:00:01.2+01")}); err != nil {
		t.Errorf("a stop written in another zone failed: %v", err)
	}
	for name, s := range map[string]recoveryStop{
		"stopped before an earlier commit": {state: "paused", stopLine: line("2026-12-01 16:59:59+00")},
		"stopped at the time, inclusive":   {state: "paused", stopLine: line("2026-12-01 17:00:00.5+00")},
		"a later commit replayed":          {state: "paused", stopLine: line("2026-12-01 17:00:01+00"), lastCommit: target.Add(time.Millisecond)},
		"no stop line: WAL ran out":        {state: "promoted"},
	} {
		if err := checkTarget(g, s); !errors.Is(err, ErrTargetMissed) {
			t.Errorf("%s: checkTarget = %v, want ErrTargetMissed", name, err)
		}
	}
}

// The settings logship writes are read back as the goal to check.
func TestF2_GoalOfSettings(t *testing.T) {
	g, err := goalOf(map[string]string{"recovery_target_lsn": "0/3000100", "recovery_target_inclusive": "off"})
	if err != nil || g.lsn != pg.LSN(0x3000100) || g.inclusive {
		t.Errorf("goalOf mark settings = %+v, %v", g, err)
	}
	tm := time.Date(2026, 12, 1, 17, 0, 0, 123456000, time.UTC)
	g, err = goalOf(map[string]string{"recovery_target_time": FormatRecoveryTime(tm), "recovery_target_inclusive": "on"})
	if err != nil || !g.time.Equal(tm) || !g.inclusive {
		t.Errorf("goalOf time settings = %+v, %v", g, err)
	}
	if g, _ := goalOf(map[string]string{"recovery_target_name": "m1"}); g.set() {
		t.Errorf("a name target is not checked here: %+v", g)
	}
}
