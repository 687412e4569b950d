package main_test

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// jobs.receive: on runs logship receive beside the schedule daemon's jobs:
// it streams the source's WAL into the store (the same bytes as
// archive_command stores) until the daemon stops.
func TestScheduleRunsTheReceiver(t *testing.T) {
	t.Parallel()
	c, archiveDir, _ := archivingCluster(t, defaultPG, "sched")
	recvDir := pgtest.TempDir(t, "logship-recv-")
	cfg := writeConfig(t, "jobs:\n  receive: \"on\"\n  backup: \"off\"\n  mark: \"off\"\n  metrics-listen: \"off\"\n")
	d := startDaemon(t, "--config", cfg, "--store", "file://"+recvDir, "--source", "sched",
		"--pg", c.ConnString(), "--log-format", "json", "schedule")
	waitStreaming(t, c, "logship_sched")
	c.Exec(t, "CREATE TABLE t AS SELECT generate_series(1, 20000) AS i")
	last := switchWAL(t, c)
	waitArchived(t, c, last)
	recv, arch := openCatalog(t, recvDir, "sched"), openCatalog(t, archiveDir, "sched")
	waitRecorded(t, c, recv, last)
	if !bytes.Equal(rawWAL(t, recv, last), rawWAL(t, arch, last)) {
		t.Fatalf("%s: the schedule's receiver stored other bytes than wal-push", last)
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("schedule with a receiver, stopped by SIGTERM: %v\n%s", err, d.log())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("schedule did not stop within 60 s of SIGTERM\n%s", d.log())
	}
}
