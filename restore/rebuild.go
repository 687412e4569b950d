package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/incremental"
)

// How an incremental backup is restored. The data directory is rebuilt in
// place, straight from the store, never extracting two backups side by
// side: the full backup is extracted (and checked against its manifest) as
// any backup is; then each incremental, oldest first, streams through once,
// its parts fetched ahead as for a full backup, its INCREMENTAL.<name>
// members applied block by block onto the file the older backups left
// (pg/incremental.Apply, whose result is pg_combinebackup's), its other
// files replacing the older ones, every member checked against that
// backup's own manifest while it streams. Files a backup's manifest does not
// list are then deleted, and the newest backup's backup_label is written
// without its INCREMENTAL FROM lines. Memory holds one block, the parts in
// flight and the names of one backup's files; disk holds one data
// directory. Checksums of data pages are not recomputed: blocks are copied
// as the server sent them.

// chainStep is one backup of the chain, with its manifest read.
type chainStep struct {
	b   catalog.Backup
	raw []byte
	man *pg.Manifest
}

// loadChain reads what restoring b needs and checks it before anything is
// written: every record of its ancestry, every manifest, every part present
// at its recorded size.
func loadChain(ctx context.Context, cat *catalog.Catalog, b catalog.Backup) ([]chainStep, error) {
	chain, err := cat.Ancestry(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	steps := make([]chainStep, len(chain))
	for i, x := range chain {
		if len(x.Parts) == 0 || x.ManifestKey == "" {
			return nil, fmt.Errorf("backup %s has no parts or no manifest: the record is damaged", x.ID)
		}
		if err := cat.CheckStored(ctx, x); err != nil {
			return nil, fmt.Errorf("restore of backup %s needs backup %s: %w", b.ID, x.ID, err)
		}
		raw, err := fetchManifest(ctx, cat, x)
		if err != nil {
			return nil, fmt.Errorf("restore of backup %s needs backup %s: %w", b.ID, x.ID, err)
		}
		m, err := pg.ParseManifest(raw)
		if err != nil {
			return nil, fmt.Errorf("backup %s: %w", x.ID, err)
		}
		if x.Incremental() && (m.Version < 2 || m.SystemID != steps[0].man.SystemID) {
			return nil, fmt.Errorf("backup %s: its manifest (version %d, system %d) does not continue the chain of full backup %s", x.ID, m.Version, m.SystemID, chain[0].ID)
		}
		steps[i] = chainStep{b: x, raw: raw, man: m}
	}
	return steps, nil
}

// runChain is Run for an incremental backup, from the point where the
// options are checked; res and settings are Run's.
func runChain(ctx context.Context, cat *catalog.Catalog, plan Plan, opts Options, res Result, settings RecoverySettings, log *slog.Logger, began time.Time) (Result, error) {
	dir := res.TargetDir
	steps, err := loadChain(ctx, cat, plan.Backup)
	if err != nil {
		return res, err
	}
	res.Parts = 0
	var total int64
	for _, s := range steps {
		res.Parts += len(s.b.Parts)
		total += s.b.RawSize
	}
	if err := prepareDir(dir, opts.Force); err != nil {
		return res, err
	}
	incomplete := func(err error) error {
		return fmt.Errorf("%w: %s must not be started; fix the cause and rerun the restore with --force: %w", ErrIncomplete, dir, err)
	}
	var done int64
	progress := func(n, _ int64) {
		if opts.Progress != nil {
			opts.Progress(done+n, total)
		}
	}
	full := steps[0]
	log.Info("extracting full backup", "backup", full.b.ID, "chain", len(steps), "parts", len(full.b.Parts), "target_dir", dir)
	files, err := extractParts(ctx, cat, full.b.Parts, dir, opts.Parallel, progress)
	if err != nil {
		return res, incomplete(err)
	}
	if err := VerifyManifest(full.raw, files); err != nil {
		return res, incomplete(fmt.Errorf("backup %s: %w", full.b.ID, err))
	}
	labels, err := fullLabel(dir, full.b)
	if err != nil {
		return res, incomplete(err)
	}
	done += full.b.RawSize
	for i, s := range steps[1:] {
		newest := i == len(steps)-2
		log.Info("applying incremental backup", "backup", s.b.ID, "parent", s.b.Parent, "parts", len(s.b.Parts))
		if labels, err = applyIncremental(ctx, cat, dir, s, newest, labels, opts.Parallel, progress); err != nil {
			return res, incomplete(err)
		}
		done += s.b.RawSize
	}
	newest := steps[len(steps)-1]
	res.Files = len(newest.man.Files)
	for _, f := range newest.man.Files {
		res.RawBytes += f.Size
	}
	if err := finishDir(ctx, dir, opts, settings); err != nil {
		return res, incomplete(err)
	}
	res.Duration = time.Since(began)
	log.Info("restored", "backup", plan.Backup.ID, "chain", len(steps), "target", plan.Target, "target_dir", dir, "duration", res.Duration)
	return res, nil
}

// fullLabel reads the extracted full backup's backup_label, the start of
// the chain's labels.
func fullLabel(dir string, b catalog.Backup) ([]incremental.Label, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "backup_label"))
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	l, err := checkLabel(raw, b)
	if err != nil {
		return nil, err
	}
	return []incremental.Label{l}, nil
}

