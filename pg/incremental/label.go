package incremental

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/logship/logship/pg"
)

const (
	labelFromLSN = "INCREMENTAL FROM LSN: "
	labelFromTLI = "INCREMENTAL FROM TLI: "
)

// Label is what a backup_label says about a backup's place in a chain.
type Label struct {
	StartLSN      pg.LSN        // START WAL LOCATION
	StartTimeline pg.TimelineID // START TIMELINE
	// FromLSN and FromTimeline are the start of the backup this one is
	// incremental to (INCREMENTAL FROM LSN/TLI); zero for a full backup.
	FromLSN      pg.LSN
	FromTimeline pg.TimelineID
}

// Incremental tells whether the label is an incremental backup's.
func (l Label) Incremental() bool { return l.FromTimeline != 0 }

// ParseLabel reads the lines of a backup_label that chain backups, as
// pg_combinebackup's parse_backup_label does; the others are ignored.
func ParseLabel(b []byte) (Label, error) {
	var l Label
	var haveLSN, haveTLI bool
	for _, line := range strings.Split(string(b), "\n") {
		var err error
		switch {
		case strings.HasPrefix(line, "START WAL LOCATION: "):
			// "START WAL LOCATION: 0/C00028 (file 00000001000000000000000C)"
			f := strings.Fields(strings.TrimPrefix(line, "START WAL LOCATION: "))
			if len(f) < 2 {
				return l, fmt.Errorf("backup_label: START WAL LOCATION %q", line)
			}
			l.StartLSN, err = pg.ParseLSN(f[0])
		case strings.HasPrefix(line, "START TIMELINE: "):
			l.StartTimeline, err = parseTLI(strings.TrimPrefix(line, "START TIMELINE: "))
		case strings.HasPrefix(line, labelFromLSN):
			l.FromLSN, err = pg.ParseLSN(strings.TrimPrefix(line, labelFromLSN))
			haveLSN = true
		case strings.HasPrefix(line, labelFromTLI):
			l.FromTimeline, err = parseTLI(strings.TrimPrefix(line, labelFromTLI))
			haveTLI = true
		}
		if err != nil {
			return l, fmt.Errorf("backup_label: %q: %w", line, err)
		}
	}
	switch {
	case l.StartTimeline == 0 || l.StartLSN == 0:
		return l, fmt.Errorf("backup_label: no START WAL LOCATION or START TIMELINE")
	case haveLSN != haveTLI:
		return l, fmt.Errorf("backup_label: INCREMENTAL FROM LSN and INCREMENTAL FROM TLI must come together")
	}
	return l, nil
}

func parseTLI(s string) (pg.TimelineID, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err == nil && n == 0 {
		err = fmt.Errorf("timeline 0")
	}
	return pg.TimelineID(n), err
}

// CheckChain checks that labels, oldest first, form a chain
// pg_combinebackup would accept: a full backup, then incrementals each
// taken from the one before (its INCREMENTAL FROM is the previous START).
func CheckChain(labels []Label) error {
	for i, l := range labels {
		switch {
		case i == 0 && l.Incremental():
			return fmt.Errorf("backup chain: the first backup (start %s) is incremental, want a full one", l.StartLSN)
		case i > 0 && !l.Incremental():
			return fmt.Errorf("backup chain: backup %d (start %s) is a full backup, want an incremental", i+1, l.StartLSN)
		case i > 0 && (l.FromLSN != labels[i-1].StartLSN || l.FromTimeline != labels[i-1].StartTimeline):
			return fmt.Errorf("backup chain: backup %d is incremental from %s on timeline %d, but the previous one starts at %s on timeline %d",
				i+1, l.FromLSN, l.FromTimeline, labels[i-1].StartLSN, labels[i-1].StartTimeline)
		}
	}
	return nil
}

// StripLabel returns the backup_label of a rebuilt backup: the newest
// backup's without its INCREMENTAL FROM LSN and INCREMENTAL FROM TLI lines,
// as pg_combinebackup writes it. PostgreSQL refuses to start from a
// backup_label that still has them ("this is an incremental backup, not a
// data directory").
func StripLabel(b []byte) []byte {
	var out bytes.Buffer
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line = b[:i+1]
		}
		b = b[len(line):]
		if !bytes.HasPrefix(line, []byte(labelFromLSN)) && !bytes.HasPrefix(line, []byte(labelFromTLI)) {
			out.Write(line)
		}
	}
	return out.Bytes()
}
