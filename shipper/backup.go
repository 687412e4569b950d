package shipper

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/basebackup"
)

// BackupOptions tune a base backup.
type BackupOptions struct {
	ConnString     string // libpq connection string of the source
	Label          string
	FastCheckpoint bool
	Encode         object.EncodeOptions
	PartSize       int64         // raw bytes of tar stream per stored part; 0 = 32 MiB
	Parallel       int           // parts compressed and uploaded at once; 0 = GOMAXPROCS
	ArchiveWait    time.Duration // how long to wait for the WAL the backup needs; 0 = 5 min
	Progress       func(done, total int64)
	Logger         *slog.Logger
	// Incremental takes an incremental backup (PostgreSQL 17+, summarize_wal
	// = on) on top of Parent, or of the newest complete backup when Parent
	// is "".
	Incremental bool
	Parent      string
	// AllowPlaintext backs up in clear even a source whose record says it
	// is encrypted.
	AllowPlaintext bool
}

const defaultPartSize = 32 << 20

// Backup takes a base backup of the source over the replication protocol,
// every tablespace included (one archive each), full or, with
// opts.Incremental, incremental. The tar stream is cut into parts that are compressed, checksummed
// and stored while the server still sends, so memory stays at about
// (Parallel+1) parts whatever the database size. The backup is recorded, and
// so becomes usable by restore, only once every part, the manifest and all
// the WAL from its start to its end are in the store.
func Backup(ctx context.Context, cat *catalog.Catalog, opts BackupOptions) (catalog.Backup, error) {
	if opts.PartSize <= 0 {
		opts.PartSize = defaultPartSize
	}
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.GOMAXPROCS(0)
	}
	if opts.ArchiveWait <= 0 {
		opts.ArchiveWait = 5 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	src, err := cat.Source(ctx)
	if err != nil {
		return catalog.Backup{}, fmt.Errorf("%w: back up only a source that archives its WAL here: set archive_command to logship wal-push first", err)
	}
	if err := cat.GuardPlaintext(ctx, src, opts.Encode.Encrypt != nil, opts.AllowPlaintext, nil); err != nil {
		return catalog.Backup{}, err
	}
	start := time.Now().UTC()
	b := catalog.Backup{
		ID:          start.Format("20060102T150405.000Z"),
		Label:       opts.Label,
		Source:      cat.SourceName(),
		StartTime:   start,
		Compression: compressionName(opts.Encode),
	}
	if opts.Encode.Encrypt != nil {
		b.Recipients = opts.Encode.Encrypt.Fingerprints()
	}
	if b.Label == "" {
		b.Label = "logship " + b.ID
	}
	parentManifest, err := prepareIncremental(ctx, cat, src.SystemID, opts, &b)
	if err != nil {
		return b, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lease, err := takeLease(ctx, cat, b.ID, log) // before the first part: purge spares a leased backup
	if err != nil {
		return b, err
	}
	defer lease.release()
	as := &archiveSet{ctx: ctx, cat: cat, id: b.ID, opts: opts}
	res, err := basebackup.RunArchives(ctx, opts.ConnString, basebackup.Options{Label: b.Label, FastCheckpoint: opts.FastCheckpoint, IncrementalFrom: parentManifest}, as.open, opts.Progress)
	parts, tablespaces, perr := as.finish(err == nil)
	if err != nil {
		return b, incrementalError(b.Parent, err)
	}
	if perr != nil {
		return b, perr
	}
	if err := recordResult(ctx, cat, src, res, opts, &b); err != nil {
		return b, err
	}
	setArchives(&b, parts, tablespaces)
	if err := holdForTest(ctx); err != nil {
		return b, err
	}
	log.Info("backup data stored; waiting for its WAL", "backup", b.ID, "end_wal", b.EndWAL, "parts", len(parts))
	if err := WaitForWAL(ctx, cat, b.EndWAL, opts.ArchiveWait); err != nil {
		return b, fmt.Errorf("backup %s is not usable: %w", b.ID, err)
	}
	b.EndTime = time.Now().UTC()
	if err := cat.CheckBackupStored(ctx, b); err != nil {
		return b, err
	}
	if err := cat.AddBackup(ctx, b); err != nil {
		return b, fmt.Errorf("record backup %s: %w", b.ID, err)
	}
	return b, nil
}

// recordResult checks what the server sent (its system, a manifest restore
// can use), fills b from it and stores the manifest.
func recordResult(ctx context.Context, cat *catalog.Catalog, src catalog.Source, res basebackup.Result, opts BackupOptions, b *catalog.Backup) error {
	if err := src.Check(res.SystemID); err != nil {
		return err
	}
	if err := checkManifest(res.Manifest, res.SystemID); err != nil {
		return err
	}
	b.SystemID, b.ServerVersion, b.Timeline = res.SystemID, res.ServerVersion, res.Timeline
	b.StartLSN, b.EndLSN = res.StartLSN, res.EndLSN
	b.StartWAL = pg.SegmentName(res.Timeline, pg.SegmentOf(res.StartLSN, res.SegmentSize), res.SegmentSize)
	b.EndWAL = pg.SegmentName(res.Timeline, pg.SegmentOf(res.EndLSN-1, res.SegmentSize), res.SegmentSize)
	man, err := object.Encode(bytes.NewReader(res.Manifest), object.KindMeta, "backup_manifest", nil, opts.Encode)
	if err != nil {
		return err
	}
	if err := cat.PutManifest(ctx, b, man); err != nil {
		return fmt.Errorf("store backup manifest: %w", err)
	}
	return nil
}

// ErrArchiveTimeout means PostgreSQL did not ship a segment in time.
var ErrArchiveTimeout = errors.New("WAL not archived in time")

// WaitForWAL polls the store until the WAL file name is stored and
// recorded. It polls the object (one cheap request) and reads the record
// once the object is there: wal-push writes the record right after it.
func WaitForWAL(ctx context.Context, cat *catalog.Catalog, name string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if has, _ := cat.HasWAL(ctx, name); has {
			if _, err := cat.LookupWAL(ctx, name); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s is not in the store after %s: check archive_command and pg_stat_archiver on the source", ErrArchiveTimeout, name, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// partWriter cuts the tar stream into parts and stores them in parallel.
type partWriter struct {
	ctx   context.Context
	cat   *catalog.Catalog
	id    string
	dir   string // folder of a tablespace's parts; "" for the main archive
	opts  BackupOptions
	buf   []byte
	next  int
	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	parts map[int]catalog.BackupPart
	err   error
}

func newPartWriter(ctx context.Context, cat *catalog.Catalog, id string, opts BackupOptions) *partWriter {
	return &partWriter{ctx: ctx, cat: cat, id: id, opts: opts, sem: make(chan struct{}, opts.Parallel),
		parts: map[int]catalog.BackupPart{}, buf: make([]byte, 0, opts.PartSize)}
}

func (w *partWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if err := w.failed(); err != nil {
			return 0, err
		}
		room := int(w.opts.PartSize) - len(w.buf)
		take := min(room, len(p))
		w.buf = append(w.buf, p[:take]...)
		p = p[take:]
		if len(w.buf) == int(w.opts.PartSize) {
			w.flush()
		}
	}
	return n, nil
}

func (w *partWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// flush hands the buffer to a worker; it blocks while Parallel parts are in
// flight, which is what bounds memory.
func (w *partWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	idx, raw := w.next, w.buf
	w.next++
	w.buf = make([]byte, 0, w.opts.PartSize)
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		w.setErr(w.ctx.Err())
		return
	}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.sem; w.wg.Done() }()
		part, err := w.store(idx, raw)
		if err != nil {
			w.setErr(err)
			return
		}
		w.mu.Lock()
		w.parts[idx] = part
		w.mu.Unlock()
	}()
}

