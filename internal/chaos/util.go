package chaos

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// copyForDamage copies what wal-fetch of name reads in the file:// store at
// root (the source record, the WAL record and the object) to a scratch
// store, so that damaging the copy leaves the real store alone.
func copyForDamage(root, scratch, name string) error {
	recs, _ := filepath.Glob(filepath.Join(root, "syn", "catalog", "wal", name+"~*"))
	files := append([]string{filepath.Join("syn", "catalog", "source"), filepath.Join("syn", "wal", name)}, rel(root, recs)...)
	for _, f := range files {
		if err := copyFile(filepath.Join(root, f), filepath.Join(scratch, f)); err != nil {
			return err
		}
	}
	return nil
}

func rel(root string, paths []string) []string {
	var out []string
	for _, p := range paths {
		r, err := filepath.Rel(root, p)
		if err == nil {
			out = append(out, r)
		}
	}
	return out
}

func copyFile(from, to string) error {
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// damage changes the object at path in one of several ways and says how.
func (c *Campaign) damage(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var how string
	switch c.rng.IntN(5) {
	case 0, 1: // flipped bytes, anywhere: header or body
		n := 1 + c.rng.IntN(4)
		var at []string
		for range n {
			i := c.rng.IntN(len(b))
			b[i] ^= byte(1 + c.rng.IntN(255))
			at = append(at, fmt.Sprint(i))
		}
		how = "flipped bytes at " + strings.Join(at, ",") + " of " + fmt.Sprint(len(b))
	case 2: // a cut transfer
		n, size := c.rng.IntN(len(b)), len(b)
		b = b[:n]
		how = fmt.Sprintf("truncated to %d of %d bytes", n, size)
	case 3: // trailing garbage
		n := 1 + c.rng.IntN(64)
		for range n {
			b = append(b, byte(c.rng.Uint32()))
		}
		how = fmt.Sprintf("%d bytes appended", n)
	default: // a zeroed run of the body (a lost block)
		start := c.rng.IntN(len(b))
		end := min(len(b), start+1+c.rng.IntN(4096))
		changed := false
		for i := start; i < end; i++ {
			changed = changed || b[i] != 0
			b[i] = 0
		}
		if !changed {
			b[start] = 1
		}
		how = fmt.Sprintf("bytes %d..%d zeroed", start, end)
	}
	return how, os.WriteFile(path, b, 0o644)
}

// procsMentioning lists the pids of processes whose command line contains
// every one of words.
func procsMentioning(words ...string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := string(b)
		ok := true
		for _, w := range words {
			ok = ok && strings.Contains(cmd, w)
		}
		if ok {
			pids = append(pids, pid)
		}
	}
	return pids
}

// kill9 sends SIGKILL to pid.
func kill9(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }
