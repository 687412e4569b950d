package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/logship/logship/catalog"
)

// ErrNotEmpty means the target directory holds files and Force was not given.
var ErrNotEmpty = errors.New("target directory is not empty")

// ErrIncomplete means a restore stopped after it had written into the target
// directory, which must not be started.
var ErrIncomplete = errors.New("restore incomplete")

// Options say where and how Run materializes a plan.
type Options struct {
	TargetDir string
	// Force clears a non-empty TargetDir first, if it is a previous restore
	// target or holds no PostgreSQL cluster, and no server runs in it (see
	// guardClear). Without it such a directory is refused and left
	// untouched.
	Force bool
	// Standby writes standby.signal: the server keeps replaying segments as
	// they are shipped, instead of ending recovery at the end of the archive.
	Standby bool
	// Action is recovery_target_action: promote (default), pause or shutdown.
	Action string
	// NoArchive turns archiving off in the restored server, for drills: a
	// drill that promotes must not ship a new timeline into the store, where
	// later restores following the latest timeline would take it.
	NoArchive bool
	// RestoreCommand is restore_command; FetchCommand builds one.
	RestoreCommand string
	// Parallel is how many backup parts are fetched and decoded ahead of the
	// extraction; 0 means 4. Memory use is about Parallel parts.
	Parallel int
	// Progress, if set, is called from Run's goroutine with the raw bytes
	// of the backup extracted so far and the total.
	Progress func(done, total int64)
	Logger   *slog.Logger
	// PrefetchWAL is how many of the first segments recovery needs are
	// fetched into the restored pg_wal/logship-prefetch/ while the backup
	// is extracted (0: none), for wal-fetch to hand over when PostgreSQL
	// asks: at most that many segments of disk. FetchStamp is the
	// restore_command's wal-fetch's AheadOptions.Stamp; without it nothing
	// is prefetched.
	PrefetchWAL int
	FetchStamp  string
	// TablespaceMap moves tablespaces: the source's location to the
	// directory to restore it to (ParseTablespaceMap). A tablespace not in
	// it goes back to its original location.
	TablespaceMap map[string]string
}

// Result describes a materialized data directory.
type Result struct {
	Plan           Plan          `json:"plan"`
	TargetDir      string        `json:"target_dir"`
	Parts          int           `json:"parts"`
	Files          int           `json:"files"`
	RawBytes       int64         `json:"raw_bytes"`
	Standby        bool          `json:"standby"`
	Action         string        `json:"action"`
	Archive        bool          `json:"archive"`
	RestoreCommand string        `json:"restore_command"`
	Duration       time.Duration `json:"duration_ns"`
	// Chain lists the backups laid down, full first, when the backup is
	// incremental.
	Chain []string `json:"chain,omitempty"`
}

// defaultParallel keeps a few parts in flight: enough to hide store latency
// and to decompress on other cores while the extraction writes.
const defaultParallel = 4

// maxBufferedPart is the largest part fetched ahead into memory; a larger one
// is streamed straight into the extraction when its turn comes.
const maxBufferedPart = 128 << 20

// maxManifest bounds the backup_manifest read back (the backup side's limit).
const maxManifest = 1 << 30

