package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// ErrTablespaceInUse means a fetched segment creates a tablespace in a
// folder that exists and holds files. Replaying that record would make the
// restored server adopt the folder and write into it: on the source's own
// host, into the source's live tablespace. Recovery must stop (wal-fetch
// exits 200) before PostgreSQL sees the segment.
var ErrTablespaceInUse = errors.New("the WAL creates a tablespace in a folder that is in use")

// errNotArchived is the store's "absent" for the segment after the one
// checked; unlike ErrAbsent it does not end recovery.
var errNotArchived = errors.New("not in the archive")

// guardTablespaces checks the verified segment at tmp, about to become dest
// (the restored server's pg_wal/…), before PostgreSQL may replay it: every
// CREATE TABLESPACE it holds must name a folder that is absent, empty,
// inside the restored data directory, or already this server's tablespace.
// Anything else is refused with ErrTablespaceInUse: a restore, a drill
// above all, must never write outside its target.
func guardTablespaces(ctx context.Context, cat *catalog.Catalog, name, tmp, dest string) error {
	if len(name) < 24 || (len(name) > 24 && !strings.HasSuffix(name, ".partial")) {
		return nil // a history or backup history file holds no records
	}
	seg, err := os.ReadFile(tmp)
	if err != nil {
		return err
	}
	h, err := pg.ParseSegmentHeader(seg)
	if err != nil || len(seg) != int(h.SegmentSize) {
		return nil // not a segment PostgreSQL could replay either
	}
	wf, err := pg.ParseWALFileName(name, uint64(h.SegmentSize))
	if err != nil {
		return err
	}
	dataDir := restoredDataDir(dest)
	// A record that begins here may end in the next segment.
	next := func() ([]byte, error) {
		nextName := pg.SegmentName(wf.Timeline, wf.SegNo+1, uint64(h.SegmentSize))
		b, err := readWALObject(ctx, cat, nextName, int64(h.SegmentSize))
		switch {
		case errors.Is(err, errNotArchived) && isStandby(dataDir):
			// A standby asks again later, when the next one is there;
			// "absent" is its "not yet".
			return nil, fmt.Errorf("%s ends in a record that may create a tablespace and goes on in %s, not archived yet: %w", name, nextName, ErrAbsent)
		case errors.Is(err, errNotArchived):
			// Any other recovery cannot replay a record whose rest is
			// not archived: it ends before it, at the archive's end.
			// Unless the next segment is archived before the server
			// asks for it: fetching that one checks the record then.
			return nil, errCheckWithNext
		case err != nil:
			// Not ErrAbsent: ending recovery before this segment would
			// be a silently short restore.
			return nil, fmt.Errorf("%s ends in a record that may create a tablespace and goes on in %s, which is needed to check it: %w", name, nextName, err)
		}
		return b, nil
	}
	if err := checkPendingBefore(ctx, cat, dataDir, wf, seg); err != nil {
		return err
	}
	creates, err := pg.ScanTablespaceCreates(seg, next)
	pending := errors.Is(err, errCheckWithNext)
	if err != nil && !pending {
		return fmt.Errorf("check %s for tablespaces: %w", name, err)
	}
	if err := checkTablespaceFolders(dataDir, creates); err != nil {
		return err
	}
	if pending {
		return notePending(dataDir, name)
	}
	return nil
}

// errCheckWithNext stops a scan at a record that goes on in a segment not
// archived yet; the record is checked when that segment is fetched.
var errCheckWithNext = errors.New("the record goes on in a segment not archived yet")

// pendingFile, in the restored server's pg_wal, names the segment whose
// last record could not be checked for want of the next segment.
const pendingFile = "logship-tablespace-check-pending"

func notePending(dataDir, name string) error {
	if err := os.WriteFile(filepath.Join(dataDir, "pg_wal", pendingFile), []byte(name+"\n"), 0o600); err != nil {
		return fmt.Errorf("%s ends in a record that may create a tablespace and goes on in the next segment, not archived yet; noting that it must be checked with it: %w", name, err)
	}
	return nil
}

