package catalog

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// deepItem is one unit a deep run checks: a WAL object, or a whole backup
// (its parts only make sense read in order, as one tar stream).
type deepItem struct {
	name    string     // WAL file name, or backup ID
	key     string     // WAL object key
	rec     *WALRecord // nil for an object without record
	backup  *Backup
	objects int // objects the item covers
	id      progressID
}

// deep downloads and checks every object not covered by an earlier run's
// progress record (all of them with Full), then records what passed.
func (v *verifier) deep(ctx context.Context, ch *Chain) error {
	prog, err := v.loadProgress(ctx)
	if err != nil {
		return err
	}
	items := v.deepItems(ch)
	var todo []deepItem
	good := make([]deepItem, 0, len(items))
	for _, it := range items {
		v.deepStats.Objects += it.objects
		if !v.opts.Full && prog.has(it.id) {
			v.deepStats.Skipped += it.objects
			good = append(good, it)
			continue
		}
		todo = append(todo, it)
	}
	var (
		wg       sync.WaitGroup
		work     = make(chan deepItem)
		mu       sync.Mutex
		passed   []deepItem
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(v.opts.Parallel, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 128<<10)
			for it := range work {
				var ok bool
				var err error
				if it.backup != nil {
					ok, err = v.deepBackup(ctx, ch, *it.backup, buf)
				} else {
					ok, err = v.deepWAL(ctx, ch, it, buf)
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				if ok && err == nil {
					passed = append(passed, it)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, it := range todo {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, it := range todo {
		v.deepStats.Checked += it.objects
	}
	if v.opts.NoRecord {
		return nil
	}
	return v.saveProgress(ctx, prog, good, passed)
}

// deepItems lists what a deep run covers: every WAL object the listing
// showed (shallow problems aside) and every backup not already known bad.
func (v *verifier) deepItems(ch *Chain) []deepItem {
	recs := make(map[string]*WALRecord, len(ch.WAL))
	for i := range ch.WAL {
		if _, dup := recs[ch.WAL[i].Name]; !dup {
			recs[ch.WAL[i].Name] = &ch.WAL[i]
		}
	}
	names := make([]string, 0, len(v.walSizes))
	for name := range v.walSizes {
		if !v.badWAL[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	items := make([]deepItem, 0, len(names)+len(ch.Backups))
	for _, name := range names {
		r := recs[name]
		facts := []string{"wal", name, "", strconv.FormatInt(v.walSizes[name], 10)}
		if r != nil {
			facts[2] = r.SHA256 + "/" + strconv.FormatInt(r.RawSize, 10)
		}
		items = append(items, deepItem{name: name, key: v.cat.walKey(name), rec: r, objects: 1, id: newProgressID(v.keyFacts(facts)...)})
	}
	for i, b := range ch.Backups {
		if v.badBackup[b.ID] {
			continue
		}
		facts := []string{"backup", b.ID, b.ManifestKey, b.ManifestSHA256}
		for _, p := range b.AllParts() {
			facts = append(facts, p.Key, p.SHA256, strconv.FormatInt(p.RawSize, 10), strconv.FormatInt(p.StoredSize, 10))
		}
		items = append(items, deepItem{name: b.ID, backup: &ch.Backups[i], objects: len(b.AllParts()) + 1, id: newProgressID(v.keyFacts(facts)...)})
	}
	return items
}

// get opens an object (the version its record names, if any) for a deep
// check and counts the download.
func (v *verifier) get(ctx context.Context, key, version string) (io.ReadCloser, error) {
	rc, err := v.cat.get(ctx, key, version)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.deepStats.Downloaded++
	v.mu.Unlock()
	return &countingReader{rc: rc, n: &v.downloaded}, nil
}

type countingReader struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }

func (v *verifier) setBadWAL(name string) {
	v.mu.Lock()
	v.badWAL[name] = true
	v.mu.Unlock()
}

func (v *verifier) setBadBackup(id string) {
	v.mu.Lock()
	v.badBackup[id] = true
	v.mu.Unlock()
}

// deepWAL decodes one WAL object and checks it against its record and the
// source. ok is false when a problem was reported; err only when the store
// could not be read.
func (v *verifier) deepWAL(ctx context.Context, ch *Chain, it deepItem, buf []byte) (ok bool, err error) {
	bad := func(code, msg, fix string) (bool, error) {
		v.setBadWAL(it.name)
		v.add(v.storeCheck, Problem{Severity: SevError, Code: code, Object: it.key, Message: msg, Fix: fix})
		return false, nil
	}
	corruptFix := fmt.Sprintf("the stored copy is damaged: if PostgreSQL or a standby still has pg_wal/%s, delete the object and its record and push it again; otherwise it is lost: take a new backup", it.name)
	var version string
	if it.rec != nil {
		version = it.rec.VersionID
	}
	rc, err := v.get(ctx, it.key, version)
	if errors.Is(err, store.ErrNotExist) {
		return bad(CodeRecordWithoutObject, fmt.Sprintf("%s disappeared from the store during verify", it.key), "run verify again; if it is still missing, see record-without-object")
	}
	if err != nil {
		return false, fmt.Errorf("get %s: %w", it.key, err)
	}
	defer rc.Close()
	or, err := v.cat.newReader(rc)
	if errors.Is(err, object.ErrEncrypted) || errors.Is(err, object.ErrNoIdentity) {
		var opener error
		if errors.Is(err, object.ErrNoIdentity) {
			opener = err
		}
		return v.deepWALStored(ctx, it, opener, bad, corruptFix)
	}
	if err != nil {
		if isDamage(err) {
			return bad(CodeCorrupt, fmt.Sprintf("%s: %v", it.key, err), corruptFix)
		}
		return false, fmt.Errorf("read %s: %w", it.key, err)
	}
	defer or.Close()
	h := or.Header()
	if h.Name != it.name {
		return bad(CodeCorrupt, fmt.Sprintf("%s holds %q, not %s: it was stored under a wrong name", it.key, h.Name, it.name), corruptFix)
	}
	if r := it.rec; r != nil && checkRecord(h, it.key, expect{rawSize: r.RawSize, sha256: r.SHA256}) != nil {
		return bad(CodeRecordMismatch, fmt.Sprintf("%s holds %d bytes with sha256 %s but its record says %d bytes with sha256 %s", it.key, h.RawSize, h.ChecksumHex(), r.RawSize, r.SHA256),
			"the object was replaced after it was recorded: find out which copy is right; delete the wrong object or record")
	}
	wrongSystem := func(id uint64) (bool, error) {
		return bad(CodeWrongSystem, fmt.Sprintf("%s comes from PostgreSQL system %d, but source %q is system %d", it.name, id, v.cat.source, ch.Source.SystemID),
			fmt.Sprintf("another cluster's WAL was put into source %q: delete %s and its record, and give each cluster its own --source", v.cat.source, it.key))
	}
	if s, ok := h.Meta[MetaSystemID]; ok && ch.SourceKnown {
		if id, err := strconv.ParseUint(s, 10, 64); err == nil && id != ch.Source.SystemID {
			return wrongSystem(id)
		}
	}
	if f, err := pg.ParseWALFileName(it.name, ch.SegmentSize); err == nil && (f.Kind == pg.Segment || f.Kind == pg.Partial) {
		n, rerr := io.ReadFull(or, buf[:pg.SegmentHeaderSize])
		if rerr == nil {
			sh, err := pg.ParseSegmentHeader(buf[:n])
			if err == nil {
				err = sh.CheckName(f)
			}
			if err != nil {
				return bad(CodeCorrupt, fmt.Sprintf("%s does not hold a WAL segment of that name: %v", it.key, err), corruptFix)
			}
			if ch.SourceKnown && sh.SystemID != ch.Source.SystemID {
				return wrongSystem(sh.SystemID)
			}
		} else if !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
			return v.readFailed(it.key, rerr, bad, corruptFix)
		}
	}
	if _, err := io.CopyBuffer(io.Discard, or, buf); err != nil {
		return v.readFailed(it.key, err, bad, corruptFix)
	}
	return true, nil
}

// readFailed tells damage (a problem) from a failing store (an error).
func (v *verifier) readFailed(key string, err error, bad func(code, msg, fix string) (bool, error), fix string) (bool, error) {
	if isDamage(err) {
		return bad(CodeCorrupt, fmt.Sprintf("%s: %v", key, err), fix)
	}
	return false, fmt.Errorf("read %s: %w", key, err)
}

// maxManifestObject bounds a backup_manifest held in memory while its
// backup is checked (about 150 bytes a file).
const maxManifestObject = 1 << 30

// retake is the fix for a backup found damaged.
const retake = "the backup cannot be restored: take a new backup (logship backup); restores fall back to older backups"

// deepBackup reads a backup's manifest, then streams its parts in order
// through a tar reader, checking each part's checksum and each file's size
// and CRC-32C against the manifest. Nothing is written to disk.
func (v *verifier) deepBackup(ctx context.Context, ch *Chain, b Backup, buf []byte) (bool, error) {
	bc := v.backupChecks[b.ID]
	bad := func(code, obj, msg, fix string) (bool, error) {
		v.setBadBackup(b.ID)
		v.add(bc, Problem{Severity: SevError, Code: code, Object: obj, Message: msg, Fix: fix})
		return false, nil
	}
	man, err := v.readManifest(ctx, b)
	if errors.Is(err, object.ErrEncrypted) || errors.Is(err, object.ErrNoIdentity) {
		var opener error
		if errors.Is(err, object.ErrNoIdentity) {
			opener = err
		}
		return v.deepBackupStored(ctx, b, opener, bad)
	}
	if err != nil {
		var pe *partError
		if errors.As(err, &pe) {
			return bad(pe.code, pe.key, fmt.Sprintf("backup %s: %v", b.ID, pe.err), retake)
		}
		return false, err
	}
	diff := manifestDiff{seen: make(map[string]bool, len(man.Files))}
	for _, arc := range b.archives() {
		if ok, err := v.deepArchive(ctx, b, arc, man, &diff, bad, buf); !ok || err != nil {
			return ok, err
		}
	}
	for _, mf := range man.Files {
		if !diff.seen[mf.Path] && !pg.ManifestIgnored(mf.Path) {
			diff.add("%s is in the manifest but not in the backup", mf.Path)
		}
	}
	if diff.count > 0 {
		msg := fmt.Sprintf("backup %s does not match its backup_manifest: %d difference(s): %s", b.ID, diff.count, strings.Join(diff.first, "; "))
		return bad(CodeManifestMismatch, b.ManifestKey, msg, retake)
	}
	return true, nil
}

// manifestDiff counts the differences between a backup and its manifest,
// keeping the first few for the message, and the manifest paths met.
type manifestDiff struct {
	count int
	first []string
	seen  map[string]bool
}

func (d *manifestDiff) add(format string, args ...any) {
	d.count++
	if len(d.first) < 5 {
		d.first = append(d.first, fmt.Sprintf(format, args...))
	}
}

// compareTar reads every file of one archive's tar stream, checking its
// size and CRC-32C against the manifest, where its paths have prefix, and
// notes the paths it saw. An error is the stream's own (a part, or the tar
// format), for the caller to sort.
func (d *manifestDiff) compareTar(tr *tar.Reader, prefix string, man *pg.Manifest, buf []byte) error {
	crc := crc32.New(castagnoli)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := prefix + path.Clean(hdr.Name)
		crc.Reset()
		n, err := io.CopyBuffer(crc, tr, buf)
		if err != nil {
			return err
		}
		d.seen[name] = true
		mf, ok := man.File(name)
		switch {
		case !ok:
			if !pg.ManifestIgnored(name) {
				d.add("%s is in the backup but not in its manifest", name)
			}
		case n != mf.Size:
			d.add("%s has %d bytes, manifest says %d", name, n, mf.Size)
		case !mf.MatchesCRC32C(crc.Sum32()):
			d.add("%s has CRC-32C %s, manifest says %s", name, pg.ManifestCRC32CText(crc.Sum32()), mf.Checksum)
		}
	}
}

// partError says which object of a backup failed and how; code "" means the
// store failed rather than the object.
type partError struct {
	key  string
	code string
	err  error
}

func (e *partError) Error() string { return e.key + ": " + e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

func classify(key string, err error) error {
	switch {
	case errors.Is(err, store.ErrNotExist):
		return &partError{key: key, code: CodeMissingPart, err: errors.New("missing from the store")}
	case isDamage(err):
		return &partError{key: key, code: CodeCorrupt, err: err}
	}
	return &partError{key: key, err: err}
}

// partsReader reads the raw bytes of a backup's parts one after the other.
// A part's bytes pass on only as far as its object reader checks them; the
// reader reports io.EOF for a part only after its checksum matched.
type partsReader struct {
	ctx   context.Context
	v     *verifier
	parts []BackupPart
	next  int
	rc    io.ReadCloser
	or    *object.Reader
}

func (p *partsReader) Read(b []byte) (int, error) {
	for {
		if p.or == nil {
			if p.next == len(p.parts) {
				return 0, io.EOF
			}
			if err := p.open(p.parts[p.next]); err != nil {
				return 0, err
			}
			p.next++
		}
		n, err := p.or.Read(b)
		if err == io.EOF {
			p.close()
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, classify(p.parts[p.next-1].Key, err)
		}
		return n, nil
	}
}

func (p *partsReader) open(part BackupPart) error {
	rc, err := p.v.get(p.ctx, part.Key, part.VersionID)
	if err != nil {
		return classify(part.Key, err)
	}
	or, err := p.v.cat.newReader(rc)
	if err != nil {
		rc.Close()
		return classify(part.Key, err)
	}
	h := or.Header()
	if checkRecord(h, part.Key, partExpect(part)) != nil {
		or.Close()
		rc.Close()
		return &partError{key: part.Key, code: CodeRecordMismatch, err: fmt.Errorf("holds %s (%d bytes, sha256 %s) but the backup record says %s (%d bytes, sha256 %s)",
			h.Name, h.RawSize, h.ChecksumHex(), path.Base(part.Key), part.RawSize, part.SHA256)}
	}
	p.rc, p.or = rc, or
	return nil
}

func (p *partsReader) close() {
	if p.or != nil {
		p.or.Close()
		p.rc.Close()
		p.or, p.rc = nil, nil
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readManifest downloads and decodes a backup's backup_manifest and checks
// it against the record and its own checksum. Problems with the object come
// back as *partError.
func (v *verifier) readManifest(ctx context.Context, b Backup) (*pg.Manifest, error) {
	key := b.ManifestKey
	rc, err := v.get(ctx, key, b.ManifestVersionID)
	if err != nil {
		if errors.Is(err, store.ErrNotExist) {
			return nil, &partError{key: key, code: CodeMissingManifest, err: errors.New("backup_manifest missing from the store")}
		}
		return nil, classify(key, err)
	}
	defer rc.Close()
	or, err := v.cat.newReader(rc)
	if err != nil {
		return nil, classify(key, err)
	}
	defer or.Close()
	if b.ManifestSHA256 == "" || checkRecord(or.Header(), key, manifestExpect(b)) != nil {
		return nil, &partError{key: key, code: CodeRecordMismatch, err: fmt.Errorf("manifest sha256 %s, the backup record says %s", or.Header().ChecksumHex(), b.ManifestSHA256)}
	}
	raw, err := io.ReadAll(io.LimitReader(or, maxManifestObject+1))
	if err != nil {
		return nil, classify(key, err)
	}
	if len(raw) > maxManifestObject {
		return nil, &partError{key: key, code: CodeCorrupt, err: fmt.Errorf("manifest larger than %d bytes", maxManifestObject)}
	}
	m, err := pg.ParseManifest(raw)
	if err != nil {
		return nil, &partError{key: key, code: CodeCorrupt, err: err}
	}
	return m, nil
}
