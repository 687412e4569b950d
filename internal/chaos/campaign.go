// Package chaos runs a bounded fault campaign against the logship CLI:
// kill -9 of wal-push, backup, mark, purge and restore at random moments,
// create-only races, damaged objects, a full disk and S3 network faults,
// on file:// and (when a test S3 server is configured) S3. After every
// fault it checks that each acknowledged segment is still byte-exact in the
// store and that the store verifies; every CheckEvery faults and at the end
// it restores to each live mark and compares the data with what was
// committed when the mark was acknowledged.
//
// It depends only on the logship binary's command line, the file:// store
// layout (docs/FORMAT.md) and internal/pgtest, so it survives refactors of
// logship's internals.
package chaos

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"
)

// Config shapes a campaign.
type Config struct {
	Faults     int   // faults to land (CHAOS_FAULTS)
	Seed       int64 // RNG seed (CHAOS_SEED); printed so a run can be replayed
	S3         bool  // also run against the test S3 server (CHAOS_S3)
	PG         bool  // faults that need a PostgreSQL cluster (CHAOS_PG)
	CheckEvery int   // restore to every mark each CheckEvery faults
	Bin        string
	Out        io.Writer
	Verbose    bool
	// SharedMarkNames (the default; CHAOS_SHARED_MARK_NAMES=0 turns it
	// off) gives the marks of every store the same names, m1, m2, …: the
	// cluster then writes two restore points of one name, and a restore to
	// the later one from the second store must still reach it (restore goes
	// to the mark's LSN, not its name). The campaign found the silent short
	// restore this once was (issue F2, TestF2_HandMadeRestorePointBeforeMark).
	SharedMarkNames bool
	// Stop, when set and true, ends the campaign early (an interrupt); the
	// checks and cleanups still run.
	Stop func() bool
}

// ConfigFromEnv reads CHAOS_FAULTS (default 60), CHAOS_SEED (default:
// the clock), CHAOS_S3 (0/1; default 1 when LOGSHIP_TEST_S3_ENDPOINT is
// set), CHAOS_PG (0/1, default 1), CHAOS_CHECK_EVERY (default 50) and
// CHAOS_VERBOSE.
func ConfigFromEnv() (Config, error) {
	cfg := Config{Faults: 60, Seed: time.Now().UnixNano() % 1e9, CheckEvery: 50, PG: true,
		S3: os.Getenv("LOGSHIP_TEST_S3_ENDPOINT") != "", Out: os.Stdout, Verbose: os.Getenv("CHAOS_VERBOSE") == "1",
		SharedMarkNames: os.Getenv("CHAOS_SHARED_MARK_NAMES") != "0"}
	ints := []struct {
		name string
		dst  *int
	}{{"CHAOS_FAULTS", &cfg.Faults}, {"CHAOS_CHECK_EVERY", &cfg.CheckEvery}}
	for _, v := range ints {
		if s := os.Getenv(v.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return cfg, fmt.Errorf("%s=%q: want a positive number", v.name, s)
			}
			*v.dst = n
		}
	}
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return cfg, fmt.Errorf("CHAOS_SEED=%q: want a number", s)
		}
		cfg.Seed = n
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"CHAOS_S3", &cfg.S3}, {"CHAOS_PG", &cfg.PG}} {
		switch os.Getenv(b.name) {
		case "":
		case "0":
			*b.dst = false
		case "1":
			*b.dst = true
		default:
			return cfg, fmt.Errorf("%s=%q: want 0 or 1", b.name, os.Getenv(b.name))
		}
	}
	return cfg, nil
}

// Campaign is one run.
type Campaign struct {
	cfg      Config
	bin      string
	rng      *rand.Rand
	fig      Figures
	findings []string
	t        *tb
	work     string // scratch folder, removed at the end
	targets  []*target
	typical  map[string]time.Duration // usual run time per command, for kill moments
	cluster  *source
	diskFull *diskFull
	started  time.Time
}

// Run runs the campaign, prints the figures, and returns the figures and
// the findings (each a failure).
func Run(cfg Config) (Figures, []string, error) {
	c := &Campaign{cfg: cfg, bin: cfg.Bin, rng: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6c6f6773686970)),
		fig: newFigures(), t: &tb{log: cfg.Out}, typical: map[string]time.Duration{}, started: time.Now()}
	defer c.t.cleanup()
	fmt.Fprintf(cfg.Out, "chaos: seed %d (replay with CHAOS_SEED=%d), %d faults, s3=%v, pg=%v\n",
		cfg.Seed, cfg.Seed, cfg.Faults, cfg.S3, cfg.PG)
	if err := c.setup(); err != nil {
		return c.fig, c.findings, err
	}
	err := c.loop()
	if err == nil {
		c.finalChecks()
	}
	fmt.Fprintf(cfg.Out, "\nchaos: %d faults in %s, seed %d\n\n", c.fig.TotalFaults(), time.Since(c.started).Round(time.Second), cfg.Seed)
	c.fig.Print(cfg.Out)
	for _, f := range c.findings {
		fmt.Fprintln(cfg.Out, "FINDING:", f)
	}
	return c.fig, c.findings, err
}

