package main_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// A receiver streaming from a standby follows it through its promotion:
// it stores the new timeline's history file, and the segments of both
// timelines byte-identical to what archive_command stores. Also when the
// receiver is down during the promotion and resumes on the new timeline.
func TestReceiveFollowsTimelineSwitch(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveFollowsTimelineSwitch(t, v, false) })
}

func TestReceiveResumesAcrossTimelineSwitch(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveFollowsTimelineSwitch(t, v, true) })
}

func testReceiveFollowsTimelineSwitch(t *testing.T, v pgtest.Version, downDuringSwitch bool) {
	p, archiveDir, _ := archivingCluster(t, v, "tl")
	p.Exec(t, "CREATE TABLE t (i int)")
	dir := filepath.Join(pgtest.TempDir(t, "logship-sb-"), "data")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := p.Command(ctx, "pg_basebackup", "-D", dir, "-R", "-X", "stream", "-c", "fast").CombinedOutput(); err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	s := pgtest.StartExisting(t, dir, pgtest.Options{BinDir: v.BinDir})
	recvDir := pgtest.TempDir(t, "logship-recv-")
	recvFlags := []string{"--store", "file://" + recvDir, "--source", "tl"}
	r := startReceiver(t, s, recvFlags, "--partial-interval", "100ms")
	waitStreaming(t, s, "logship_tl")

	p.Exec(t, "INSERT INTO t SELECT generate_series(1, 50000)")
	want := p.QueryString(t, "SELECT pg_current_wal_lsn()::text")
	s.WaitFor(t, 60*time.Second, "the standby replays "+want, func() bool {
		return s.QueryString(t, "SELECT (pg_last_wal_replay_lsn() >= $1::pg_lsn)::text", want) == "true"
	})
	waitArchived(t, p, switchWAL(t, p))
	p.Stop(t)
	if downDuringSwitch {
		r.kill()
	}
	s.Exec(t, "SELECT pg_promote()")
	s.WaitFor(t, 60*time.Second, "promotion", func() bool { return s.QueryString(t, "SELECT pg_is_in_recovery()::text") == "false" })
	if tl := s.QueryString(t, "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"); tl != "00000002" {
		t.Fatalf("timeline %s after promotion, want 2", tl)
	}
	if downDuringSwitch {
		r = startReceiver(t, s, recvFlags, "--partial-interval", "100ms")
	}
	s.Exec(t, "INSERT INTO t SELECT generate_series(1, 50000)")
	last := switchWAL(t, s)
	waitArchived(t, s, last)
	recv, arch := openCatalog(t, recvDir, "tl"), openCatalog(t, archiveDir, "tl")
	waitRecorded(t, s, recv, last)
	r.stop(t)
	if !bytes.Equal(rawWAL(t, recv, "00000002.history"), rawWAL(t, arch, "00000002.history")) {
		t.Fatalf("the receiver stored another 00000002.history than wal-push")
	}
	compared := map[pg.TimelineID]int{}
	for _, name := range segmentsOf(t, recv) {
		if has, _ := arch.HasWAL(context.Background(), name); !has {
			continue
		}
		if !bytes.Equal(rawWAL(t, recv, name), rawWAL(t, arch, name)) {
			t.Fatalf("%s: the receiver stored other bytes than wal-push", name)
		}
		wf, _ := pg.ParseWALFileName(name, pg.DefaultSegmentSize)
		compared[wf.Timeline]++
	}
	if compared[1] == 0 || compared[2] == 0 {
		t.Fatalf("segments compared per timeline: %v; want both timelines", compared)
	}
	if out := r.out.String(); !downDuringSwitch && !strings.Contains(out, "following a new timeline") {
		t.Errorf("the receiver did not log the switch:\n%s", out)
	}
	t.Logf("byte-identical segments per timeline: %v", compared)
}
