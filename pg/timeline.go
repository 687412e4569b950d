package pg

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrInvalidHistory marks a timeline history file PostgreSQL would reject.
var ErrInvalidHistory = errors.New("invalid timeline history")

// HistoryEntry is one line of a timeline history file: timeline Timeline (a
// parent of the file's timeline) ended at SwitchPoint, for Reason.
type HistoryEntry struct {
	Timeline    TimelineID
	SwitchPoint LSN
	Reason      string
}

// ParseHistory reads a timeline history file (<TLI>.history): lines of
// "parentTLI<TAB>switchpoint<TAB>reason", '#' comments and blank lines, as
// timeline.c writes and reads them. The parent TLI is decimal. Timelines
// must increase and switch points must not go backwards.
func ParseHistory(r io.Reader) ([]HistoryEntry, error) {
	var entries []HistoryEntry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t\r\v\f")
		if line == "" || line[0] == '#' {
			continue
		}
		e, err := parseHistoryLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidHistory, n, err)
		}
		if k := len(entries); k > 0 {
			prev := entries[k-1]
			if e.Timeline <= prev.Timeline {
				return nil, fmt.Errorf("%w: line %d: timeline %d after %d; timelines must increase", ErrInvalidHistory, n, e.Timeline, prev.Timeline)
			}
			if e.SwitchPoint < prev.SwitchPoint {
				return nil, fmt.Errorf("%w: line %d: switch point %s before the previous %s", ErrInvalidHistory, n, e.SwitchPoint, prev.SwitchPoint)
			}
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read timeline history: %w", err)
	}
	return entries, nil
}

func parseHistoryLine(line string) (HistoryEntry, error) {
	tliText, rest, _ := strings.Cut(line, "\t")
	tli, err := strconv.ParseUint(strings.TrimSpace(tliText), 10, 32)
	if err != nil || tli == 0 {
		return HistoryEntry{}, fmt.Errorf("%q: want a timeline ID (decimal, from 1) first", line)
	}
	lsnText, reason, _ := strings.Cut(strings.TrimLeft(rest, " \t"), "\t")
	lsn, err := ParseLSN(strings.TrimSpace(lsnText))
	if err != nil {
		return HistoryEntry{}, fmt.Errorf("%q: want a switch point after the timeline: %w", line, err)
	}
	if lsn == 0 {
		return HistoryEntry{}, fmt.Errorf("%q: switch point 0/0 is no WAL position", line)
	}
	return HistoryEntry{Timeline: TimelineID(tli), SwitchPoint: lsn, Reason: strings.TrimSpace(reason)}, nil
}

// TimelineRange says that Timeline owns the WAL from Begin up to, not
// including, End. End 0 means the range is open: the target timeline itself.
type TimelineRange struct {
	Timeline TimelineID
	Begin    LSN
	End      LSN
}

// TimelinePath lists which timeline owns which stretch of WAL on the way to
// target, oldest first, given target's history (as ParseHistory returns it).
func TimelinePath(history []HistoryEntry, target TimelineID) []TimelineRange {
	path := make([]TimelineRange, 0, len(history)+1)
	var begin LSN
	for _, e := range history {
		path = append(path, TimelineRange{Timeline: e.Timeline, Begin: begin, End: e.SwitchPoint})
		begin = e.SwitchPoint
	}
	return append(path, TimelineRange{Timeline: target, Begin: begin})
}

// TimelineOf is the timeline whose WAL holds lsn on the way to target, as
// PostgreSQL's tliOfPointInHistory decides it: a switch point already
// belongs to the child timeline.
func TimelineOf(history []HistoryEntry, target TimelineID, lsn LSN) TimelineID {
	for _, r := range TimelinePath(history, target) {
		if lsn >= r.Begin && (r.End == 0 || lsn < r.End) {
			return r.Timeline
		}
	}
	return target
}
