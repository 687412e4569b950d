package chaos

import (
	"crypto/sha256"
	"fmt"
	"os"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// toxic draws a network fault with random parameters.
func (c *Campaign) toxic() (desc, kind, stream string, tox float32, attrs toxiproxy.Attributes) {
	switch c.rng.IntN(6) {
	case 0:
		tox = 0.3 + 0.7*c.rng.Float32()
		return fmt.Sprintf("reset %.0f%% of connections", tox*100), "reset_peer", "downstream", tox, toxiproxy.Attributes{"timeout": c.rng.IntN(200)}
	case 1:
		ms := 50 + c.rng.IntN(400)
		return fmt.Sprintf("%d ms latency", ms), "latency", "downstream", 1, toxiproxy.Attributes{"latency": ms, "jitter": ms / 4}
	case 2:
		ms := 100 + c.rng.IntN(1500)
		return fmt.Sprintf("connections time out after %d ms", ms), "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": ms}
	case 3:
		return "blackhole", "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0}
	case 4:
		n := 1 + c.rng.IntN(600<<10)
		return fmt.Sprintf("upload cut after %d bytes", n), "limit_data", "upstream", 1, toxiproxy.Attributes{"bytes": n}
	default:
		n := 1 + c.rng.IntN(600<<10)
		return fmt.Sprintf("download cut after %d bytes", n), "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": n}
	}
}

// s3Fault runs a wal-push of a new segment, or a wal-fetch of an
// acknowledged one, through toxiproxy with a random network fault. A push
// exits 0 with the object whole, or fails and a retry works; a fetch exits
// 0 with the exact bytes or above 125 with nothing at DEST, never 1.
func (c *Campaign) s3Fault(tg *target) (bool, error) {
	s := tg.syn
	desc, kind, stream, tox, attrs := c.toxic()
	faulty := &synSet{flags: append(append([]string{}, tg.faulty...), "--source", "syn")}
	fetch := len(s.names) > 0 && c.rng.IntN(3) == 0
	var name string
	var p string
	var b []byte
	if fetch {
		name = s.names[c.rng.IntN(len(s.names))]
	} else {
		name = s.newName()
		p, b = c.makeSegment(c.work, name, 0.5+0.5*c.rng.Float64())
		defer os.Remove(p)
	}
	if _, err := tg.proxy.AddToxic("chaos", kind, stream, tox, attrs); err != nil {
		return false, fmt.Errorf("add toxic: %w", err)
	}
	var r result
	var got []byte
	if fetch {
		r, got = c.fetch(faulty.flags, name)
	} else {
		r = c.run(pushLimit, nil, append(append([]string{}, faulty.flags...), "wal-push", p)...)
	}
	if err := tg.proxy.RemoveToxic("chaos"); err != nil {
		return false, fmt.Errorf("remove toxic: %w", err)
	}
	c.logf("s3 %s: %s: exit %d in %s", desc, map[bool]string{true: "fetch", false: "push"}[fetch], r.code, r.dur)
	where := fmt.Sprintf("%s (%s)", tg.name, desc)
	if fetch {
		c.judgeFaultyFetch(s, where, name, r, got)
	} else {
		c.afterInterruptedPush(s, where, name, p, b, r)
	}
	c.checkSegments(tg, []string{name}, false)
	return true, nil
}

func (c *Campaign) judgeFaultyFetch(s *synSet, where, name string, r result, got []byte) {
	want := s.acked[name]
	switch {
	case r.code == 0 && (len(got) != want.size || sha256.Sum256(got) != want.sum):
		c.fig.CorruptToPG++
		c.fig.CorruptBytes += int64(len(got))
		c.finding("corrupt", fmt.Sprintf("%s: wal-fetch of %s exited 0 with %d wrong bytes", where, name, len(got)))
	case r.code == 1:
		c.fig.FalseAbsent++
		c.finding("false absent", fmt.Sprintf("%s: wal-fetch of the stored %s exited 1 (end of archive): %s", where, name, r))
	case r.code > 1 && r.code <= 125:
		c.fig.WeakFetchExit++
		c.finding("weak exit", fmt.Sprintf("%s: wal-fetch of %s: %s", where, name, r))
	case r.code != 0 && got != nil:
		c.fig.CorruptToPG++
		c.finding("file at DEST", fmt.Sprintf("%s: a failed wal-fetch of %s left %d bytes at DEST", where, name, len(got)))
	}
}