// Run materializes plan into opts.TargetDir: it extracts the plan's backup,
// verifying every part's checksum and then every file against the server's
// backup_manifest, and writes the recovery settings and signal file, so that
// the directory starts as a server that recovers to the plan's target. Every
// option is checked before anything is written. A failure after the first
// write leaves an incomplete directory and an error wrapping ErrIncomplete.
func Run(ctx context.Context, cat *catalog.Catalog, plan Plan, opts Options) (Result, error) {
	began := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Parallel <= 0 {
		opts.Parallel = defaultParallel
	}
	if opts.Action == "" {
		opts.Action = "promote"
	}
	res := Result{Plan: plan, Standby: opts.Standby, Action: opts.Action, Archive: !opts.NoArchive, RestoreCommand: opts.RestoreCommand, Parts: len(plan.Backup.Parts)}
	if opts.TargetDir == "" {
		return res, errors.New("no target directory given")
	}
	dir, err := filepath.Abs(opts.TargetDir)
	if err != nil {
		return res, err
	}
	res.TargetDir = dir
	settings := RecoverySettings{RestoreCommand: opts.RestoreCommand, Standby: opts.Standby, Target: plan.Recovery}
	settings.Target.Action = opts.Action
	if _, err := recoveryConfText(settings); err != nil {
		return res, err
	}
	if len(plan.Backup.Parts) == 0 || plan.Backup.ManifestKey == "" {
		return res, fmt.Errorf("backup %s has no parts or no manifest: the record is damaged", plan.Backup.ID)
	}

	if plan.Backup.Incremental() || len(plan.Backup.Tablespaces) > 0 || len(opts.TablespaceMap) > 0 {
		return runChain(ctx, cat, plan, opts, res, settings, log, began)
	}
	// The manifest is small and its absence would doom the restore: read it
	// before touching the directory.
	manifest, err := fetchManifest(ctx, cat, plan.Backup)
	if err != nil {
		return res, err
	}
	if err := beginTarget(cat, dir, opts.Force, plan.Backup.ID, began); err != nil {
		return res, err
	}
	incomplete := incompleteIn(dir, "")
	stopSeed := startSeed(ctx, cat, plan, dir, opts)
	defer stopSeed(true)
	log.Info("extracting backup", "backup", plan.Backup.ID, "parts", len(plan.Backup.Parts), "raw_bytes", plan.Backup.RawSize, "target_dir", dir)
	limits := NewExtractLimits(plan.Backup.Parts, manifest)
	files, err := extractParts(ctx, cat, plan.Backup.Parts, dir, limits, opts.Parallel, opts.Progress)
	if err != nil {
		return res, incomplete(err)
	}
	res.Files = len(files)
	for _, f := range files {
		res.RawBytes += f.Size
	}
	if err := VerifyManifest(manifest, files); err != nil {
		return res, incomplete(fmt.Errorf("backup %s: %w", plan.Backup.ID, err))
	}
	// As pg_basebackup leaves it, so that pg_verifybackup can check the
	// directory later.
	if err := os.WriteFile(filepath.Join(dir, "backup_manifest"), manifest, 0o600); err != nil {
		return res, incomplete(err)
	}
	// Before finishDir syncs the directory.
	if n := stopSeed(false); n > 0 {
		log.Info("prefetched WAL for recovery", "segments", n, "first", plan.FirstWAL)
	}
	if err := finishDir(ctx, dir, opts, settings, plan.Backup.ID, began); err != nil {
		return res, incomplete(err)
	}
	res.Duration = time.Since(began)
	log.Info("restored", "backup", plan.Backup.ID, "target", plan.Target, "target_dir", dir, "files", res.Files, "duration", res.Duration)
	return res, nil
}

// beginTarget prepares dir (prepareDir) and marks it as an unfinished
// logship restore of backupID, before anything else is written there.
func beginTarget(cat *catalog.Catalog, dir string, force bool, backupID string, began time.Time) error {
	storeRoot, _ := cat.LocalRoot()
	if err := prepareDir(dir, force, storeRoot); err != nil {
		return err
	}
	return writeMarker(dir, backupID, began, time.Time{})
}

// incompleteIn wraps an error that left dir half written: it must not be
// started, and the restore is to be rerun with --force (extra says what
// else to do first).
func incompleteIn(dir, extra string) func(error) error {
	return func(err error) error {
		return fmt.Errorf("%w: %s must not be started; fix the cause and rerun the restore with --force%s: %w", ErrIncomplete, dir, extra, err)
	}
}

// prepareDir makes dir an empty directory of mode 0700, creating it, or
// clearing it when force is set. Before anything is written it refuses a
// dir that guardPlace or, to clear it, guardClear finds unsafe.
func prepareDir(dir string, force bool, storeRoot string) error {
	real := realPath(dir)
	if err := guardPlace(dir, real, storeRoot); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("create target directory: %w", err)
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("create target directory: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("target directory: %w", err)
	}
	if len(entries) > 0 && !force {
		return notEmptyError(dir, entries)
	}
	if len(entries) > 0 {
		if real == "/" {
			return errors.New("refusing to clear /")
		}
		if err := guardClear(dir, real); err != nil {
			return err
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("clear target directory: %w", err)
			}
		}
	}
	// PostgreSQL refuses a data directory readable by others.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("target directory: %w", err)
	}
	return nil
}

func fetchManifest(ctx context.Context, cat *catalog.Catalog, b catalog.Backup) ([]byte, error) {
	o, err := cat.OpenManifest(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("backup %s manifest: %w", b.ID, err)
	}
	defer o.Close()
	h := o.Header()
	if h.RawSize > maxManifest {
		return nil, fmt.Errorf("backup %s manifest: %d bytes, more than %d", b.ID, h.RawSize, maxManifest)
	}
	m, err := readAllSized(o, h.RawSize)
	if err != nil {
		return nil, fmt.Errorf("backup %s manifest: %w", b.ID, err)
	}
	return m, nil
}

// readAllSized reads r, which must hold exactly size bytes, to its end; an
// object reader verifies its checksum on that final read.
func readAllSized(r io.Reader, size int64) ([]byte, error) {
	b := make([]byte, size)
	if err := readFullSized(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// readFullSized fills b from r, which must hold exactly len(b) bytes.
func readFullSized(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	var one [1]byte
	if n, err := r.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = errors.New("more bytes than recorded")
		}
		return err
	}
	return nil
}

