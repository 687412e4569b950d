package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// Meta keys written into the header of WAL segment objects, so that the
// source record can be rebuilt from the objects alone.
const (
	MetaSystemID    = "system_id"
	MetaSegmentSize = "segment_size"
)

// RebuildResult counts what a rebuild found and wrote.
type RebuildResult struct {
	Objects int  `json:"objects"`
	Added   int  `json:"added"`
	Source  bool `json:"source_restored"`
	Backups int  `json:"backups_restored"`
	Marks   int  `json:"marks_restored"`
	Pieces  int  `json:"pieces_restored"` // streamed WAL piece records
}

// rebuildWorkers bounds the header reads in flight; each holds one open object.
const rebuildWorkers = 8

// Rebuild re-creates the WAL records (and the source record) from the
// objects alone, reading only each object's header. It adds what is missing
// and never deletes: existing records stay as they are.
func (c *Catalog) Rebuild(ctx context.Context) (RebuildResult, error) {
	var res RebuildResult
	have := map[string]WALRecord{}
	if err := c.ListWAL(ctx, func(r WALRecord) error { have[r.Name] = r; return nil }); err != nil {
		return res, err
	}
	source, err := c.rebuildWAL(ctx, have, &res)
	if err != nil {
		return res, err
	}
	if _, err := c.Source(ctx); errors.Is(err, ErrNoSource) && source != nil {
		if _, err := c.ClaimSource(ctx, *source); err != nil {
			return res, err
		}
		res.Source = true
	}
	if res.Backups, err = c.rebuildBackups(ctx); err != nil {
		return res, err
	}
	if res.Marks, err = c.rebuildMarks(ctx); err != nil {
		return res, err
	}
	if res.Pieces, err = c.rebuildPieces(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// rebuildWAL adds a record for every WAL object under wal/ that has none
// (have), reading headers in parallel, and returns the source found in the
// first header that names one.
func (c *Catalog) rebuildWAL(ctx context.Context, have map[string]WALRecord, res *RebuildResult) (*Source, error) {
	var (
		mu       sync.Mutex
		firstErr error
		source   *Source
		wg       sync.WaitGroup
		work     = make(chan store.ObjectInfo)
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for range rebuildWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for oi := range work {
				h, err := c.readHeader(ctx, oi.Key)
				if err != nil {
					fail(err)
					continue
				}
				name := strings.TrimPrefix(oi.Key, c.key("wal/"))
				if h.Name != name {
					fail(fmt.Errorf("object %s holds %q, not %q: it was stored under a wrong name", oi.Key, h.Name, name))
					continue
				}
				r := WALRecord{Name: name, RawSize: h.RawSize, SHA256: h.ChecksumHex(), StoredSize: oi.Size}
				r.SystemID, _ = strconv.ParseUint(h.Meta[MetaSystemID], 10, 64)
				if err := c.AddWAL(ctx, r); err != nil {
					fail(err)
					continue
				}
				mu.Lock()
				res.Added++
				if source == nil {
					if s, ok := sourceFromMeta(h.Meta); ok {
						source = &s
					}
				}
				mu.Unlock()
			}
		}()
	}
	err := c.st.List(ctx, c.key("wal/"), func(oi store.ObjectInfo) error {
		res.Objects++
		if _, ok := have[strings.TrimPrefix(oi.Key, c.key("wal/"))]; ok {
			return nil
		}
		select {
		case work <- oi:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err != nil {
		return nil, err
	}
	return source, nil
}

// rebuildBackups restores the record of every backup whose copy (written
// only once the backup was complete) is stored beside its parts.
func (c *Catalog) rebuildBackups(ctx context.Context) (int, error) {
	have := map[string]bool{}
	if err := c.st.List(ctx, c.backupRecordPrefix(), func(oi store.ObjectInfo) error {
		have[strings.TrimSuffix(strings.TrimPrefix(oi.Key, c.backupRecordPrefix()), ".json")] = true
		return nil
	}); err != nil {
		return 0, err
	}
	keep := func(rest string) bool {
		id, doc, _ := strings.Cut(rest, "/")
		return doc == BackupDocName && !have[id]
	}
	return restoreDocs(ctx, c, c.key("backups/"), keep, maxBackupRecord, func(_ string, b Backup) error {
		return c.addBackupRecord(ctx, b)
	})
}

// rebuildMarks restores the record (and the name reservation) of every
// mark object.
func (c *Catalog) rebuildMarks(ctx context.Context) (int, error) {
	have := map[string]bool{}
	if err := c.st.List(ctx, c.markPrefix(), func(oi store.ObjectInfo) error {
		name, _, _ := strings.Cut(strings.TrimPrefix(oi.Key, c.markPrefix()), recordSep)
		have[name] = true
		return nil
	}); err != nil {
		return 0, err
	}
	prefix := c.key("marks/")
	keep := func(name string) bool { return !have[name] }
	return restoreDocs(ctx, c, prefix, keep, maxSourceRecord, func(key string, d markDoc) error {
		m := d.Mark
		m.LSN = pg.LSN(d.LSNValue)
		// The record's key is built from these facts: a name that is not
		// the object's, or invalid (a "~" splits the key), or a time out of
		// the key's nanosecond range would record a mark that lists wrong,
		// or that breaks every later listing of marks.
		if err := ValidMarkName(m.Name); err != nil || m.Name != strings.TrimPrefix(key, prefix) ||
			!time.Unix(0, m.Time.UnixNano()).Equal(m.Time) {
			return fmt.Errorf("mark object %s holds mark %q at %s: not a mark of that name; delete or fix the object", key, m.Name, m.Time)
		}
		if err := c.st.Put(ctx, c.markNameKey(m.Name), bytes.NewReader(nil), 0); err != nil && !errors.Is(err, store.ErrExist) {
			return err
		}
		return c.addMarkRecord(ctx, m)
	})
}

// restoreDocs reads every object under prefix that keep (given the key
// without prefix) selects as a T (JSON in the object format, at most limit
// bytes) and hands it to restore, one after another; it returns how many
// it restored, or the first error.
func restoreDocs[T any](ctx context.Context, c *Catalog, prefix string, keep func(string) bool, limit int64, restore func(key string, doc T) error) (int, error) {
	keys, err := c.listKeys(ctx, prefix, keep)
	if err != nil {
		return 0, err
	}
	for _, key := range keys {
		var doc T
		if err := c.getDoc(ctx, key, &doc, limit); err != nil {
			return 0, err
		}
		if err := restore(key, doc); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

func (c *Catalog) readHeader(ctx context.Context, key string) (object.Header, error) {
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return object.Header{}, err
	}
	defer rc.Close()
	h, err := object.ReadHeader(rc)
	if err != nil {
		return object.Header{}, fmt.Errorf("read %s: %w", key, err)
	}
	return h, nil
}

func sourceFromMeta(meta map[string]string) (Source, bool) {
	id, err1 := strconv.ParseUint(meta[MetaSystemID], 10, 64)
	seg, err2 := strconv.ParseUint(meta[MetaSegmentSize], 10, 64)
	if err1 != nil || err2 != nil {
		return Source{}, false
	}
	// A segment sealed for recipients (object.MetaRecipients) makes the
	// rebuilt source encrypted, as the push that claimed it would have.
	return Source{SystemID: id, SegmentSize: seg, Created: time.Now().UTC(), Encrypted: meta[object.MetaRecipients] != ""}, true
}

// WALInfo is a WAL record with what its stored object's header says.
type WALInfo struct {
	WALEntry
	Compression   string            `json:"compression"`
	FormatVersion int               `json:"format_version"`
	Meta          map[string]string `json:"meta,omitempty"`
}

// Describe reads the header of the record's object.
func (c *Catalog) Describe(ctx context.Context, r WALRecord) (WALInfo, error) {
	segSize := uint64(0)
	if src, err := c.Source(ctx); err == nil {
		segSize = src.SegmentSize
	}
	if segSize == 0 {
		segSize = 16 << 20
	}
	h, err := c.readHeader(ctx, c.walKey(r.Name))
	if err != nil {
		return WALInfo{}, err
	}
	return WALInfo{WALEntry: describe(r, segSize), Compression: h.Compression.String(), FormatVersion: int(h.Version), Meta: h.Meta}, nil
}
