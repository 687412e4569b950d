package chaos

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// step is the workload before a fault on the cluster: a probe row, now and
// then an acknowledged mark or backup, or a whole purge, which keeps the
// number of live marks (each restored at every checkpoint) small.
func (c *Campaign) step(tg *target) error {
	if err := c.write(); err != nil {
		return err
	}
	switch n := c.rng.IntN(100); {
	case n < 30:
		return c.takeMark(tg)
	case n < 45:
		return c.takeBackup(tg)
	case n < 55:
		_, err := c.purge(tg, false)
		return err
	}
	return nil
}

// killCmd runs logship with args against the cluster's source on tg and
// kills it at a random moment; it reports whether the kill landed.
func (c *Campaign) killCmd(tg *target, kind string, fallback time.Duration, args ...string) (result, error) {
	all := append(tg.source("main"), args...)
	p, err := c.spawn(nil, all...)
	if err != nil {
		return result{}, err
	}
	r := c.finish(p, c.killMoment(kind+"@"+tg.name, fallback), cmdLimit)
	c.learn(kind+"@"+tg.name, r)
	c.logf("%s on %s: %s", kind, tg.name, strings.SplitN(r.String(), "\n", 2)[0])
	return r, nil
}

func (c *Campaign) markKill(tg *target) (bool, error) {
	if err := c.step(tg); err != nil {
		return false, err
	}
	state, err := c.query(stateSQL)
	if err != nil {
		return false, err
	}
	name := c.markName(tg)
	r, err := c.killCmd(tg, "mark", time.Second, "--pg", c.cluster.pg.ConnString(), "mark", "--json", name)
	if err != nil {
		return false, err
	}
	if r.code == 0 {
		if err := c.ackMark(tg, name, state, r.stdout); err != nil {
			return false, err
		}
	}
	if r.code != 0 {
		tg.interrupted = append(tg.interrupted, name)
	}
	return r.killed, c.checkMain(tg)
}

func (c *Campaign) backupKill(tg *target) (bool, error) {
	if err := c.step(tg); err != nil {
		return false, err
	}
	r, err := c.killCmd(tg, "backup", 2*time.Second, "--pg", c.cluster.pg.ConnString(), "backup", "--fast")
	if err != nil {
		return false, err
	}
	if r.code == 0 {
		c.fig.AckBackups++
	}
	return r.killed, c.checkMain(tg)
}

// purgeKill kills purge --keep-backups 2 at a random moment. The marks its
// dry run plans to delete may go; every other acknowledged mark must stay.
func (c *Campaign) purgeKill(tg *target) (bool, error) {
	if err := c.step(tg); err != nil {
		return false, err
	}
	r, err := c.purge(tg, true)
	if err != nil {
		return false, err
	}
	return r.killed, c.checkMain(tg)
}

// purge runs purge --keep-backups 2, killed at a random moment when kill
// is set, after a dry run that tells which marks it may delete; those are
// no longer expected in the store.
func (c *Campaign) purge(tg *target, kill bool) (result, error) {
	policy := []string{"--keep-backups", "2", "--orphan-grace", "1m"}
	dry := c.run(cmdLimit, nil, append(append(tg.source("main"), "purge", "--dry-run", "--json"), policy...)...)
	if dry.code != 0 {
		c.fig.StoreBroken++
		c.finding("purge --dry-run", dry.String())
		return dry, nil
	}
	var plan struct {
		Marks []struct{ Name, Action string } `json:"marks"`
	}
	if err := json.Unmarshal([]byte(dry.stdout), &plan); err != nil {
		return dry, fmt.Errorf("purge --dry-run --json: %v", err)
	}
	doomed := map[string]bool{}
	for _, m := range plan.Marks {
		if m.Action == "delete" {
			doomed[m.Name] = true
		}
	}
	var r result
	var err error
	if kill {
		r, err = c.killCmd(tg, "purge", time.Second, append([]string{"purge"}, policy...)...)
	} else if r = c.run(cmdLimit, nil, append(append(tg.source("main"), "purge"), policy...)...); r.code != 0 {
		c.fig.StoreBroken++
		c.finding("purge", r.String())
	}
	var live []*mark
	for _, m := range tg.marks {
		if !doomed[m.name] {
			live = append(live, m)
		}
	}
	tg.marks = live
	return r, err
}