// fetchPart reads a whole part into memory, verified, reusing buf when it
// is large enough.
func fetchPart(ctx context.Context, cat *catalog.Catalog, p catalog.BackupPart, buf []byte) ([]byte, error) {
	o, err := cat.OpenPart(ctx, p)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	if int64(cap(buf)) < p.RawSize {
		buf = make([]byte, p.RawSize)
	}
	b := buf[:p.RawSize]
	if err := readFullSized(o, b); err != nil {
		return nil, fmt.Errorf("part %s: %w", p.Key, err)
	}
	return b, nil
}

// writeError marks a failed write into the extraction: the extraction's own
// error says why.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// extractParts runs the tar stream of parts through ExtractTar into dir.
// Parts are fetched, decoded and verified up to parallel ahead, so that the
// store's latency and the decompression overlap with the disk writes, and a
// buffered part reaches the extraction only once its checksum has matched.
func extractParts(ctx context.Context, cat *catalog.Catalog, parts []catalog.BackupPart, dir string, limits ExtractLimits, parallel int, progress func(done, total int64)) ([]ExtractedFile, error) {
	var files []ExtractedFile
	err := streamParts(ctx, cat, parts, parallel, progress, func(r io.Reader) error {
		var err error
		if files, err = ExtractTarLimited(ctx, r, dir, limits); err != nil {
			return fmt.Errorf("extract: %w", err)
		}
		return nil
	})
	return files, err
}

// checkTarTail reads what follows the tar end-of-archive marker: only the
// zero padding of the last record may.
func checkTarTail(r io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if bytes.ContainsFunc(buf[:n], func(c rune) bool { return c != 0 }) {
			return errors.New("data after the end of the tar archive")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// fetched is one part fetched ahead: its bytes, or stream when it is too big
// to buffer and the writer must read it itself.
type fetched struct {
	data   []byte
	stream bool
	err    error
}

func feedParts(ctx context.Context, cat *catalog.Catalog, parts []catalog.BackupPart, w io.Writer, parallel int, progress func(done, total int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var total int64
	for _, p := range parts {
		total += p.RawSize
	}
	// A slot is taken per part from its fetch until it is written, which
	// bounds the memory held to about parallel parts.
	slots := make(chan struct{}, parallel)
	// A written part's buffer goes to the next fetch: fresh buffers would
	// be garbage at every part, and the collector lets the heap grow to
	// twice the parts in flight before it reclaims them.
	bufs := make(chan []byte, parallel)
	results := make([]chan fetched, len(parts))
	for i := range results {
		results[i] = make(chan fetched, 1)
	}
	go func() {
		for i, p := range parts {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			if p.RawSize > maxBufferedPart {
				results[i] <- fetched{stream: true}
				continue
			}
			var buf []byte
			select {
			case buf = <-bufs:
			default:
			}
			go func() {
				data, err := fetchPart(ctx, cat, p, buf)
				results[i] <- fetched{data: data, err: err}
			}()
		}
	}()
	var written int64
	for i, p := range parts {
		var f fetched
		select {
		case f = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		err := f.err
		switch {
		case err != nil:
		case f.stream:
			err = streamPart(ctx, cat, p, w)
		default:
			if _, werr := w.Write(f.data); werr != nil {
				err = writeError{werr}
			}
			// w is a pipe: its Write returns once the bytes were read.
			bufs <- f.data
		}
		<-slots
		if err != nil {
			return err
		}
		written += p.RawSize
		if progress != nil {
			progress(written, total)
		}
	}
	return nil
}

// streamPart copies a part straight into w. Its checksum is known only at its
// end, after its bytes went into the extraction; a mismatch still fails the
// restore.
func streamPart(ctx context.Context, cat *catalog.Catalog, p catalog.BackupPart, w io.Writer) error {
	o, err := cat.OpenPart(ctx, p)
	if err != nil {
		return err
	}
	defer o.Close()
	buf := make([]byte, 1<<20)
	for {
		n, rerr := o.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return writeError{werr}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("part %s: %w", p.Key, rerr)
		}
	}
}

// FetchCommand builds a restore_command that runs argv (a logship binary and
// its global flags) with wal-fetch %f %p. Every argument is shell-quoted, and
// a % in one is doubled, since PostgreSQL expands % sequences in the command.
func FetchCommand(argv ...string) string {
	return FetchCommandWith(argv, nil)
}

// FetchCommandWith is FetchCommand with wal-fetch's own flags (such as
// --prefetcher) before %f %p, quoted the same way.
func FetchCommandWith(argv, fetchFlags []string) string {
	var b strings.Builder
	for _, a := range argv {
		b.WriteString(strings.ReplaceAll(QuoteShellArg(a), "%", "%%"))
		b.WriteByte(' ')
	}
	b.WriteString("wal-fetch ")
	for _, f := range fetchFlags {
		b.WriteString(strings.ReplaceAll(QuoteShellArg(f), "%", "%%"))
		b.WriteByte(' ')
	}
	b.WriteString("%f %p")
	return b.String()
}
