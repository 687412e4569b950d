package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// diskFull is a small tmpfs holding a file:// store of its own, filled up
// to a random few bytes short of what a push needs.
type diskFull struct {
	dir string
}

const diskFullSize = "48m"

func (c *Campaign) setupDiskFull() {
	d := &diskFull{dir: filepath.Join(c.work, "full")}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		fmt.Fprintln(c.cfg.Out, "chaos: disk-full faults skipped:", err)
		return
	}
	if err := d.mount(); err != nil {
		fmt.Fprintf(c.cfg.Out, "chaos: disk-full faults skipped: cannot mount a tmpfs (%v); run as root\n", err)
		return
	}
	c.t.Cleanup(func() { _ = exec.Command("umount", d.dir).Run() })
	c.diskFull = d
	for _, tg := range c.targets {
		if tg.dir != "" {
			tg.full = newSynSet([]string{"--store", "file://" + filepath.Join(d.dir, "store")}, "syn", tg.name+" (disk full)")
		}
	}
}

// mount mounts a fresh tmpfs with an empty store folder.
func (d *diskFull) mount() error {
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+diskFullSize, "tmpfs", d.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return os.Mkdir(filepath.Join(d.dir, "store"), 0o755)
}

func (d *diskFull) free() int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// fill takes all free space but leave bytes, in a filler file.
func (d *diskFull) fill(leave int64) (string, error) {
	p := filepath.Join(d.dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		return p, err
	}
	defer f.Close()
	if n := d.free() - leave; n > 0 {
		if err := syscall.Fallocate(int(f.Fd()), 0, 0, n); err != nil {
			return p, err
		}
	}
	return p, nil
}

// diskFullPush pushes a new segment to a store whose disk is nearly full:
// wal-push exits 0 with the object whole, or fails; once space is back,
// the retry succeeds and the object is byte-exact.
func (c *Campaign) diskFullPush(tg *target) (bool, error) {
	d, s := c.diskFull, tg.full
	if d.free() < 12<<20 {
		// Full of acknowledged segments: start again on a fresh tmpfs
		// (those segments are deliberately dropped with it).
		if out, err := exec.Command("umount", d.dir).CombinedOutput(); err != nil {
			return false, fmt.Errorf("umount %s: %v: %s", d.dir, err, out)
		}
		if err := d.mount(); err != nil {
			return false, err
		}
		*s = *newSynSet(s.flags[:2], "syn", s.where)
	}
	name := s.newName()
	p, b := c.makeSegment(c.work, name, c.rng.Float64())
	defer os.Remove(p)
	filler, err := d.fill(c.rng.Int64N(synSegSize * 3 / 2))
	if err != nil {
		os.Remove(filler)
		return false, fmt.Errorf("fill the tmpfs: %w", err)
	}
	r := c.run(pushLimit, nil, append(append([]string{}, s.flags...), "wal-push", p)...)
	c.logf("disk full: push %s exit %d in %s", name, r.code, r.dur.Round(time.Millisecond))
	os.Remove(filler)
	c.afterInterruptedPush(s, tg.name+" (disk full)", name, p, b, r)
	if _, ok := s.acked[name]; ok {
		c.checkAcked(s, tg.name+" (disk full)", name)
	}
	return true, nil
}
