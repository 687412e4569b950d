package chaos

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/logship/logship/internal/pgtest"
)

// pushKill kills wal-push of a new segment at a random moment, then checks
// that the store holds nothing or the whole file and that a retry works.
// On S3, half the pushes go through toxiproxy with latency, so that more
// kills land in the middle of the upload.
func (c *Campaign) pushKill(tg *target) (bool, error) {
	s := tg.syn
	name := s.newName()
	p, b := c.makeSegment(c.work, name, c.rng.Float64())
	defer os.Remove(p)
	flags, kind := s.flags, "wal-push@"+tg.name
	if tg.proxy != nil && c.rng.IntN(2) == 0 {
		ms := 10 + c.rng.IntN(150)
		if _, err := tg.proxy.AddToxic("chaos", "latency", "downstream", 1, toxiproxy.Attributes{"latency": ms}); err != nil {
			return false, fmt.Errorf("add toxic: %w", err)
		}
		defer tg.proxy.RemoveToxic("chaos")
		flags, kind = append(append([]string{}, tg.faulty...), "--source", "syn"), "wal-push through latency@"+tg.name
	}
	pr, err := c.spawn(nil, append(append([]string{}, flags...), "wal-push", p)...)
	if err != nil {
		return false, err
	}
	r := c.finish(pr, c.killMoment(kind, 100*time.Millisecond), pushLimit)
	c.learn(kind, r)
	landed := r.killed && !r.hung
	c.afterInterruptedPush(s, tg.name, name, p, b, r)
	c.checkSegments(tg, []string{name}, false)
	return landed, nil
}

// pushHold kills wal-push (file:// only) at the moment its object is half
// written, through the store's crash-test hook; the final name must not
// exist.
func (c *Campaign) pushHold(tg *target) (bool, error) {
	s := tg.syn
	name := s.newName()
	p, b := c.makeSegment(c.work, name, c.rng.Float64())
	defer os.Remove(p)
	marker := filepath.Join(c.work, "holding-"+name)
	pr, err := c.spawn([]string{"LOGSHIP_TEST_HOLD_IN_PUT=" + marker}, append(append([]string{}, s.flags...), "wal-push", p)...)
	if err != nil {
		return false, err
	}
	held := pgtest.Poll(30*time.Second, func() bool {
		_, err := os.Stat(marker)
		return err == nil
	})
	r := c.finish(pr, 0, pushLimit)
	os.Remove(marker)
	if !held {
		c.finding("hang", "wal-push with LOGSHIP_TEST_HOLD_IN_PUT never reached the middle of its write: "+r.String())
		c.fig.Hangs++
	}
	if _, err := os.Stat(filepath.Join(tg.dir, "syn", "wal", name)); err == nil && r.killed {
		c.fig.Torn++
		c.finding("torn", fmt.Sprintf("%s: wal-push killed mid-write left an object under the final name %s", tg.name, name))
	}
	c.afterInterruptedPush(s, tg.name, name, p, b, r)
	c.checkSegments(tg, []string{name}, false)
	return r.killed && held, nil
}

// afterInterruptedPush checks the store after a push that was killed or
// failed (or succeeded: then it is acknowledged), and retries it, as
// PostgreSQL does; the retry must succeed.
func (c *Campaign) afterInterruptedPush(s *synSet, where, name, path string, b []byte, r result) {
	if r.code == 0 {
		c.acknowledge(s, name, b)
		return
	}
	fr, got := c.fetch(s.flags, name)
	switch {
	case fr.code == 0 && !sameBytes(got, b):
		c.fig.CorruptToPG++
		c.fig.CorruptBytes += int64(len(got))
		c.finding("corrupt", fmt.Sprintf("%s: after an interrupted push, wal-fetch of %s exited 0 with %d wrong bytes", where, name, len(got)))
	case fr.code == 1 || fr.code == 0:
	default:
		c.fig.Torn++
		c.finding("torn", fmt.Sprintf("%s: an interrupted push (%s) left %s unreadable: %s", where, r, name, fr))
	}
	rr := c.run(pushLimit, nil, append(append([]string{}, s.flags...), "wal-push", path)...)
	if rr.code != 0 {
		c.fig.RetryFailed++
		c.finding("retry failed", fmt.Sprintf("%s: after %s\n  the retry failed: %s", where, r, rr))
		return
	}
	c.acknowledge(s, name, b)
}

