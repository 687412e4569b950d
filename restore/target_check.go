package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/logship/logship/pg"
)

// ErrTargetMissed means recovery stopped somewhere other than its target:
// the restored data would silently lack (or have extra) commits.
var ErrTargetMissed = errors.New("recovery stopped away from its target")

// walBlockSize is PostgreSQL's default WAL page size. A record ending
// exactly at a page boundary is followed by a record that starts after the
// next page's header.
const walBlockSize = 8192

// Page header sizes: SizeOfXLogShortPHD, and SizeOfXLogLongPHD on the first
// page of a segment.
const (
	walShortHeader = 24
	walLongHeader  = 40
)

// recoveryGoal is the target the restored settings name, as the check needs
// it.
type recoveryGoal struct {
	lsn       pg.LSN // recovery_target_lsn; 0 is unset
	time      time.Time
	inclusive bool // recovery_target_inclusive, on unless set off
}

func (g recoveryGoal) set() bool { return g.lsn != 0 || !g.time.IsZero() }

// recoveryStop is what the started server tells of where it stopped.
type recoveryStop struct {
	state    string // as Reached.State
	stopLine string // the "recovery stopping ..." log line, "" if none
	// replayEnd is the end of the last replayed record: the replay LSN
	// while paused, the new timeline's switch point once promoted; 0 when
	// not known (shut down).
	replayEnd pg.LSN
	// lastCommit is the time of the last replayed commit or abort, zero
	// when none was replayed or it is not known.
	lastCommit time.Time
}

// goalOf reads the target from the restored settings: the LSN and time
// targets logship writes are the ones it checks; a name, an xid or
// immediate is not checked here.
func goalOf(settings map[string]string) (recoveryGoal, error) {
	g := recoveryGoal{inclusive: true}
	switch strings.ToLower(settings["recovery_target_inclusive"]) {
	case "off", "false", "no", "0":
		g.inclusive = false
	}
	if v := settings["recovery_target_lsn"]; v != "" {
		lsn, err := pg.ParseLSN(v)
		if err != nil {
			return g, fmt.Errorf("recovery_target_lsn %q: %w", v, err)
		}
		g.lsn = lsn
	}
	if v := settings["recovery_target_time"]; v != "" {
		t, err := parsePGTime(v)
		if err != nil {
			return g, fmt.Errorf("recovery_target_time %q: %w", v, err)
		}
		g.time = t
	}
	return g, nil
}

// checkTarget compares where recovery stopped with where it was asked to.
// For an LSN target with inclusive off (a mark: its LSN is the end of its
// restore point record) the last replayed record must end exactly there;
// inclusive on, the server must have stopped after a record starting at or
// beyond it. For a time, it must have stopped before the first commit after
// the time (so nothing before it was left out), and the last replayed
// commit must not be later than the time.
func checkTarget(g recoveryGoal, s recoveryStop) error {
	switch {
	case g.lsn != 0:
		return checkLSNTarget(g, s)
	case !g.time.IsZero():
		return checkTimeTarget(g, s)
	}
	return nil
}

var lsnStopRE = regexp.MustCompile(`recovery stopping (before|after) WAL location \(LSN\) "([0-9A-Fa-f]+/[0-9A-Fa-f]+)"`)

func checkLSNTarget(g recoveryGoal, s recoveryStop) error {
	m := lsnStopRE.FindStringSubmatch(s.stopLine)
	if m == nil {
		return fmt.Errorf("%w: the server (%s) logged no stop at WAL location %s", ErrTargetMissed, s.state, g.lsn)
	}
	at, err := pg.ParseLSN(m[2])
	if err != nil {
		return fmt.Errorf("%w: %v in %q", ErrTargetMissed, err, s.stopLine)
	}
	if !g.inclusive {
		if m[1] != "before" || !recordAfter(g.lsn, at) {
			return fmt.Errorf("%w: asked to stop at %s, the server stopped %s a record at %s", ErrTargetMissed, g.lsn, m[1], at)
		}
		if s.replayEnd != 0 && s.replayEnd != g.lsn {
			return fmt.Errorf("%w: asked to stop at %s, replay ended at %s", ErrTargetMissed, g.lsn, s.replayEnd)
		}
		return nil
	}
	if m[1] != "after" || at < g.lsn {
		return fmt.Errorf("%w: asked to stop after %s, the server stopped %s a record at %s", ErrTargetMissed, g.lsn, m[1], at)
	}
	if s.replayEnd != 0 && s.replayEnd <= at {
		return fmt.Errorf("%w: asked to stop after %s, replay ended at %s, not after the record at %s", ErrTargetMissed, g.lsn, s.replayEnd, at)
	}
	return nil
}

