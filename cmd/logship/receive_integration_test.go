package main_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// receiver is a `logship receive` process.
type receiver struct {
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
}

// startReceiver runs logship receive with flags (store and source) against
// the cluster; the test's end kills it.
func startReceiver(t *testing.T, c *pgtest.Cluster, flags []string, args ...string) *receiver {
	t.Helper()
	all := append(append(append([]string{}, flags...), "--pg", c.ConnString(), "--log-level", "debug", "receive",
		"--max-backoff", "1s"), args...)
	r := &receiver{cmd: exec.Command(logshipBin, all...), out: &lockedBuffer{}, exited: make(chan struct{})}
	r.cmd.Env = cleanEnv()
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.kill()
		if t.Failed() {
			t.Logf("receiver output:\n%s", r.out.String())
		}
	})
	return r
}

func (r *receiver) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.exited
}

// stop ends the receiver as its service manager would, and checks that it
// stopped cleanly.
func (r *receiver) stop(t *testing.T) {
	t.Helper()
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("receiver did not stop within 30s")
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("receiver exited %d\n%s", code, r.out.String())
	}
}

// waitStreaming waits until the server lists a walsender for appName.
func waitStreaming(t *testing.T, c *pgtest.Cluster, appName string) {
	t.Helper()
	c.WaitFor(t, 60*time.Second, appName+" streaming", func() bool {
		return c.QueryString(t, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'", appName) == "1"
	})
}

func rawWAL(t *testing.T, cat *catalog.Catalog, name string) []byte {
	t.Helper()
	o, err := cat.OpenWAL(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// segmentsOf lists the segment names recorded in cat.
// waitRecorded polls until the store of cat records the WAL file name: its
// record, not only its object, since a receiver stopped between the two
// leaves the file unrecorded, and the comparisons list records.
func waitRecorded(t *testing.T, c *pgtest.Cluster, cat *catalog.Catalog, name string) {
	t.Helper()
	c.WaitFor(t, 60*time.Second, "receiver recorded "+name, func() bool {
		_, err := cat.LookupWAL(context.Background(), name)
		return err == nil
	})
}

func segmentsOf(t *testing.T, cat *catalog.Catalog) []string {
	t.Helper()
	var names []string
	err := cat.ListWAL(context.Background(), func(r catalog.WALRecord) error {
		if wf, err := pg.ParseWALFileName(r.Name, pg.DefaultSegmentSize); err == nil && wf.Kind == pg.Segment {
			names = append(names, r.Name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// The receiver (into one store) and archive_command (into another) store
// the same segments byte for byte; the receiver also stored pieces.
func TestReceiveMatchesWALPush(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveMatchesWALPushIn(t, v, fileStore) })
}

func testReceiveMatchesWALPushIn(t *testing.T, v pgtest.Version, newStore newReceiveStore) {
	archive, receive := newStore(t, "same"), newStore(t, "same")
	c, archiveFlags := archivingClusterIn(t, v, archive), archive.flags
	recvFlags := receive.flags
	r := startReceiver(t, c, recvFlags, "--partial-interval", "100ms", "--status-interval", "300ms")
	waitStreaming(t, c, "logship_same")
	c.Pgbench(t, "-i", "-s", "2", "-q")
	c.Pgbench(t, "-n", "-t", "300", "-c", "2")
	recv, arch := receive.open(t), archive.open(t)
	var pieces []catalog.WALPiece
	c.WaitFor(t, 30*time.Second, "pieces of the open segment", func() bool {
		pieces, _ = recv.ListWALPieces(context.Background())
		return len(pieces) > 0
	})
	var last string
	for range 4 {
		c.Pgbench(t, "-n", "-t", "50", "-c", "1")
		last = switchWAL(t, c)
	}
	waitArchived(t, c, last)
	waitRecorded(t, c, recv, last)
	r.stop(t)
	// The server answers the status updates that ask for a reply, so a
	// short --status-interval never mistakes it for a silent one.
	if out := r.out.String(); strings.Contains(out, "reconnecting") {
		t.Errorf("the receiver reconnected:\n%s", out)
	}
	names := segmentsOf(t, recv)
	if len(names) < 4 {
		t.Fatalf("receiver stored %d segments, want >= 4: %v", len(names), names)
	}
	for _, name := range names {
		if !bytes.Equal(rawWAL(t, recv, name), rawWAL(t, arch, name)) {
			t.Fatalf("%s: the receiver stored other bytes than wal-push", name)
		}
	}
	t.Logf("%d segments byte-identical, %d pieces", len(names), len(pieces))
	// The slot stays when the receiver stops; check reports what it holds.
	slot := checkJSON(t, append(archiveFlags, "--pg", c.ConnString()), 0)["replication slot"]
	if !slot.OK || slot.Warning || !strings.Contains(slot.Detail, "logship_same") {
		t.Errorf("check's receive slot: %+v", slot)
	}
	mustLogship(t, nil, append(recvFlags, "--pg", c.ConnString(), "receive", "--drop-slot")...)
	if n := c.QueryString(t, "SELECT count(*) FROM pg_replication_slots"); n != "0" {
		t.Errorf("%s slots left after receive --drop-slot", n)
	}
	if failed := c.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("archiver failed %s times", failed)
	}
}

// killPrimary kills the postmaster and its children with SIGKILL, as a
// host that dies would stop them.
func killPrimary(t *testing.T, c *pgtest.Cluster) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	children := childrenOf(pid)
	syscall.Kill(pid, syscall.SIGKILL)
	for _, p := range children {
		syscall.Kill(p, syscall.SIGKILL)
	}
	c.WaitFor(t, 30*time.Second, "the primary's death", func() bool {
		return syscall.Kill(pid, 0) != nil
	})
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, p)
		}
	}
	return out
}
