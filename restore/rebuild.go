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

// runChain is Run for an incremental backup or one with tablespaces, from
// the point where the options are checked; res and settings are Run's.
func runChain(ctx context.Context, cat *catalog.Catalog, plan Plan, opts Options, res Result, settings RecoverySettings, log *slog.Logger, began time.Time) (Result, error) {
	dir := res.TargetDir
	steps, err := loadChain(ctx, cat, plan.Backup)
	if err != nil {
		return res, err
	}
	storeRoot, _ := cat.LocalRoot()
	dests, err := planTablespaces(plan.Backup, opts.TablespaceMap, dir, storeRoot)
	if err != nil {
		return res, err
	}
	res.Parts = 0
	var total int64
	for _, s := range steps {
		if len(steps) > 1 {
			res.Chain = append(res.Chain, s.b.ID)
		}
		res.Parts += len(s.b.AllParts())
		total += s.b.RawSize
	}
	if err := beginTarget(cat, dir, opts.Force, plan.Backup.ID, began); err != nil {
		return res, err
	}
	incomplete := incompleteIn(dir, " (after emptying its tablespace directories)")
	if err := makeTablespaceDirs(dests); err != nil {
		return res, incomplete(err)
	}
	var done int64
	progress := func(n, _ int64) {
		if opts.Progress != nil {
			opts.Progress(done+n, total)
		}
	}
	var labels []incremental.Label
	for i, s := range steps {
		log.Info("restoring backup", "backup", s.b.ID, "step", i+1, "of", len(steps), "incremental", s.b.Incremental(), "parts", len(s.b.AllParts()), "target_dir", dir)
		r := rebuildStep{chainStep: s, full: i == 0, newest: i == len(steps)-1, dir: dir, dests: dests, parallel: opts.Parallel}
		if labels, err = r.apply(ctx, cat, labels, func(n, _ int64) { progress(n, 0) }); err != nil {
			return res, incomplete(err)
		}
		done += s.b.RawSize
	}
	if err := linkTablespaces(dir, dests); err != nil {
		return res, incomplete(err)
	}
	newest := steps[len(steps)-1]
	if len(steps) == 1 {
		// As pg_basebackup leaves it; a rebuilt directory has no manifest
		// of its own.
		if err := os.WriteFile(filepath.Join(dir, "backup_manifest"), newest.raw, 0o600); err != nil {
			return res, incomplete(err)
		}
	}
	res.Files = len(newest.man.Files)
	for _, f := range newest.man.Files {
		res.RawBytes += f.Size
	}
	if err := finishDir(ctx, dir, opts, settings, plan.Backup.ID, began); err != nil {
		return res, incomplete(err)
	}
	for _, t := range dests {
		if err := SyncTree(ctx, t.Dest); err != nil {
			return res, incomplete(err)
		}
	}
	res.Duration = time.Since(began)
	log.Info("restored", "backup", plan.Backup.ID, "chain", len(steps), "tablespaces", len(dests), "target", plan.Target, "target_dir", dir, "duration", res.Duration)
	return res, nil
}

// rebuildStep is one backup of the chain being laid onto the directories.
type rebuildStep struct {
	chainStep
	full, newest bool
	dir          string
	dests        []tablespaceDest
	parallel     int
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

// archiveDest is one archive of a backup and where it goes.
type archiveDest struct {
	parts  []catalog.BackupPart
	root   string
	prefix string
	inTS   bool
}

// archives lists the backup's archives to lay down, tablespaces first,
// and the manifest prefixes of its tablespaces that the newest backup no
// longer has (skipped).
func (r rebuildStep) archives() (out []archiveDest, skipped []string) {
	for _, ts := range r.b.Tablespaces {
		d := tablespaceDest{OID: ts.OID}
		found := false
		for _, x := range r.dests {
			if x.OID == ts.OID {
				d, found = x, true
			}
		}
		if !found {
			skipped = append(skipped, d.prefix())
			continue
		}
		out = append(out, archiveDest{parts: ts.Parts, root: d.Dest, prefix: d.prefix(), inTS: true})
	}
	return append(out, archiveDest{parts: r.b.Parts, root: r.dir}), skipped
}

// apply streams every archive of the backup onto its directory and
// returns the chain's labels with the backup's own appended.
func (r rebuildStep) apply(ctx context.Context, cat *catalog.Catalog, labels []incremental.Label, progress func(done, total int64)) ([]incremental.Label, error) {
	seen := map[string]bool{}
	archives, skipped := r.archives()
	var label []byte
	dirs := map[string]map[string]bool{}
	var done int64
	for _, ad := range archives {
		root, err := os.OpenRoot(ad.root)
		if err != nil {
			return labels, err
		}
		a := newApplier(ctx, root, r.man, ad.prefix, ad.inTS, r.newest, seen)
		a.full = r.full
		for _, p := range ad.parts {
			a.budget += p.RawSize
		}
		base := done
		err = streamParts(ctx, cat, ad.parts, r.parallel, func(n, t int64) { progress(base+n, t) }, a.run)
		root.Close()
		if err != nil {
			return labels, fmt.Errorf("backup %s: %w", r.b.ID, err)
		}
		for _, p := range ad.parts {
			done += p.RawSize
		}
		if !ad.inTS {
			label = a.label
		}
		dirs[ad.root] = a.dirs
	}
	if missing := missingMembers(r.man, seen, skipped); len(missing) > 0 {
		return labels, fmt.Errorf("backup %s: %d file(s) of its manifest not in its archives, e.g. %s", r.b.ID, len(missing), missing[0])
	}
	if label == nil {
		return labels, fmt.Errorf("backup %s: no backup_label in its archive", r.b.ID)
	}
	l, err := checkLabel(label, r.b)
	if err != nil {
		return labels, err
	}
	labels = append(labels, l)
	if err := incremental.CheckChain(labels); err != nil {
		return labels, fmt.Errorf("backup %s: %w", r.b.ID, err)
	}
	if r.full {
		return labels, nil
	}
	for _, ad := range archives {
		var keepDirs map[string]bool
		if r.newest {
			keepDirs = dirs[ad.root]
		}
		if err := removeUnlisted(ad.root, r.man, ad.prefix, ad.inTS, keepDirs); err != nil {
			return labels, fmt.Errorf("backup %s: delete the files it lacks: %w", r.b.ID, err)
		}
	}
	return labels, nil
}

// finishDir writes the recovery settings and syncs the directory, as Run
// does for a full backup.
func finishDir(ctx context.Context, dir string, opts Options, settings RecoverySettings, backupID string, began time.Time) error {
	if opts.NoArchive {
		if err := appendConf(dir, "# written by logship restore --no-archive\narchive_mode = 'off'\n"); err != nil {
			return err
		}
	}
	if err := WriteRecoveryConfig(dir, settings); err != nil {
		return err
	}
	if err := writeMarker(dir, backupID, began, time.Now()); err != nil {
		return err
	}
	return SyncTree(ctx, dir)
}

// streamParts runs the tar stream of parts through consume, which must read
// it to the end of the archive; only zero padding may follow. Parts are
// fetched and verified ahead (feedParts). An error of consume's comes back
// as it is when it came first; the feed's otherwise.
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
