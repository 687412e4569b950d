package server

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// OSUser is who the server processes run as.
type OSUser struct {
	UID, GID int
	Home     string
}

var (
	pgUserOnce sync.Once
	pgUser     OSUser
	pgUserErr  error
)

// PostgresUser looks up the postgres OS user (once), which PostgreSQL runs
// as when the caller is root: initdb and postgres refuse to run as root.
func PostgresUser() (OSUser, error) {
	pgUserOnce.Do(func() {
		u, err := user.Lookup("postgres")
		if err != nil {
			pgUserErr = err
			return
		}
		pgUser.UID, _ = strconv.Atoi(u.Uid)
		pgUser.GID, _ = strconv.Atoi(u.Gid)
		pgUser.Home = u.HomeDir
	})
	return pgUser, pgUserErr
}

// AsRoot reports whether this process runs as root, and so must hand the
// server to the postgres OS user.
func AsRoot() bool { return os.Geteuid() == 0 }

// Credential is what a process started as u runs with.
func (u OSUser) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}
}

// CleanEnv is this process's environment for a server: without the
// variables that start with one of drop (PGPORT would redirect the server
// or its restore command, PGDATA would point pg tools elsewhere), and with
// HOME set to home.
func CleanEnv(home string, drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOME=") || hasAnyPrefix(kv, drop) {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home)
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Chown hands root and everything under it to u. Lchown: a symlink (a
// tablespace link, say) must not hand over whatever it points at.
func (u OSUser) Chown(root string) error {
	return filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			return fmt.Errorf("hand %s to the postgres user: %w", p, err)
		}
		return nil
	})
}

// Reachable checks that u can search every parent of p (and p itself, if a
// directory) and execute p when it is an executable file.
func (u OSUser) Reachable(p string) error {
	for q := p; ; q = filepath.Dir(q) {
		fi, err := os.Stat(q)
		if err != nil {
			return err
		}
		if q != p || fi.IsDir() || fi.Mode()&0o111 != 0 {
			if !u.canExec(fi) && !(q == p && fi.IsDir()) {
				return fmt.Errorf("the postgres OS user cannot reach %s: %s is mode %v", p, q, fi.Mode().Perm())
			}
		}
		if q == filepath.Dir(q) {
			return nil
		}
	}
}

func (u OSUser) canExec(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	switch {
	case int(st.Uid) == u.UID:
		return fi.Mode()&0o100 != 0
	case int(st.Gid) == u.GID:
		return fi.Mode()&0o010 != 0
	}
	return fi.Mode()&0o001 != 0
}
