package chaos

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/logship/logship/internal/pgtest"
)

// target is one store the campaign runs against.
type target struct {
	name   string   // "file" or "s3"
	flags  []string // store flags, without --source
	url    string   // the store URL, to recognise its processes
	dir    string   // file:// root; "" on S3
	faulty []string // S3 only: store flags through toxiproxy
	proxy  *toxiproxy.Proxy
	syn    *synSet // synthetic segments, source "syn"
	full   *synSet // file:// only: segments of the disk-full store
	marks  []*mark // acknowledged marks not yet purged
	seq    int     // mark names
	// interrupted is the marks whose command was killed since verify last
	// passed: verify may say they cannot be restored (yet).
	interrupted []string
}

// synSets is every set of synthetic segments kept for tg.
func (tg *target) synSets() []*synSet {
	if tg.full != nil {
		return []*synSet{tg.syn, tg.full}
	}
	return []*synSet{tg.syn}
}

func (tg *target) source(name string) []string {
	return append(append([]string{}, tg.flags...), "--source", name)
}

func (c *Campaign) setup() error {
	var err error
	if c.work, err = os.MkdirTemp("", "chaos-work-"); err != nil {
		return err
	}
	c.t.Cleanup(func() { os.RemoveAll(c.work) })
	if err := c.t.pg(func() { c.addFileTarget() }); err != nil {
		return err
	}
	if c.cfg.S3 {
		if err := c.addS3Target(); err != nil {
			return err
		}
	}
	for _, tg := range c.targets {
		for range 3 {
			if err := c.pushNew(tg.syn); err != nil {
				return fmt.Errorf("%s: first pushes: %w", tg.name, err)
			}
		}
	}
	c.setupDiskFull()
	if c.cfg.PG {
		if err := c.setupCluster(); err != nil {
			return fmt.Errorf("source cluster: %w", err)
		}
	}
	return nil
}

func (c *Campaign) addFileTarget() {
	// The archiver writes here as the postgres OS user.
	dir := pgtest.TempDir(c.t, "chaos-store-")
	c.targets = append(c.targets, &target{name: "file", dir: dir, url: "file://" + dir,
		flags: []string{"--store", "file://" + dir}})
	c.targets[0].syn = newSynSet(c.targets[0].flags, "syn", "file")
}

func (c *Campaign) addS3Target() error {
	endpoint, bucket := os.Getenv("LOGSHIP_TEST_S3_ENDPOINT"), os.Getenv("LOGSHIP_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		return fmt.Errorf("CHAOS_S3=1 needs LOGSHIP_TEST_S3_ENDPOINT and LOGSHIP_TEST_S3_BUCKET (scripts/s3server start DIR; . DIR/env)")
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	u := "s3://" + bucket + "/chaos-" + hex.EncodeToString(rnd[:])
	tg := &target{name: "s3", url: u, flags: []string{"--store", u, "--s3-endpoint", endpoint}}
	tg.syn = newSynSet(tg.flags, "syn", "s3")
	if addr := os.Getenv("LOGSHIP_TEST_TOXIPROXY"); addr != "" {
		ep, err := url.Parse(endpoint)
		if err != nil {
			return err
		}
		proxy, err := toxiproxy.NewClient(addr).CreateProxy("chaos-"+hex.EncodeToString(rnd[:]), "127.0.0.1:0", ep.Host)
		if err != nil {
			return fmt.Errorf("toxiproxy at %s: %w", addr, err)
		}
		c.t.Cleanup(func() { proxy.Delete() })
		tg.proxy = proxy
		tg.faulty = []string{"--store", u, "--s3-endpoint", "http://" + proxy.Listen, "--s3-request-timeout", "1s"}
	} else {
		fmt.Fprintln(c.cfg.Out, "chaos: no LOGSHIP_TEST_TOXIPROXY: S3 network faults skipped")
	}
	c.targets = append(c.targets, tg)
	return nil
}

// awsEnv is the AWS_ settings the archiver and restored servers need.
func awsEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

// faults is the menu: kind, weight, and where it applies.
func (c *Campaign) faults() []fault {
	all := func(*target) bool { return true }
	file := func(tg *target) bool { return tg.dir != "" }
	fs := []fault{
		{"kill -9 wal-push", 6, c.pushKill, all},
		{"create-only race", 3, c.race, all},
		{"kill -9 wal-push mid-write (hook)", 2, c.pushHold, file},
		{"damaged object", 3, c.corrupt, file},
		{"S3 network fault", 4, c.s3Fault, func(tg *target) bool { return tg.proxy != nil }},
	}
	if c.diskFull != nil {
		fs = append(fs, fault{"disk full", 2, c.diskFullPush, file})
	}
	if c.cluster != nil {
		fs = append(fs,
			fault{"kill -9 archiver's wal-push", 1, c.archiverKill, all},
			fault{"kill -9 mark", 2, c.markKill, all},
			fault{"kill -9 backup", 1, c.backupKill, all},
			fault{"kill -9 purge", 1, c.purgeKill, all},
			fault{"kill -9 restore", 1, c.restoreKill, all},
		)
	}
	return fs
}