// recordAfter says whether next can be where the record following one that
// ends at end starts: right there, or past the page header when end is a
// page boundary.
func recordAfter(end, next pg.LSN) bool {
	switch {
	case next == end:
		return true
	case uint64(end)%walBlockSize != 0:
		return false
	}
	return next == end+walShortHeader || next == end+walLongHeader
}

var timeStopRE = regexp.MustCompile(`recovery stopping before (?:commit|abort) of transaction \d+, time (.+?)\s*$`)

func checkTimeTarget(g recoveryGoal, s recoveryStop) error {
	m := timeStopRE.FindStringSubmatch(s.stopLine)
	if m == nil {
		return fmt.Errorf("%w: the server (%s) logged no stop before a commit after %s", ErrTargetMissed, s.state, FormatRecoveryTime(g.time))
	}
	at, err := parsePGTime(m[1])
	if err != nil {
		return fmt.Errorf("%w: %v in %q", ErrTargetMissed, err, s.stopLine)
	}
	// Inclusive, a commit at exactly the time is replayed; otherwise not.
	if at.Before(g.time) || (at.Equal(g.time) && g.inclusive) {
		return fmt.Errorf("%w: asked for %s, the server stopped before a commit at %s", ErrTargetMissed, FormatRecoveryTime(g.time), FormatRecoveryTime(at))
	}
	if lc := s.lastCommit; !lc.IsZero() && (lc.After(g.time) || (lc.Equal(g.time) && !g.inclusive)) {
		return fmt.Errorf("%w: asked for %s, the last replayed commit is from %s", ErrTargetMissed, FormatRecoveryTime(g.time), FormatRecoveryTime(lc))
	}
	return nil
}

var pgTimeLayouts = []string{
	"2006-01-02 15:04:05.999999-07",
	"2006-01-02 15:04:05.999999-07:00",
	"2006-01-02 15:04:05.999999-07:00:00",
	time.RFC3339Nano,
}

// parsePGTime reads a timestamptz as PostgreSQL prints it in its log and as
// FormatRecoveryTime writes it.
func parsePGTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range pgTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unreadable time %q", s)
}

// switchPoint reads where the server left timeline tli's parent: the last
// line of the new timeline's history file, which PostgreSQL writes at the
// end of recovery with the end of the last replayed record.
func switchPoint(dataDir string, tli uint32) (pg.LSN, error) {
	f, err := os.Open(filepath.Join(dataDir, "pg_wal", fmt.Sprintf("%08X.history", tli)))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	entries, err := pg.ParseHistory(f)
	if err != nil {
		return 0, err
	}
	if len(entries) == 0 {
		return 0, fmt.Errorf("history of timeline %d is empty", tli)
	}
	return entries[len(entries)-1].SwitchPoint, nil
}

// checkReached checks a targeted recovery where Start reports Reached:
// the server paused at, promoted at or shut down at its target. When the
// stop is not the target, it stops the server and fails: the data would
// lack commits, or have some too many, with nothing else to tell.
func (w *startWait) checkReached(st serverState) error {
	if !w.conf.goal.set() {
		return nil
	}
	r := w.r
	s := recoveryStop{state: r.State, stopLine: r.StopLine, lastCommit: st.lastCommit}
	var err error
	switch r.State {
	case "paused":
		s.replayEnd, err = pg.ParseLSN(st.lsn)
	case "promoted":
		s.replayEnd, err = switchPoint(w.srv.DataDir, st.timeline)
	}
	if err == nil {
		err = checkTarget(w.conf.goal, s)
	} else {
		err = fmt.Errorf("%w: where replay ended is not known: %v", ErrTargetMissed, err)
	}
	if err == nil {
		return nil
	}
	stopErr := w.srv.Stop(context.WithoutCancel(w.ctx), "fast")
	if stopErr != nil {
		return fmt.Errorf("%w: %w; stopping the server (pid %d) on %s failed too: %v; see %s", ErrRecoveryFailed, err, r.PID, w.srv.DataDir, stopErr, r.LogFile)
	}
	return fmt.Errorf("%w: %w; the server on %s was stopped: do not use this directory (log: %s)", ErrRecoveryFailed, err, w.srv.DataDir, r.LogFile)
}