// race pushes two different files under one new name at once, one of them
// killed at a random moment half the time: at most one is acknowledged,
// and the store holds exactly the acknowledged one.
func (c *Campaign) race(tg *target) (bool, error) {
	s := tg.syn
	name := s.newName()
	dirA, dirB := filepath.Join(c.work, "a"), filepath.Join(c.work, "b")
	os.MkdirAll(dirA, 0o755)
	os.MkdirAll(dirB, 0o755)
	pa, a := c.makeSegment(dirA, name, c.rng.Float64())
	pb, b := c.makeSegment(dirB, name, c.rng.Float64())
	defer os.Remove(pa)
	defer os.Remove(pb)
	kill := time.Duration(-1)
	if c.rng.IntN(2) == 0 {
		kill = c.killMoment("wal-push@"+tg.name, 100*time.Millisecond)
	}
	procA, err := c.spawn(nil, append(append([]string{}, s.flags...), "wal-push", pa)...)
	if err != nil {
		return false, err
	}
	procB, err := c.spawn(nil, append(append([]string{}, s.flags...), "wal-push", pb)...)
	if err != nil {
		c.finish(procA, 0, pushLimit)
		return false, err
	}
	ra := c.finish(procA, -1, pushLimit)
	rb := c.finish(procB, kill, pushLimit)
	c.judgeRace(tg, s, name, a, b, ra, rb)
	c.checkSegments(tg, []string{name}, false)
	return true, nil
}

func (c *Campaign) judgeRace(tg *target, s *synSet, name string, a, b []byte, ra, rb result) {
	fr, got := c.fetch(s.flags, name)
	stored := "nothing"
	switch {
	case fr.code == 0 && sameBytes(got, a):
		stored = "A"
	case fr.code == 0 && sameBytes(got, b):
		stored = "B"
	case fr.code == 0:
		stored = "other"
	}
	switch {
	case ra.code == 0 && rb.code == 0:
		c.fig.Conflicts++
		c.finding("conflict", fmt.Sprintf("%s: two different files under %s were both acknowledged; the store holds %s", tg.name, name, stored))
	case ra.code == 0 && stored != "A", rb.code == 0 && stored != "B":
		c.fig.Lost++
		c.finding("lost", fmt.Sprintf("%s: race on %s: A exit %d, B exit %d, but the store holds %s (fetch: %s)", tg.name, name, ra.code, rb.code, stored, fr))
	case stored == "other":
		c.fig.CorruptToPG++
		c.fig.CorruptBytes += int64(len(got))
		c.finding("corrupt", fmt.Sprintf("%s: race on %s: wal-fetch exit 0 with neither file", tg.name, name))
	case fr.code != 0 && fr.code != 1:
		c.fig.Torn++
		c.finding("torn", fmt.Sprintf("%s: race on %s left it unreadable: %s", tg.name, name, fr))
	}
	switch stored {
	case "A":
		c.acknowledge(s, name, a)
	case "B":
		c.acknowledge(s, name, b)
	case "nothing":
		// Neither won (B killed, A failed): PostgreSQL retries A.
		c.afterInterruptedPush(s, tg.name, name, filepath.Join(c.work, "a", name), a, result{code: 1})
	}
}

// corrupt damages a copy of an acknowledged object (file:// only) in a
// scratch store: wal-fetch must refuse it with an exit code above 125 and
// leave nothing at DEST.
func (c *Campaign) corrupt(tg *target) (bool, error) {
	s := tg.syn
	if len(s.names) == 0 {
		return false, c.pushNew(s)
	}
	name := s.names[c.rng.IntN(len(s.names))]
	scratch := filepath.Join(c.work, "scratch")
	os.RemoveAll(scratch)
	defer os.RemoveAll(scratch)
	if err := copyForDamage(tg.dir, scratch, name); err != nil {
		return false, err
	}
	obj := filepath.Join(scratch, "syn", "wal", name)
	how, err := c.damage(obj)
	if err != nil {
		return false, err
	}
	flags := []string{"--store", "file://" + scratch, "--source", "syn"}
	r, got := c.fetch(flags, name)
	want := s.acked[name]
	switch {
	case r.code == 0 && (len(got) != want.size || sha256.Sum256(got) != want.sum):
		c.fig.CorruptToPG++
		c.fig.CorruptBytes += int64(len(got))
		c.finding("corrupt", fmt.Sprintf("%s: %s of %s: wal-fetch exited 0 with %d damaged bytes", tg.name, how, name, len(got)))
	case r.code == 1:
		c.fig.FalseAbsent++
		c.finding("false absent", fmt.Sprintf("%s: %s of %s: wal-fetch exit 1 (end of archive) for a damaged object: %s", tg.name, how, name, r))
	case r.code >= 0 && r.code <= 125:
		c.fig.WeakFetchExit++
		c.finding("damage not refused", fmt.Sprintf("%s: %s of %s: %s", tg.name, how, name, r))
	}
	return true, nil
}
