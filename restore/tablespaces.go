package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/logship/logship/catalog"
)

// ErrBadTablespaceMap is a --tablespace-map that does not fit the backup.
var ErrBadTablespaceMap = errors.New("bad tablespace map")

// tablespaceDest is where one tablespace of the backup is restored.
type tablespaceDest struct {
	OID      uint32
	Location string // on the source, as recorded
	Dest     string // where it goes: Location, or what the map says
}

// prefix is the path backup_manifest lists the tablespace's files under.
func (t tablespaceDest) prefix() string {
	return "pg_tblspc/" + strconv.FormatUint(uint64(t.OID), 10) + "/"
}

// ParseTablespaceMap reads OLD=NEW pairs (--tablespace-map), both absolute.
func ParseTablespaceMap(pairs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, p := range pairs {
		old, dest, ok := strings.Cut(p, "=")
		if !ok || !filepath.IsAbs(old) || !filepath.IsAbs(dest) {
			return nil, fmt.Errorf("%w: %q: want OLD=NEW, both absolute paths", ErrBadTablespaceMap, p)
		}
		old = filepath.Clean(old)
		if _, dup := m[old]; dup {
			return nil, fmt.Errorf("%w: %s mapped twice", ErrBadTablespaceMap, old)
		}
		m[old] = filepath.Clean(dest)
	}
	return m, nil
}

// planTablespaces decides where each tablespace of b (the newest backup of
// the chain) goes and checks every destination before anything is written:
// it must be absent or an empty directory, outside the target directory,
// not inside a running cluster's data directory, and used once. A
// destination that exists and is not empty is refused even with --force,
// which clears only the target directory: on the source's host, a
// tablespace's original path is the source's own, in use.
func planTablespaces(b catalog.Backup, mapping map[string]string, dataDir, storeRoot string) ([]tablespaceDest, error) {
	known := map[string]bool{}
	var out []tablespaceDest
	used := map[string]uint32{}
	for _, ts := range b.Tablespaces {
		loc := filepath.Clean(ts.Location)
		known[loc] = true
		dest, mapped := mapping[loc]
		if !mapped {
			dest = loc
		}
		if !filepath.IsAbs(dest) {
			return nil, fmt.Errorf("%w: tablespace %d: location %q is not absolute", ErrBadTablespaceMap, ts.OID, dest)
		}
		if other, dup := used[dest]; dup {
			return nil, fmt.Errorf("%w: tablespaces %d and %d would both go to %s", ErrBadTablespaceMap, other, ts.OID, dest)
		}
		used[dest] = ts.OID
		if within(dest, dataDir) || within(dataDir, dest) {
			return nil, fmt.Errorf("%w: tablespace %d would go to %s, which overlaps the target directory %s", ErrBadTablespaceMap, ts.OID, dest, dataDir)
		}
		if err := checkTablespaceDest(dest, ts.OID, loc, mapped, storeRoot); err != nil {
			return nil, err
		}
		out = append(out, tablespaceDest{OID: ts.OID, Location: ts.Location, Dest: dest})
	}
	var unknown []string
	for old := range mapping {
		if !known[old] {
			unknown = append(unknown, old)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var have []string
		for _, ts := range b.Tablespaces {
			have = append(have, ts.Location)
		}
		return nil, fmt.Errorf("%w: backup %s has no tablespace at %s (its tablespaces: %s)", ErrBadTablespaceMap, b.ID, strings.Join(unknown, ", "), orNone(have))
	}
	return out, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// checkTablespaceDest refuses a destination the target guard refuses for
// the data directory itself (the store's folder, a data directory, a
// running server's), or one that is not an empty or absent directory.
func checkTablespaceDest(dest string, oid uint32, loc string, mapped bool, storeRoot string) error {
	hint := fmt.Sprintf("restore it elsewhere with --tablespace-map %s=NEW", loc)
	if mapped {
		hint = "choose an empty or absent directory"
	}
	if err := guardPlace(dest, realPath(dest), storeRoot); err != nil {
		return fmt.Errorf("tablespace %d: %w; %s", oid, err, hint)
	}
	fi, err := os.Lstat(dest)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("tablespace %d location %s: %w", oid, dest, err)
	case !fi.IsDir():
		return fmt.Errorf("%w: tablespace %d location %s exists and is not a directory; %s", ErrNotEmpty, oid, dest, hint)
	}
	entries, err := os.ReadDir(dest)
	if err != nil {
		return fmt.Errorf("tablespace %d location %s: %w", oid, dest, err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("%w: tablespace %d location %s holds %d entries (%s, ...): it may be in use (on the source's host it is the source's own); %s",
			ErrNotEmpty, oid, dest, len(entries), entries[0].Name(), hint)
	}
	return nil
}

// makeTablespaceDirs creates every destination, mode 0700 as PostgreSQL
// wants it.
func makeTablespaceDirs(dests []tablespaceDest) error {
	for _, t := range dests {
		if err := os.MkdirAll(t.Dest, 0o700); err != nil {
			return fmt.Errorf("tablespace %d: %w", t.OID, err)
		}
		if err := os.Chmod(t.Dest, 0o700); err != nil {
			return fmt.Errorf("tablespace %d: %w", t.OID, err)
		}
	}
	return nil
}

// linkTablespaces writes pg_tblspc/<oid> links to the destinations and
// removes the backup's tablespace_map, which names the source's paths:
// PostgreSQL would otherwise recreate the links from it at startup.
func linkTablespaces(dir string, dests []tablespaceDest) error {
	for _, t := range dests {
		link := filepath.Join(dir, "pg_tblspc", strconv.FormatUint(uint64(t.OID), 10))
		if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
			return err
		}
		if err := os.Symlink(t.Dest, link); err != nil {
			return fmt.Errorf("tablespace %d: %w", t.OID, err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "tablespace_map")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// tablespaceTargets lists where the links in dir/pg_tblspc point: the
// directories a server started on dir writes to besides dir itself.
func tablespaceTargets(dir string) []string {
	entries, err := os.ReadDir(filepath.Join(dir, "pg_tblspc"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, "pg_tblspc", e.Name())); err == nil && filepath.IsAbs(target) {
			out = append(out, target)
		}
	}
	return out
}

// tablespaceParents are the parents of tablespaceTargets, which the server's
// user must be able to reach.
func tablespaceParents(dir string) []string {
	var out []string
	for _, t := range tablespaceTargets(dir) {
		out = append(out, filepath.Dir(t))
	}
	return out
}
