package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

// receiveKillsEnv sets how many times TestReceiveKilledAtRandom kills the
// receiver (default 50, 5 with -short).
const receiveKillsEnv = "LOGSHIP_TEST_RECEIVE_KILLS"

func receiveKills(t *testing.T) int {
	if s := os.Getenv(receiveKillsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", receiveKillsEnv, s)
		}
		return n
	}
	if testing.Short() {
		return 5
	}
	return 50
}

// storedObjects remembers the content of every WAL and piece object and
// piece record seen, to catch one that changes (none may: all are
// create-only). sums lists them with their content's hash.
type storedObjects struct {
	sums func(t *testing.T) map[string][32]byte
	seen map[string][32]byte
}

func (s *storedObjects) check(t *testing.T) {
	t.Helper()
	for key, sum := range s.sums(t) {
		if old, ok := s.seen[key]; ok && old != sum {
			t.Fatalf("%s was overwritten", key)
		}
		s.seen[key] = sum
	}
}

// fileSums hashes every WAL and piece object and record under dir.
func fileSums(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	sums := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.Contains(p, "/wal/") || strings.Contains(p, "/wal-stream/")) {
			return err
		}
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			return nil // a temporary file renamed meanwhile
		}
		if err != nil {
			return err
		}
		sums[p] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

// rowWriter inserts rows until stopped; hold pauses it.
type rowWriter struct {
	hold sync.Mutex
	stop chan struct{}
	done chan struct{}
}

func startRowWriter(t *testing.T, c *pgtest.Cluster) *rowWriter {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	w := &rowWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer conn.Close(context.Background())
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			w.hold.Lock()
			_, err := conn.Exec(context.Background(), "INSERT INTO rows SELECT coalesce(max(i), 0) + 1, repeat('y', 500) FROM rows")
			w.hold.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { close(w.stop); <-w.done })
	return w
}

// The receiver is killed (SIGKILL) at random moments, while it connects,
// streams and uploads, with archive_command storing into the same store:
// no stored object ever changes, every streamed tail agrees with its
// segment, verify --deep finds every object sound, and restores to the
// marks taken meanwhile are exact.
func TestReceiveKilledAtRandom(t *testing.T) {
	onEachPG(t, func(t *testing.T, v pgtest.Version) { testReceiveKilledAtRandomIn(t, v, fileStore, receiveKills(t)) })
}

func testReceiveKilledAtRandomIn(t *testing.T, v pgtest.Version, newStore newReceiveStore, kills int) {
	st := newStore(t, "kills")
	c, flags := archivingClusterIn(t, v, st), st.flags
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE rows (i int PRIMARY KEY, pad text)")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	w := startRowWriter(t, c)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 16))
	objs := &storedObjects{sums: st.sums, seen: map[string][32]byte{}}
	marks := map[string]string{}
	mark := func(name string) {
		w.hold.Lock()
		defer w.hold.Unlock()
		marks[name] = c.QueryString(t, "SELECT count(*) || '/' || coalesce(sum(i), 0) FROM rows")
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
	}
	for k := range kills {
		args := []string{"--partial-interval", "50ms"}
		if k%2 == 1 {
			args = append(args, "--synchronous")
		}
		r := startReceiver(t, c, flags, args...)
		if k%4 != 0 { // else: while it starts, resumes, creates the slot
			waitStreaming(t, c, "logship_kills")
		}
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond) // a random moment to kill at
		r.kill()
		objs.check(t)
		if k%10 == 9 || k == kills-1 {
			mark(fmt.Sprintf("k%d", k))
		}
	}
	r := startReceiver(t, c, flags)
	waitStreaming(t, c, "logship_kills")
	mark("final")
	last := switchWAL(t, c)
	waitArchived(t, c, last)
	cat := st.open(t)
	waitRecorded(t, c, cat, last)
	r.stop(t)
	objs.check(t)
	tails := checkTails(t, cat)
	// verify reads every object, pieces included, against its record.
	if r := logship(t, nil, append(append([]string{}, flags...), "verify", "--deep")...); r.code != 0 {
		t.Fatalf("verify --deep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("seed %d: %d kills, %d objects never changed, %d streamed tails agree with their segments, %d marks",
		seed, kills, len(objs.seen), tails, len(marks))
	for name, want := range marks {
		rs, _ := restoreAndStart(t, flags, "--mark", name)
		if got := rs.query(t, "SELECT count(*) || '/' || coalesce(sum(i), 0) FROM rows"); got != want {
			t.Fatalf("restore to mark %s: rows %s, want %s", name, got, want)
		}
		stopServer(t, rs.dir)
	}
	if failed := c.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("archiver failed %s times", failed)
	}
}

// checkTails reads every segment's streamed tail (its pieces checked
// against their records and each other) and compares it with the segment
// when stored whole. It answers how many it compared.
func checkTails(t *testing.T, cat *catalog.Catalog) int {
	t.Helper()
	ctx := context.Background()
	pieces, err := cat.ListWALPieces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	segs := map[string]bool{}
	for _, p := range pieces {
		segs[p.Segment] = true
	}
	n := 0
	for seg := range segs {
		rc, end, err := cat.OpenStreamedSegment(ctx, seg, pg.DefaultSegmentSize)
		if err != nil {
			continue // no piece at offset 0: nothing to compare
		}
		tail, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("streamed tail of %s: %v", seg, err)
		}
		if has, _ := cat.HasWAL(ctx, seg); has {
			if full := rawWAL(t, cat, seg); !bytes.Equal(full[:end], tail[:end]) {
				t.Fatalf("%s: the streamed pieces disagree with the stored segment", seg)
			}
			n++
		}
	}
	return n
}