func (w *partWriter) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *partWriter) store(idx int, raw []byte) (catalog.BackupPart, error) {
	name := fmt.Sprintf("part-%06d", idx+1)
	enc := w.opts.Encode
	enc.Concurrency = 1 // parts are encoded in parallel already
	obj, err := object.EncodeBytes(raw, object.KindBackupPart, name, nil, enc)
	if err != nil {
		return catalog.BackupPart{}, err
	}
	put := w.cat.PutPart
	if w.dir != "" {
		put = func(ctx context.Context, id string, obj *object.Encoded) (catalog.BackupPart, error) {
			return w.cat.PutPartIn(ctx, id, w.dir, obj)
		}
	}
	part, err := put(w.ctx, w.id, obj)
	if err != nil {
		return catalog.BackupPart{}, fmt.Errorf("store backup part %s: %w", name, err)
	}
	return part, nil
}

// finish stores the last part (when the stream ended well) and returns the
// parts in stream order.
func (w *partWriter) finish(ok bool) ([]catalog.BackupPart, error) {
	if ok {
		w.flush()
	}
	w.wg.Wait()
	if w.err != nil {
		return nil, w.err
	}
	parts := make([]catalog.BackupPart, w.next)
	for i := range parts {
		parts[i] = w.parts[i]
	}
	return parts, nil
}

// compressionName is what a backup record says of its objects' encoding.
func compressionName(e object.EncodeOptions) string {
	if e.Encrypt != nil {
		return object.ZstdAge.String()
	}
	return e.Compression.String()
}
