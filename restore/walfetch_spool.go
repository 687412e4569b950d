package restore

import (
	"crypto/sha256"
	"encoding/json"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/logship/logship/pg"
)

// The prefetch folder (<pg_wal>/logship-prefetch/) holds segments under
// their own names; what each one must hold is kept beside the folder, in
// <pg_wal>/logship-prefetch.state, written only once the files it lists
// were verified against their records (size and SHA-256, as every fetch).
// A spooled file is handed to PostgreSQL only when the state lists it for
// the same store and source and its content has the size and CRC-32C
// listed there, computed from the verified bytes as they were written, so
// that a file a killed process or a crash left behind, damaged since, or
// from another store, is never trusted on its name alone: it is fetched
// again. CRC-32C rather than SHA-256 again: it catches any such damage at
// a tenth of the cost, on the path where PostgreSQL waits.

// stateSuffix names the state file: the prefetch folder's name plus it.
const stateSuffix = ".state"

// maxStateSize bounds the state file read back: a few hundred entries.
const maxStateSize = 1 << 20

// spoolState is what the last prefetch left in the folder.
type spoolState struct {
	// Stamp names the store and source the files come from (AheadOptions).
	Stamp string `json:"stamp"`
	// Window is how many segments the last prefetch fetched ahead, and Last
	// the last of them: a request for the one after Last means PostgreSQL
	// used the whole window, and the next one is larger.
	Window int    `json:"window"`
	Last   string `json:"last"`
	// SegmentSize is the source's, read from its record by the prefetch
	// that wrote the state: the next one needs not ask the store again.
	SegmentSize uint64 `json:"segment_size,omitempty"`
	// Files are the verified files in the folder.
	Files map[string]spooledFile `json:"files"`
	// Skipped are segments a prefetcher will not fetch (not recorded, or
	// their fetch failed): a wal-fetch waiting for one fetches it itself.
	Skipped []string `json:"skipped,omitempty"`
}

// spooledFile is what a verified file of the folder holds: SHA-256 as
// its record says, CRC-32C to check it again when it is handed over.
type spooledFile struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	CRC32C uint32 `json:"crc32c"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func spoolDir(dest string) string { return filepath.Join(filepath.Dir(dest), prefetchDir) }
func statePath(dir string) string { return dir + stateSuffix }
func (f spooledFile) valid() bool { return f.Size >= 0 && len(f.SHA256) == 2*sha256.Size }

// readState reads the folder's state; an unreadable or foreign one is an
// empty state, which trusts no file.
func readState(dir, stamp string) spoolState {
	empty := spoolState{Stamp: stamp, Files: map[string]spooledFile{}}
	f, err := os.Open(statePath(dir))
	if err != nil {
		return empty
	}
	defer f.Close()
	var st spoolState
	if json.NewDecoder(io.LimitReader(f, maxStateSize)).Decode(&st) != nil || st.Stamp != stamp || st.Files == nil {
		return empty
	}
	return st
}

// writeState replaces the state file whole (a temporary file renamed).
func writeState(dir string, st spoolState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := statePath(dir) + ".logship-tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, statePath(dir)); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// saveState writes st when the folder holds files, and otherwise leaves
// neither the folder nor a state: a fetch that prefetched nothing adds
// nothing beside DEST.
func saveState(dir string, st spoolState) {
	if len(st.Files) > 0 && writeState(dir, st) == nil {
		return
	}
	_ = os.Remove(statePath(dir))
	_ = os.Remove(dir) // only if empty
}

// fileHolds reports whether the file at p holds exactly what f says.
func fileHolds(p string, f spooledFile) bool {
	if !f.valid() {
		return false
	}
	in, err := os.Open(p)
	if err != nil {
		return false
	}
	defer in.Close()
	if fi, err := in.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size {
		return false
	}
	h := crc32.New(castagnoli)
	if n, err := io.Copy(h, in); err != nil || n != f.Size {
		return false
	}
	return h.Sum32() == f.CRC32C
}

// TakePrefetched moves the prefetched file name into dest if the state
// lists it for stamp and its content still matches; it reports whether it
// did. Anything else (not prefetched, foreign, damaged) is false, and a
// damaged file is removed: the caller fetches name from the store. It
// needs no store, so wal-fetch answers from it before connecting to one.
func TakePrefetched(name, dest, stamp string) bool {
	if _, err := pg.ParseWALFileName(name, 1<<20); err != nil {
		return false // and no path made of it
	}
	dir := spoolDir(dest)
	p := filepath.Join(dir, name)
	if _, err := os.Lstat(p); err != nil {
		return false
	}
	f, ok := readState(dir, stamp).Files[name]
	if !ok || !fileHolds(p, f) {
		os.Remove(p)
		return false
	}
	return os.Rename(p, dest) == nil
}
