package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// SwitchPoint is one line of a timeline history file without its reason:
// the parent timeline and the LSN where the child branched off.
type SwitchPoint struct {
	Timeline    uint32 `json:"timeline"`
	SwitchPoint pg.LSN `json:"switch_lsn"`
}

// switchPoints is the clear record of an encrypted history file. The
// chain (catalog list, status, shallow verify) needs the timeline switch
// points, which are no database bytes, and must not need an identity to
// find them; the reasons (which may name a recovery target) stay sealed.
type switchPoints struct {
	Timeline uint32        `json:"timeline"`
	History  []SwitchPoint `json:"history"`
}

// maxSwitchPoints bounds the record read back (a history file is at most
// pg.MaxHistorySize; its switch points take less).
const maxSwitchPoints = pg.MaxHistorySize

func (c *Catalog) switchPointsKey(tli pg.TimelineID) string {
	return c.key(fmt.Sprintf("catalog/switchpoints/%08X.json", uint32(tli)))
}

// RecordSwitchPoints stores, create-only, the switch points of timeline
// tli's history file h. wal-push calls it for an encrypted history file
// before the file's WAL record, so every recorded encrypted history has
// them. A retry of the same file finds the same record; a different one
// is a conflict.
func (c *Catalog) RecordSwitchPoints(ctx context.Context, tli pg.TimelineID, h []pg.HistoryEntry) error {
	rec := switchPoints{Timeline: uint32(tli)}
	for _, e := range h {
		rec.History = append(rec.History, SwitchPoint{Timeline: uint32(e.Timeline), SwitchPoint: e.SwitchPoint})
	}
	err := c.putJSON(ctx, c.switchPointsKey(tli), rec)
	if !errors.Is(err, store.ErrExist) {
		return err
	}
	got, err := c.readSwitchPoints(ctx, tli)
	if err != nil {
		return err
	}
	if !slices.Equal(got.History, rec.History) {
		return fmt.Errorf("%w: %s holds other switch points than this history file", ErrRecordMismatch, c.switchPointsKey(tli))
	}
	return nil
}

func (c *Catalog) readSwitchPoints(ctx context.Context, tli pg.TimelineID) (switchPoints, error) {
	var rec switchPoints
	if err := c.getJSON(ctx, c.switchPointsKey(tli), &rec, maxSwitchPoints); err != nil {
		return rec, err
	}
	if rec.Timeline != uint32(tli) || len(rec.History) == 0 {
		return rec, fmt.Errorf("%w: %s does not describe timeline %d", ErrRecordMismatch, c.switchPointsKey(tli), tli)
	}
	return rec, nil
}

// historyFromSwitchPoints is the history of timeline tli as the chain
// needs it, from its clear record (reasons are empty).
func (c *Catalog) historyFromSwitchPoints(ctx context.Context, tli pg.TimelineID) ([]pg.HistoryEntry, error) {
	rec, err := c.readSwitchPoints(ctx, tli)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, p := range rec.History {
		fmt.Fprintf(&b, "%d\t%s\tswitch point recorded in clear\n", p.Timeline, p.SwitchPoint)
	}
	// Parsed like the file itself, so the same rules hold.
	h, err := pg.CheckHistoryFile(tli, b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.switchPointsKey(tli), err)
	}
	return h, nil
}