// restoreKill kills a restore to a random live mark at a random moment; the
// store must not change, and the half-restored directory goes.
func (c *Campaign) restoreKill(tg *target) (bool, error) {
	if len(tg.marks) == 0 {
		return false, c.takeMark(tg)
	}
	m := tg.marks[c.rng.IntN(len(tg.marks))]
	r, dir, _, err := c.restore(tg, m, c.killMoment("restore@"+tg.name, 5*time.Second))
	if err != nil {
		return false, err
	}
	c.removeRestored(dir)
	return r.killed, c.checkMain(tg)
}

// archiverKill makes PostgreSQL archive a segment and kills the logship
// wal-push that the archiver runs for tg at a random moment. The archiver
// dies with it and PostgreSQL retries; the segment must get archived.
func (c *Campaign) archiverKill(tg *target) (bool, error) {
	if err := c.write(); err != nil {
		return false, err
	}
	seg, err := c.query("SELECT pg_walfile_name(pg_switch_wal())")
	if err != nil {
		return false, err
	}
	words := []string{c.bin, "wal-push", tg.url + "\x00", "\x00main\x00"}
	var pids []int
	pgtest.Poll(10*time.Second, func() bool {
		pids = procsMentioning(words...)
		return len(pids) > 0
	})
	landed := false
	if len(pids) > 0 {
		time.Sleep(c.killMoment("archiver wal-push@"+tg.name, 50*time.Millisecond)) // the random moment is the fault
		landed = kill9(pids[0]) == nil
	}
	if err := c.waitArchived(seg); err != nil {
		return false, err
	}
	return landed, c.checkMain(tg)
}

// checkMain is the store check after a fault on the cluster's source:
// verify passes, or fails naming only killed marks as unreachable (a mark
// killed after its record was written and before its segment was
// switched: verify rightly says it cannot be restored until that segment
// is shipped), and every acknowledged mark not planned for purge is still
// listed.
func (c *Campaign) checkMain(tg *target) error {
	c.waitIdle()
	args := append(tg.source("main"), "verify", "--format", "json")
	r := c.run(cmdLimit, nil, args...)
	if r.code != 0 {
		c.waitIdle()
		r = c.run(cmdLimit, nil, args...)
	}
	switch {
	case r.code == 0:
		tg.interrupted = nil
	case r.code == 1 && onlyUnreachable(r.stdout, tg.interrupted):
		c.fig.Interrupted++
		c.logf("verify on %s names only killed marks %v", tg.name, tg.interrupted)
	default:
		c.fig.StoreBroken++
		c.finding("verify", fmt.Sprintf("%s: %s\n    problems: %s", tg.name, strings.SplitN(r.String(), "\n", 2)[0], problems(r.stdout)))
	}
	return c.checkMarksListed(tg)
}

func problems(verifyJSON string) string {
	var rep struct {
		Problems []struct{ Severity, Code, Object, Message string } `json:"problems"`
	}
	if json.Unmarshal([]byte(verifyJSON), &rep) != nil {
		return "(no JSON)"
	}
	var out []string
	for _, p := range rep.Problems {
		out = append(out, p.Severity+" "+p.Code+" "+p.Object+": "+p.Message)
	}
	return strings.Join(out, "; ")
}

// onlyUnreachable reports whether every error verify found is one of the
// named marks being unreachable.
func onlyUnreachable(verifyJSON string, marks []string) bool {
	var rep struct {
		Problems []struct{ Severity, Code, Object string } `json:"problems"`
	}
	if len(marks) == 0 || json.Unmarshal([]byte(verifyJSON), &rep) != nil {
		return false
	}
	for _, p := range rep.Problems {
		if p.Severity == "error" && (p.Code != "mark-unreachable" || !slices.Contains(marks, p.Object)) {
			return false
		}
	}
	return true
}