// checkLabel parses a backup's backup_label and checks it against the
// backup's record.
func checkLabel(raw []byte, b catalog.Backup) (incremental.Label, error) {
	l, err := incremental.ParseLabel(raw)
	if err != nil {
		return l, fmt.Errorf("backup %s: %w", b.ID, err)
	}
	if l.StartLSN != b.StartLSN || l.StartTimeline != b.Timeline {
		return l, fmt.Errorf("backup %s: its backup_label starts at %s on timeline %d, its record at %s on timeline %d",
			b.ID, l.StartLSN, l.StartTimeline, b.StartLSN, b.Timeline)
	}
	return l, nil
}

// applyIncremental streams one incremental backup onto dir and returns the
// chain's labels with its own appended.
func applyIncremental(ctx context.Context, cat *catalog.Catalog, dir string, s chainStep, newest bool, labels []incremental.Label, parallel int, progress func(done, total int64)) ([]incremental.Label, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return labels, err
	}
	defer root.Close()
	seen := map[string]bool{}
	a := newApplier(ctx, root, s.man, "", false, newest, seen)
	if err := streamParts(ctx, cat, s.b.Parts, parallel, progress, a.run); err != nil {
		return labels, fmt.Errorf("backup %s: %w", s.b.ID, err)
	}
	if missing := missingMembers(s.man, seen); len(missing) > 0 {
		return labels, fmt.Errorf("backup %s: %d file(s) of its manifest not in its archive, e.g. %s", s.b.ID, len(missing), missing[0])
	}
	if a.label == nil {
		return labels, fmt.Errorf("backup %s: no backup_label in its archive", s.b.ID)
	}
	l, err := checkLabel(a.label, s.b)
	if err != nil {
		return labels, err
	}
	labels = append(labels, l)
	if err := incremental.CheckChain(labels); err != nil {
		return labels, fmt.Errorf("backup %s: %w", s.b.ID, err)
	}
	var dirs map[string]bool
	if newest {
		dirs = a.dirs
	}
	if err := removeUnlisted(dir, s.man, "", false, dirs); err != nil {
		return labels, fmt.Errorf("backup %s: delete the files it lacks: %w", s.b.ID, err)
	}
	return labels, nil
}

// finishDir writes the recovery settings and syncs the directory, as Run
// does for a full backup.
func finishDir(ctx context.Context, dir string, opts Options, settings RecoverySettings) error {
	if opts.NoArchive {
		if err := appendConf(dir, "# written by logship restore --no-archive\narchive_mode = 'off'\n"); err != nil {
			return err
		}
	}
	if err := WriteRecoveryConfig(dir, settings); err != nil {
		return err
	}
	return SyncTree(ctx, dir)
}

// streamParts runs the tar stream of parts through consume, fetching
// ahead as extractParts does.
func streamParts(ctx context.Context, cat *catalog.Catalog, parts []catalog.BackupPart, parallel int, progress func(done, total int64), consume func(io.Reader) error) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := consume(pr)
		if err == nil {
			err = checkTarTail(pr)
		}
		if err != nil {
			cancel()
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		done <- err
	}()
	feedErr := feedParts(ctx, cat, parts, pw, parallel, progress)
	pw.CloseWithError(feedErr)
	consumeErr := <-done
	var we writeError
	switch {
	case parent.Err() != nil:
		return parent.Err()
	case consumeErr != nil && (feedErr == nil || errors.As(feedErr, &we) || errors.Is(feedErr, context.Canceled)):
		return consumeErr
	case feedErr != nil:
		return feedErr
	}
	return nil
}
