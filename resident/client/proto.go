// Package client is the thin side of the resident shipper: what
// logship-push, PostgreSQL's archive_command, runs for each WAL file. It
// links the standard library only (no SDK, metrics or protocol packages),
// so that the process is up in about a millisecond; everything heavy runs
// in the resident process it talks to (package resident).
//
// This file holds what both sides share: where the socket is, how a
// configuration and a binary are identified, and the one-line protocol.
package client

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Protocol is the first field of every request; a resident that reads
// another one answers stale, and the client starts a resident of its own
// binary.
const Protocol = "logship-resident/1"

// Handover, in place of a build id, is a resident started by hand asking
// one a client started to leave it the pg_wal directory.
const Handover = "handover"

// Answer kinds.
const (
	KindOK       = "ok"       // the file is durable (object and catalog record stored)
	KindFail     = "fail"     // the push failed: exit with Code, print Msg
	KindStale    = "stale"    // another binary or configuration: start a new resident
	KindRetry    = "retry"    // the resident is stopping: ask again (a new one)
	KindMismatch = "mismatch" // a resident that will not serve this request: push directly
)

// Answer is the resident's reply to one request.
type Answer struct {
	Kind string
	Code int
	Msg  string
}

// FormatRequest is the request line for the WAL file at the absolute path.
func FormatRequest(build, key, path string) string {
	return Protocol + "\t" + build + "\t" + key + "\t" + path + "\n"
}

// ParseRequest reads a request line (without its newline).
func ParseRequest(line string) (build, key, path string, err error) {
	f := strings.Split(line, "\t")
	if len(f) != 4 || f[0] != Protocol {
		return "", "", "", fmt.Errorf("not a %s request", Protocol)
	}
	return f[1], f[2], f[3], nil
}

// FormatAnswer is the answer line; Msg is kept to one line.
func FormatAnswer(a Answer) string {
	msg := strings.Join(strings.Fields(a.Msg), " ")
	return a.Kind + "\t" + strconv.Itoa(a.Code) + "\t" + msg + "\n"
}

// ParseAnswer reads an answer line (without its newline).
func ParseAnswer(line string) (Answer, error) {
	f := strings.SplitN(line, "\t", 3)
	if len(f) != 3 {
		return Answer{}, errors.New("malformed answer from the resident")
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return Answer{}, errors.New("malformed answer from the resident")
	}
	return Answer{Kind: f[0], Code: code, Msg: f[2]}, nil
}

// Location is where the resident of one pg_wal directory listens, locks
// and logs.
type Location struct {
	Dir, Socket, Lock, Log string
}

// maxSocketPath is sun_path's size on Linux less its terminating NUL.
const maxSocketPath = 107

// Locate returns the resident's files for walDir, creating their folder
// (mode 0700, so that only its owner reaches the socket): walDir's
// logship-resident/, or, when that makes a socket path longer than a unix
// socket accepts, a folder under the temporary directory named after a
// hash of walDir.
func Locate(walDir string) (Location, error) {
	dir := filepath.Join(walDir, "logship-resident")
	if len(filepath.Join(dir, "sock")) > maxSocketPath {
		sum := sha256.Sum256([]byte(walDir))
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("logship-resident-%d-%s", os.Getuid(), hex.EncodeToString(sum[:8])))
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return Location{}, err
	}
	if err := ownDir(dir); err != nil {
		return Location{}, err
	}
	return Location{Dir: dir, Socket: filepath.Join(dir, "sock"), Lock: filepath.Join(dir, "lock"), Log: filepath.Join(dir, "log")}, nil
}

// ownDir refuses a folder that is not a real directory of ours closed to
// others: the socket in it is the archiver's word that a file is durable.
func ownDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s: not a directory of uid %d closed to others", dir, os.Getuid())
	}
	return nil
}

// Key identifies a configuration: the global arguments (everything before
// the WAL path, or before the resident command) and the LOGSHIP_*
// environment, except the resident's own LOGSHIP_RESIDENT_* knobs. Equal
// keys resolve to the same settings, as long as the config file does not
// change (the resident watches that itself).
func Key(globals, environ []string) string {
	var env []string
	for _, kv := range environ {
		if strings.HasPrefix(kv, "LOGSHIP_") && !strings.HasPrefix(kv, "LOGSHIP_RESIDENT_") {
			env = append(env, kv)
		}
	}
	sort.Strings(env)
	h := sha256.New()
	for _, s := range globals {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	for _, s := range env {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// BuildID identifies the logship binary at path by its file (device,
// inode, size, modification time): an upgrade replaces it, and the
// resident it started then answers stale.
func BuildID(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", errors.New("no file identity")
	}
	return fmt.Sprintf("%x-%x-%x-%x", st.Dev, st.Ino, fi.Size(), fi.ModTime().UnixNano()), nil
}