func (c *Campaign) checkMarksListed(tg *target) error {
	r := c.run(cmdLimit, nil, append(tg.source("main"), "catalog", "list", "--json")...)
	if r.code != 0 {
		c.fig.StoreBroken++
		c.finding("catalog list", r.String())
		return nil
	}
	var l struct {
		Marks []struct{ Name string } `json:"marks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		return fmt.Errorf("catalog list --json: %v", err)
	}
	listed := map[string]bool{}
	for _, m := range l.Marks {
		listed[m.Name] = true
	}
	var live []*mark
	for _, m := range tg.marks {
		if listed[m.name] {
			live = append(live, m)
			continue
		}
		c.fig.Lost++
		c.finding("lost", fmt.Sprintf("%s: acknowledged mark %s is no longer listed, and purge did not plan to delete it", tg.name, m.name))
	}
	tg.marks = live
	return nil
}

// restoreMarks restores to every live mark of tg and compares the data.
func (c *Campaign) restoreMarks(tg *target) error {
	for _, m := range tg.marks {
		r, dir, port, err := c.restore(tg, m, -1)
		if err != nil {
			return err
		}
		c.learn("restore@"+tg.name, r)
		c.fig.Restores++
		switch {
		case r.code != 0:
			c.fig.RestoreFailed++
			c.finding("restore failed", fmt.Sprintf("%s: restore to acknowledged mark %s: %s", tg.name, m.name, r))
		default:
			got, err := queryRestored(dir, port)
			switch {
			case err != nil:
				c.fig.RestoreFailed++
				c.finding("restore failed", fmt.Sprintf("%s: restore to mark %s exited 0 but the server does not answer: %v", tg.name, m.name, err))
			case got != m.state:
				c.fig.SilentShort++
				c.finding("silent short restore", fmt.Sprintf("%s: restore to mark %s (LSN %s) exited 0 with probe rows %s, want %s (count/max/sum); restore reached %s",
					tg.name, m.name, formatLSN(m.lsn), got, m.state, reached(r.stdout)))
			}
		}
		c.logf("restore %s to %s: exit %d in %s", tg.name, m.name, r.code, r.dur.Round(time.Millisecond))
		c.removeRestored(dir)
	}
	return nil
}

// restore runs restore --start to mark m into a fresh directory, killed
// after killAfter unless that is negative.
func (c *Campaign) restore(tg *target, m *mark, killAfter time.Duration) (result, string, int, error) {
	var parent string
	if err := c.t.pg(func() { parent = pgtest.TempDir(c.t, "chaos-rs-") }); err != nil {
		return result{}, "", 0, err
	}
	dir := filepath.Join(parent, "data")
	port, err := freePort()
	if err != nil {
		return result{}, "", 0, err
	}
	p, err := c.spawn(nil, append(tg.source("main"), "restore", "--target-dir", dir, "--mark", m.name, "--start",
		"--no-archive", "--port", strconv.Itoa(port), "--start-timeout", "2m", "--json")...)
	if err != nil {
		return result{}, "", 0, err
	}
	return c.finish(p, killAfter, cmdLimit), dir, port, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeRestored stops whatever runs on a restored directory (a killed
// restore may still have pg_ctl starting it) and removes it.
func (c *Campaign) removeRestored(dir string) {
	if !pgtest.Poll(cmdLimit, func() bool { return len(procsMentioning("pg_ctl", dir)) == 0 }) {
		c.fig.Hangs++
		c.finding("hang", "pg_ctl on "+dir+" still running")
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		if out, err := pgCtlStop(dir); err != nil && len(procsMentioning("postgres", "-D", dir)) > 0 {
			c.finding("cleanup", fmt.Sprintf("stop server on %s: %v: %s", dir, err, out))
		}
	}
	os.RemoveAll(filepath.Dir(dir))
}

// pgCtlStop stops a server as the postgres OS user.
func pgCtlStop(dir string) ([]byte, error) {
	bin, err := pgtest.BinDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", dir, "stop", "-m", "immediate", "-w", "-t", "60")
	cmd.Dir = os.TempDir()
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
	}
	return cmd.CombinedOutput()
}