// finding records a failure, with what to look at.
func (c *Campaign) finding(kind, detail string) {
	msg := fmt.Sprintf("[fault %d] %s: %s", c.fig.TotalFaults(), kind, detail)
	c.findings = append(c.findings, msg)
	fmt.Fprintln(c.cfg.Out, "FINDING:", msg)
}

func (c *Campaign) logf(format string, args ...any) {
	if c.cfg.Verbose {
		fmt.Fprintf(c.cfg.Out, "  %6.1fs "+format+"\n", append([]any{time.Since(c.started).Seconds()}, args...)...)
	}
}

// fault is one kind of fault: it returns whether the fault landed (a kill
// that came after the process had exited did not).
type fault struct {
	name   string
	weight int
	do     func(*target) (bool, error)
	on     func(*target) bool // which targets it applies to
}

func (c *Campaign) loop() error {
	faults := c.faults()
	total := 0
	for _, f := range faults {
		total += f.weight
	}
	for attempts := 0; c.fig.TotalFaults() < c.cfg.Faults; attempts++ {
		if c.cfg.Stop != nil && c.cfg.Stop() {
			return fmt.Errorf("interrupted after %d faults", c.fig.TotalFaults())
		}
		if attempts > 20*c.cfg.Faults {
			return fmt.Errorf("gave up: %d attempts landed only %d faults", attempts, c.fig.TotalFaults())
		}
		f, tg := c.pick(faults, total)
		landed, err := f.do(tg)
		if err != nil {
			return fmt.Errorf("%s on %s: %w", f.name, tg.name, err)
		}
		key := f.name + " (" + tg.name + ")"
		if !landed {
			c.fig.Missed[key]++
			continue
		}
		c.fig.Faults[key]++
		c.logf("fault %d: %s", c.fig.TotalFaults(), key)
		if n := c.fig.TotalFaults(); n%c.cfg.CheckEvery == 0 && n < c.cfg.Faults {
			if err := c.checkpoint(false); err != nil {
				return err
			}
		}
	}
	return nil
}

// pick draws a fault by weight and a target it applies to.
func (c *Campaign) pick(faults []fault, total int) (fault, *target) {
	for {
		n := c.rng.IntN(total)
		for _, f := range faults {
			if n -= f.weight; n >= 0 {
				continue
			}
			var ok []*target
			for _, tg := range c.targets {
				if f.on(tg) {
					ok = append(ok, tg)
				}
			}
			if len(ok) > 0 {
				return f, ok[c.rng.IntN(len(ok))]
			}
			break
		}
	}
}

// checkpoint restores to every live mark and checks the synthetic
// segments; at the end (final) it checks every acknowledged segment.
func (c *Campaign) checkpoint(final bool) error {
	fmt.Fprintf(c.cfg.Out, "chaos: %d faults, %d findings, %s: restoring to every mark\n",
		c.fig.TotalFaults(), len(c.findings), time.Since(c.started).Round(time.Second))
	for _, tg := range c.targets {
		c.checkSegments(tg, nil, final)
		if c.cluster != nil {
			if err := c.restoreMarks(tg); err != nil {
				return err
			}
		}
	}
	return nil
}

// finalChecks checks every acknowledged segment and restores to every
// mark, then runs a deep verify (every object downloaded and checked) of
// the cluster's source in each store.
func (c *Campaign) finalChecks() {
	if c.cluster != nil {
		// Ships the segment of a mark killed before its switch.
		if err := c.switchAndWait(); err != nil {
			c.finding("final switch", err.Error())
		}
	}
	if err := c.checkpoint(true); err != nil {
		c.finding("final checkpoint", err.Error())
	}
	if c.cluster == nil {
		return
	}
	c.waitIdle()
	for _, tg := range c.targets {
		r := c.run(cmdLimit, nil, append(tg.source("main"), "verify", "--deep", "--full", "--format", "json")...)
		if r.code != 0 {
			c.fig.StoreBroken++
			c.finding("verify --deep", fmt.Sprintf("%s: exit %d: %s", tg.name, r.code, problems(r.stdout)))
		}
	}
}

// killMoment is a random moment to kill a command of kind: from at once to
// its usual run time.
func (c *Campaign) killMoment(kind string, fallback time.Duration) time.Duration {
	d, ok := c.typical[kind]
	if !ok {
		d = fallback
	}
	return time.Duration(c.rng.Int64N(int64(d) + 1))
}

// learn keeps a moving average of how long a command of kind runs.
func (c *Campaign) learn(kind string, r result) {
	if r.killed || r.code != 0 {
		return
	}
	if old, ok := c.typical[kind]; ok {
		c.typical[kind] = (3*old + r.dur) / 4
	} else {
		c.typical[kind] = r.dur
	}
}
