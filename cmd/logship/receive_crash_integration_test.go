package main_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// ackClient inserts rows 1, 2, ... one commit each and remembers the last
// one the server acknowledged, with the WAL position and time of its
// commit, until the connection fails.
type ackClient struct {
	mu     sync.Mutex
	acked  int
	lsn    pg.LSN
	at     time.Time
	doneCh chan struct{}
}

func startAckClient(t *testing.T, c *pgtest.Cluster) *ackClient {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	a := &ackClient{doneCh: make(chan struct{})}
	go func() {
		defer close(a.doneCh)
		defer conn.Close(context.Background())
		for i := 1; ; i++ {
			var lsn string
			err := conn.QueryRow(context.Background(),
				"INSERT INTO acked VALUES ($1, clock_timestamp(), repeat('x', 200)) RETURNING pg_current_wal_insert_lsn()::text", i).Scan(&lsn)
			if err != nil {
				return
			}
			l, _ := pg.ParseLSN(lsn)
			a.mu.Lock()
			a.acked, a.lsn, a.at = i, l, time.Now()
			a.mu.Unlock()
		}
	}()
	return a
}

func (a *ackClient) last() (int, pg.LSN, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.acked, a.lsn, a.at
}

// The primary dies (kill -9) in the middle of a run of acknowledged
// commits; a restore with no target from the store has every commit the
// client saw acknowledged when the receiver is synchronous, and loses a
// measured amount when it is not.
func TestReceiveSynchronousLosesNothing(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveCrash(t, v, true, fileStore) })
}

func TestReceiveAsynchronousLoss(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveCrash(t, v, false, fileStore) })
}

func testReceiveCrash(t *testing.T, v pgtest.Version, synchronous bool, newStore newReceiveStore) {
	source := "async"
	args := []string{}
	if synchronous {
		source, args = "sync", []string{"--synchronous"}
	}
	st := newStore(t, source)
	c, flags := archivingClusterIn(t, v, st), st.flags
	r := startReceiver(t, c, flags, args...)
	waitStreaming(t, c, "logship_"+source)
	if synchronous {
		c.Exec(t, "ALTER SYSTEM SET synchronous_standby_names = 'logship_sync'")
		c.Exec(t, "SELECT pg_reload_conf()")
		c.WaitFor(t, 30*time.Second, "the receiver as synchronous standby", func() bool {
			return c.QueryString(t, "SELECT coalesce(max(sync_state), '') FROM pg_stat_replication WHERE application_name = 'logship_sync'") == "sync"
		})
	}
	c.Exec(t, "CREATE TABLE acked (i int PRIMARY KEY, at timestamptz, pad text)")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)

	a := startAckClient(t, c)
	start := time.Now()
	c.WaitFor(t, 60*time.Second, "acknowledged commits", func() bool {
		n, _, _ := a.last()
		return n >= 300 && time.Since(start) > 3*time.Second
	})
	killPrimary(t, c)
	<-a.doneCh
	acked, ackLSN, ackAt := a.last()
	// The receiver keeps trying to reconnect; what it stored is stored.
	r.kill()

	rs, ro := restoreAndStart(t, flags)
	got, _ := strconv.Atoi(rs.query(t, "SELECT count(*) FROM acked WHERE i <= "+strconv.Itoa(acked)))
	maxRow, _ := strconv.Atoi(rs.query(t, "SELECT coalesce(max(i), 0) FROM acked"))
	reached, _ := pg.ParseLSN(ro.Reached.LSN)
	var lostSeconds float64
	if lastAt := rs.query(t, "SELECT coalesce(max(at)::text, '')"+" FROM acked"); lastAt != "" {
		if tm, err := time.Parse("2006-01-02 15:04:05.999999-07", lastAt); err == nil {
			lostSeconds = max(ackAt.Sub(tm).Seconds(), 0)
		}
	}
	lostBytes := int64(ackLSN) - int64(reached)
	t.Logf("synchronous=%v: %d commits acknowledged in %s, %d restored (max row %d); lost %d commits, ~%d bytes of WAL, %.3f s",
		synchronous, acked, ackAt.Sub(start).Round(time.Millisecond), got, maxRow, acked-got, max(lostBytes, 0), lostSeconds)
	if synchronous && got != acked {
		t.Fatalf("%d of %d acknowledged commits are missing from the restore", acked-got, acked)
	}
	if !synchronous && got == 0 {
		t.Fatalf("the asynchronous receiver stored none of %d commits", acked)
	}
}
