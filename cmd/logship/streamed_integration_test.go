package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store/file"
)

// The primary dies (kill -9) in the middle of a segment that only a
// receiver had stored, as pieces: a restore without target replays up to
// the last byte stored, so every transaction committed (flushed) before it
// is there, and none after. The pieces are written through the catalog API
// from the real segment's flushed bytes, overlapping as after a receiver
// restart.
func TestRestoreStreamedTail(t *testing.T) { onEachPG(t, testRestoreStreamedTail) }

func testRestoreStreamedTail(t *testing.T, v pgtest.Version) {
	c, storeDir, flags, _ := backedUpSource(t, v, "streamed")
	waitArchived(t, c, switchWAL(t, c))
	for i := 1; i <= 4; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
	}
	flushed, err := pg.ParseLSN(c.QueryString(t, "SELECT pg_current_wal_flush_lsn()::text"))
	if err != nil {
		t.Fatal(err)
	}
	c.Exec(t, "INSERT INTO probe VALUES (5)") // after the tail: lost with the primary
	killPostmaster(t, c)

	ctx := context.Background()
	st, err := file.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New(st, "streamed")
	src, err := cat.Source(ctx)
	if err != nil {
		t.Fatal(err)
	}
	segNo := pg.SegmentOf(flushed, src.SegmentSize)
	name := pg.SegmentName(1, segNo, src.SegmentSize)
	if _, err := cat.LookupWAL(ctx, name); err == nil {
		t.Fatalf("%s was archived in full; the test needs it streamed only", name)
	}
	raw, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", name))
	if err != nil {
		t.Fatal(err)
	}
	end := uint32(uint64(flushed) % src.SegmentSize)
	a, b := end/3, 2*end/3
	for _, r := range [][2]uint32{{0, a}, {a - 64, b}, {b, end}} {
		if _, err := cat.PutWALPiece(ctx, name, r[0], raw[r[0]:r[1]], object.EncodeOptions{Compression: object.Zstd}, src.SystemID, uint32(src.SegmentSize)); err != nil {
			t.Fatal(err)
		}
	}

	list := mustLogship(t, nil, append(flags, "catalog", "list")...)
	if !strings.Contains(list, "streamed tail: "+name) || !strings.Contains(list, "streamed up to "+flushed.String()) {
		t.Errorf("catalog list does not show the tail of %s up to %s:\n%s", name, flushed, list)
	}
	if r := logship(t, nil, append(flags, "verify", "--deep")...); r.code != 0 || !strings.Contains(r.stdout, "streamed tail: "+name) {
		t.Errorf("verify --deep: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	t.Cleanup(func() { stopServer(t, r.dir) })
	out := mustLogship(t, nil, append(flags, "restore", "--target-dir", r.dir, "--start", "--port", strconv.Itoa(r.port),
		"--start-timeout", "50s", "--json")...)
	var ro struct {
		Restore struct {
			Plan struct {
				StreamedWAL   string `json:"streamed_wal"`
				StreamedBytes uint32 `json:"streamed_bytes"`
				StreamedEnd   string `json:"streamed_end"`
			} `json:"plan"`
		} `json:"restore"`
		Reached struct {
			State string `json:"state"`
			LSN   string `json:"lsn"`
		} `json:"reached"`
	}
	if err := json.Unmarshal([]byte(out), &ro); err != nil {
		t.Fatalf("restore --json: %v\n%s", err, out)
	}
	p := ro.Restore.Plan
	if p.StreamedWAL != name || p.StreamedBytes != end || p.StreamedEnd == "" {
		t.Errorf("plan: %+v, want the tail of %s, %d bytes", p, name, end)
	}
	if got := r.query(t, probesSQL); got != "1,2,3,4" {
		t.Errorf("restored probes %q, want 1,2,3,4 (all committed before the tail's end, none after)", got)
	}
	reached, err := pg.ParseLSN(ro.Reached.LSN)
	if want, _ := pg.ParseLSN(p.StreamedEnd); err != nil || ro.Reached.State != "promoted" || reached < want || reached > flushed+8 {
		t.Errorf("reached %s (%s), want %s up to the tail's end %s", ro.Reached.LSN, ro.Reached.State, p.StreamedEnd, flushed)
	}
}

// killPostmaster kills the cluster's postmaster with SIGKILL, as a crash
// would, and waits until it is gone.
func killPostmaster(t *testing.T, c *pgtest.Cluster) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	pgtest.WaitFor(t, 30e9, "the postmaster to die", func() bool { return syscall.Kill(pid, 0) != nil })
}
