package pg

import (
	"bytes"
	"fmt"
)

// MaxHistorySize bounds a timeline history file: one short line per
// timeline, so this allows hundreds of thousands of timelines.
const MaxHistorySize = 16 << 20

// CheckHistoryFile checks b as the history file of timeline tli, before it
// is archived for good: text that ParseHistory accepts, naming at least
// one parent timeline, all of them below tli. PostgreSQL writes one for
// every timeline but the first.
func CheckHistoryFile(tli TimelineID, b []byte) ([]HistoryEntry, error) {
	switch {
	case tli < 2:
		return nil, fmt.Errorf("%w: timeline %d has no parent, so no history file", ErrInvalidHistory, tli)
	case len(b) > MaxHistorySize:
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidHistory, len(b), MaxHistorySize)
	case bytes.IndexByte(b, 0) >= 0:
		return nil, fmt.Errorf("%w: not text (holds a NUL byte)", ErrInvalidHistory)
	}
	h, err := ParseHistory(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("%w: names no parent timeline", ErrInvalidHistory)
	}
	if last := h[len(h)-1].Timeline; last >= tli {
		return nil, fmt.Errorf("%w: the history of timeline %d names timeline %d as a parent", ErrInvalidHistory, tli, last)
	}
	return h, nil
}
