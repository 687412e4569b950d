package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logship/logship/internal/plural"
	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// CheckStreamed is the check of a segment stored only as streamed pieces:
// the tail a restore without target ends with.
const CheckStreamed = "streamed"

// CodePiecesDisagree: two pieces of a streamed segment overlap and hold
// different bytes there.
const CodePiecesDisagree = "streamed-pieces-disagree"

// checkStreamed compares the piece records with the piece objects and,
// deep, reads every piece and compares overlapping ones. A problem with a
// segment stored in full is a warning (the full segment wins and purge
// drops its pieces); with a tail it is an error: wal-fetch would stop
// recovery on it.
func (v *verifier) checkStreamed(ctx context.Context, ch *Chain) error {
	c := v.cat
	ps, err := c.ListWALPieces(ctx)
	if err != nil {
		return fmt.Errorf("list WAL pieces: %w", err)
	}
	objs := map[string]store.ObjectInfo{}
	err = c.st.List(ctx, c.pieceObjectPrefix(""), func(oi store.ObjectInfo) error {
		objs[oi.Key] = oi
		return nil
	})
	if err != nil {
		return fmt.Errorf("list WAL piece objects: %w", err)
	}
	full := map[string]bool{}
	for _, r := range ch.WAL {
		full[r.Name] = true
	}
	for i := 0; i < len(ps); {
		j := i
		for j < len(ps) && ps[j].Segment == ps[i].Segment {
			j++
		}
		if err := v.checkSegmentPieces(ctx, ch, ps[i:j], full[ps[i].Segment], objs); err != nil {
			return err
		}
		i = j
	}
	for key, oi := range objs {
		if !oi.ModTime.Before(v.started) {
			continue // stored while we listed: its record comes right after
		}
		segment, _, _ := strings.Cut(strings.TrimPrefix(key, c.pieceObjectPrefix("")), "/")
		why := "purge removes it once the segment is stored in full"
		if !full[segment] {
			why = "a receiver interrupted between object and record; purge removes it once the segment is stored in full"
		}
		v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeObjectWithoutRecord, Object: key,
			Message: fmt.Sprintf("%s is a streamed WAL piece without a record: no restore reads it", key), Fix: why})
	}
	return nil
}

// checkSegmentPieces checks the pieces of one segment (sorted) against
// their objects, which it removes from objs.
func (v *verifier) checkSegmentPieces(ctx context.Context, ch *Chain, ps []WALPiece, full bool, objs map[string]store.ObjectInfo) error {
	c := v.cat
	seg := ps[0].Segment
	sev, chk := SevWarning, v.storeCheck
	fix := "none needed: the segment is stored in full, and purge drops its pieces"
	if !full {
		sev, chk = SevError, v.check(CheckStreamed, seg)
		_, end := contiguousRun(ps)
		chk.Summary = fmt.Sprintf("%s, tail of %d bytes from the segment's start", plural.N(len(ps), "piece"), end)
		fix = "the newest WAL a restore without target replays is damaged: if the primary still runs, it stores the full segment soon (wal-push or receive); otherwise a restore ends before this segment"
	}
	sound := true
	for _, p := range ps {
		key := c.pieceObjectKey(p)
		oi, ok := objs[key]
		delete(objs, key)
		switch {
		case !ok:
			sound = false
			v.add(chk, Problem{Severity: sev, Code: CodeRecordWithoutObject, Object: key,
				Message: fmt.Sprintf("streamed piece %s is recorded but its object %s is missing from the store", p.Name(), key), Fix: fix})
		case p.SystemID != 0 && ch.SourceKnown && p.SystemID != ch.Source.SystemID:
			sound = false
			v.add(chk, Problem{Severity: sev, Code: CodeWrongSystem, Object: key,
				Message: fmt.Sprintf("streamed piece %s comes from PostgreSQL system %d, but source %q is system %d", p.Name(), p.SystemID, c.source, ch.Source.SystemID), Fix: fix})
		case oi.Size != p.StoredSize:
			sound = false
			v.add(chk, Problem{Severity: sev, Code: CodeSizeMismatch, Object: key,
				Message: fmt.Sprintf("%s is %d bytes but its record says %d", key, oi.Size, p.StoredSize), Fix: fix})
		}
	}
	if !v.opts.Deep || !sound {
		return nil
	}
	return v.deepPieces(ctx, ps, sev, chk, fix)
}

// deepPieces reads every piece, checked against its record, and compares
// the bytes of pieces that overlap.
func (v *verifier) deepPieces(ctx context.Context, ps []WALPiece, sev Severity, chk *Check, fix string) error {
	type read struct {
		p WALPiece
		b []byte
	}
	var open []read // pieces read so far that may overlap the next
	for _, p := range ps {
		v.deepStats.Objects++
		v.deepStats.Checked++
		v.deepStats.Downloaded++
		v.downloaded.Add(p.StoredSize)
		b, err := v.cat.readPiece(ctx, p)
		switch {
		case errors.Is(err, object.ErrEncrypted) || errors.Is(err, object.ErrNoIdentity):
			v.deepStats.Checked--
			v.deepStats.Skipped++
			continue // no identity: the shallow checks are all there is
		case err != nil && (isDamage(err) || errors.Is(err, ErrWrongSystem) || errors.Is(err, ErrMissingObject)):
			v.add(chk, Problem{Severity: sev, Code: CodeCorrupt, Object: v.cat.pieceObjectKey(p), Message: err.Error(), Fix: fix})
			continue
		case err != nil:
			return err
		}
		kept := open[:0]
		for _, o := range open {
			if o.p.End <= p.Start {
				continue
			}
			kept = append(kept, o)
			lo, hi := p.Start, min(p.End, o.p.End)
			if !bytes.Equal(o.b[lo-o.p.Start:hi-o.p.Start], b[:hi-lo]) {
				v.add(chk, Problem{Severity: sev, Code: CodePiecesDisagree, Object: v.cat.pieceObjectKey(p),
					Message: fmt.Sprintf("streamed pieces %s and %s overlap in [%08X, %08X) and hold different bytes there", o.p.Name(), p.Name(), lo, hi), Fix: fix})
			}
		}
		open = append(kept, read{p, b})
	}
	return nil
}
