package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/logship/logship/object"
	"github.com/logship/logship/store"
)

// Progress records. A deep run records, in one create-only object under
// <source>/verify/, the progress IDs of what it checked and found whole. A
// progress ID is a hash of everything that identifies the checked content
// (key, record checksum and sizes), so a replaced object or record gets a
// new ID and is checked again. A "snapshot" record lists every ID known
// good at its time; a "delta" record only what its run added. A run reads
// the newest snapshot and the deltas after it: the cost of a run grows with
// what is new, not with the archive. Bit rot in an object already checked
// goes unseen until a --full run, which re-reads everything.

type progressID [16]byte

func newProgressID(facts ...string) progressID {
	h := sha256.New()
	for _, f := range facts {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	var id progressID
	copy(id[:], h.Sum(nil))
	return id
}

const (
	progressMagic     = "logship-verify-progress 1"
	progressSnapshot  = ".snapshot"
	progressDelta     = ".delta"
	maxProgressObject = 256 << 20
	// snapshotEvery bounds the delta records a run reads after a snapshot.
	snapshotEvery = 16
)

type progress struct {
	seen     map[progressID]struct{}
	keys     []string // every progress record, oldest first
	snapKey  string   // the newest snapshot record, "" if none
	readSnap bool     // a snapshot was read whole
	deltas   int      // delta records after the snapshot
}

func (p *progress) has(id progressID) bool {
	_, ok := p.seen[id]
	return ok
}

func (c *Catalog) progressPrefix() string { return c.key("verify/") }

// loadProgress reads the newest snapshot and the deltas after it. An
// unreadable record is a warning: what it covered is checked again.
func (v *verifier) loadProgress(ctx context.Context) (*progress, error) {
	p := &progress{seen: map[progressID]struct{}{}}
	err := v.cat.st.List(ctx, v.cat.progressPrefix(), func(oi store.ObjectInfo) error {
		if strings.HasSuffix(oi.Key, progressSnapshot) || strings.HasSuffix(oi.Key, progressDelta) {
			p.keys = append(p.keys, oi.Key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list verify progress: %w", err)
	}
	sort.Strings(p.keys)
	for i := len(p.keys) - 1; i >= 0; i-- {
		if strings.HasSuffix(p.keys[i], progressSnapshot) {
			p.snapKey = p.keys[i]
			break
		}
	}
	if v.opts.Full {
		return p, nil
	}
	for end := len(p.keys); end > 0; {
		start := 0
		for i := end - 1; i >= 0; i-- {
			if strings.HasSuffix(p.keys[i], progressSnapshot) {
				start = i
				break
			}
		}
		snapOK := false
		for _, k := range p.keys[start:end] {
			err := v.readProgress(ctx, k, p)
			switch {
			case err == nil:
				if strings.HasSuffix(k, progressSnapshot) {
					snapOK = true
				} else {
					p.deltas++
				}
			case isDamage(err):
				v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeProgress, Object: k,
					Message: fmt.Sprintf("verify progress record %s is unreadable (%v): what it covered is checked again", k, err),
					Fix:     "delete it; the next deep run records its own"})
			default:
				return nil, err
			}
		}
		if snapOK || !strings.HasSuffix(p.keys[start], progressSnapshot) {
			p.readSnap = snapOK
			break
		}
		end = start // the snapshot is damaged: fall back to the one before
	}
	return p, nil
}

func (v *verifier) readProgress(ctx context.Context, key string, p *progress) error {
	rc, err := v.cat.st.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer rc.Close()
	or, err := object.NewReader(rc)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	defer or.Close()
	raw, err := io.ReadAll(io.LimitReader(or, maxProgressObject+1))
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	malformed := func(why string) error {
		return &object.FormatError{Op: "read verify progress", Err: fmt.Errorf("%w: %s", object.ErrCorruptHeader, why)}
	}
	if len(raw) > maxProgressObject {
		return malformed("too large")
	}
	lines := bytes.Split(raw, []byte("\n"))
	if len(lines) == 0 || string(lines[0]) != progressMagic {
		return malformed("not a progress record")
	}
	ids := make([]progressID, 0, len(lines))
	for _, l := range lines[1:] {
		if len(l) == 0 {
			continue
		}
		var id progressID
		if len(l) < 2*len(id) || !decodeHex(id[:], l[:2*len(id)]) {
			return malformed("bad line")
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		p.seen[id] = struct{}{}
	}
	v.deepStats.ProgressReads++
	return nil
}

// saveProgress records what this run found whole. Failing to record is a
// warning: the chain is no less whole for it.
func (v *verifier) saveProgress(ctx context.Context, p *progress, skipped, passed []deepItem) error {
	snapshot := v.opts.Full || !p.readSnap || p.deltas+1 >= snapshotEvery
	entries := passed
	if snapshot {
		entries = append(append([]deepItem(nil), skipped...), passed...)
	} else if len(passed) == 0 {
		return nil
	}
	var buf bytes.Buffer
	buf.WriteString(progressMagic + "\n")
	for _, it := range entries {
		fmt.Fprintf(&buf, "%x %s\n", it.id[:], it.name)
	}
	enc, err := object.Encode(&buf, object.KindMeta, "verify-progress", nil, object.EncodeOptions{Compression: object.Zstd, Concurrency: 1})
	if err != nil {
		return err
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	suffix := progressDelta
	if snapshot {
		suffix = progressSnapshot
	}
	key := v.cat.progressPrefix() + v.opts.Now().UTC().Format("20060102T150405.000000000Z") + "-" + hex.EncodeToString(rnd[:]) + suffix
	if err := v.cat.st.Put(ctx, key, enc.Reader(), enc.Size()); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.add(v.storeCheck, Problem{Severity: SevWarning, Code: CodeProgress, Object: key,
			Message: fmt.Sprintf("could not record what this deep run checked: %v", err),
			Fix:     "the next deep run checks these objects again; give verify write access to " + v.cat.progressPrefix() + " or use --no-record"})
		return nil
	}
	v.deepStats.ProgressKey = key
	if snapshot && p.snapKey != "" {
		// Records before the previous snapshot are superseded twice over;
		// the previous generation stays for a run reading it right now.
		for _, k := range p.keys {
			if k >= p.snapKey {
				break
			}
			if err := v.cat.st.Delete(ctx, k); err != nil {
				v.opts.Logger.Warn("delete old verify progress", "key", k, "err", err)
			}
		}
	}
	return nil
}

func decodeHex(dst, src []byte) bool {
	n, err := hex.Decode(dst, src)
	return err == nil && n == len(dst)
}