// checkPendingBefore checks, before seg (the segment wf) is handed over,
// the record that the segment before it ended in, if that one was handed
// over unchecked (notePending): replaying seg would complete that record.
func checkPendingBefore(ctx context.Context, cat *catalog.Catalog, dataDir string, wf pg.WALFile, seg []byte) error {
	path := filepath.Join(dataDir, "pg_wal", pendingFile)
	b, err := os.ReadFile(path)
	if err != nil || wf.SegNo == 0 {
		return nil
	}
	prev := pg.SegmentName(wf.Timeline, wf.SegNo-1, uint64(len(seg)))
	if strings.TrimSpace(string(b)) != prev {
		return nil
	}
	prevSeg, err := readWALObject(ctx, cat, prev, int64(len(seg)))
	if err != nil {
		return fmt.Errorf("check the end of %s for tablespaces, which goes on in %s: %w", prev, wf.Name, err)
	}
	creates, err := pg.ScanTablespaceCreates(prevSeg, func() ([]byte, error) { return seg, nil })
	if err != nil {
		return fmt.Errorf("check the end of %s for tablespaces: %w", prev, err)
	}
	if err := checkTablespaceFolders(dataDir, creates); err != nil {
		return err
	}
	return os.Remove(path)
}

// checkTablespaceFolders checks the folder of every CREATE TABLESPACE.
func checkTablespaceFolders(dataDir string, creates []pg.TablespaceCreate) error {
	for _, tc := range creates {
		if err := checkTablespaceFolder(dataDir, tc); err != nil {
			return err
		}
	}
	return nil
}

// checkTablespaceFolder allows the folder of a CREATE TABLESPACE when
// replaying it cannot touch anything but the restored server's own files.
func checkTablespaceFolder(dataDir string, tc pg.TablespaceCreate) error {
	path := tc.Path
	if !filepath.IsAbs(path) {
		return nil // in-place (pg_tblspc/<oid>): inside the data directory
	}
	if within(dataDir, path) {
		return nil
	}
	// Replayed already by this server (recovery restarted): its own link.
	if link, err := os.Readlink(filepath.Join(dataDir, "pg_tblspc", fmt.Sprint(tc.OID))); err == nil && filepath.Clean(link) == filepath.Clean(path) {
		return nil
	}
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // PostgreSQL stops on its own: the folder must exist
	case err == nil && len(entries) == 0:
		return nil // what a clean restore prepares for the tablespace
	case err == nil:
		return fmt.Errorf("%w: the record at %s creates tablespace %d at %s, which exists and holds %s (%d entries): replaying it would make the restored server write there, into the source's tablespace if this host runs the source; restore where that path is absent or an empty folder",
			ErrTablespaceInUse, tc.LSN, tc.OID, path, entries[0].Name(), len(entries))
	default:
		return fmt.Errorf("%w: the record at %s creates tablespace %d at %s, which cannot be checked: %w", ErrTablespaceInUse, tc.LSN, tc.OID, path, err)
	}
}

// isStandby reports whether the server recovers as a standby, which keeps
// asking for a segment it was told is absent.
func isStandby(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "standby.signal"))
	return err == nil
}

// restoredDataDir is the data directory of the server dest is fetched for:
// the parent of the pg_wal folder dest lies in (prefetched segments lie one
// level deeper), else the working directory, where PostgreSQL runs its
// restore_command.
func restoredDataDir(dest string) string {
	abs, err := filepath.Abs(dest)
	if err == nil {
		for d := filepath.Dir(abs); d != filepath.Dir(d); d = filepath.Dir(d) {
			if filepath.Base(d) == "pg_wal" {
				return filepath.Dir(d)
			}
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// within reports whether path is dir or lies inside it, symbolic links
// resolved where they exist.
func within(dir, path string) bool {
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// readWALObject reads the WAL file name from the store into memory,
// checked like FetchWAL checks it; at most max bytes.
func readWALObject(ctx context.Context, cat *catalog.Catalog, name string, max int64) ([]byte, error) {
	var o io.ReadCloser
	whole, err := cat.OpenWAL(ctx, name)
	if err == nil {
		o = whole
	} else if errors.Is(err, catalog.ErrNotExist) {
		o, _, err = openStreamed(ctx, cat, name) // what wal-fetch will serve
	}
	if errors.Is(err, catalog.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, errNotArchived)
	}
	if err != nil {
		return nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(io.LimitReader(o, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than a segment", name)
	}
	return b, nil
}
