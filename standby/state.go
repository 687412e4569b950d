package standby

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/logship/logship/pg"
)

// StateFile is the name of the file a standby keeps in its data directory,
// so that later steps and failover know what it stands on.
const StateFile = "logship_standby.json"

// State is what a standby's directory holds about itself.
type State struct {
	Source string `json:"source"`
	Store  string `json:"store"`
	// Mark is the mark the server was last checked paused at; "" while
	// the first start after the restore has not succeeded yet.
	Mark     string        `json:"mark,omitempty"`
	LSN      pg.LSN        `json:"lsn,omitempty"`
	Timeline pg.TimelineID `json:"timeline,omitempty"`
	MarkTime time.Time     `json:"mark_time,omitzero"`
	// Promoted is set by failover: the directory is a primary now, and
	// no step touches it again.
	Promoted bool      `json:"promoted,omitempty"`
	Updated  time.Time `json:"updated"`
}

// ErrNotStandby is a directory that holds files but no standby state.
var ErrNotStandby = errors.New("not a logship standby")

// readState reads dir's state; ok is false when there is none.
func readState(dir string) (State, bool, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("%s: %w", filepath.Join(dir, StateFile), err)
	}
	return st, true, nil
}

// ReadState is readState for callers outside: a missing file is
// ErrNotStandby.
func ReadState(dir string) (State, error) {
	st, ok, err := readState(dir)
	if err == nil && !ok {
		err = fmt.Errorf("%w: %s has no %s", ErrNotStandby, dir, StateFile)
	}
	return st, err
}

// writeState replaces dir's state atomically.
func writeState(dir string, st State) error {
	st.Updated = time.Now().UTC()
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StateFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	// The directory's owner (the postgres user) must be able to read
	// every file in it: a base backup of a promoted standby reads them all.
	if fi, err := os.Stat(dir); err == nil && os.Geteuid() == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if err := os.Chown(tmp, int(st.Uid), int(st.Gid)); err != nil {
				os.Remove(tmp)
				return err
			}
		}
	}
	return os.Rename(tmp, filepath.Join(dir, StateFile))
}

// isEmptyDir says whether dir is absent or holds nothing.
func isEmptyDir(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	return len(entries) == 0, err
}
