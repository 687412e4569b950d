package resident_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/resident"
	"github.com/logship/logship/resident/client"
)

// fakeWAL is a pg_wal with the given files present and marked ready.
func fakeWAL(t *testing.T, names ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pg_wal")
	if err := os.MkdirAll(filepath.Join(dir, "archive_status"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600)
		os.WriteFile(filepath.Join(dir, "archive_status", n+".ready"), nil, 0o600)
	}
	return dir
}

type pusher struct {
	mu      sync.Mutex
	order   []string
	active  int
	maxSeen int
	gate    chan struct{} // nil: push at once
	fail    map[string]error
}

func (p *pusher) push(ctx context.Context, path string, ahead bool) error {
	name := filepath.Base(path)
	p.mu.Lock()
	p.order = append(p.order, name)
	p.active++
	p.maxSeen = max(p.maxSeen, p.active)
	gate, err := p.gate, p.fail[name]
	p.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	p.mu.Lock()
	p.active--
	p.mu.Unlock()
	return err
}

func (p *pusher) count(f func(*pusher) int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return f(p)
}

func (p *pusher) first() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.order[0]
}

// serve runs a resident on walDir until the test ends.
func serve(t *testing.T, walDir string, p *pusher, edit func(*resident.Config)) (resident.Config, <-chan error) {
	t.Helper()
	loc, err := client.Locate(walDir)
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	cfg := resident.Config{
		WalDir: walDir, Location: loc, BuildID: "b1", Key: "k1", Parallel: 2,
		ScanEvery: 10 * time.Millisecond,
		Push:      p.push,
		Answer:    func(err error) (int, string) { return 1, err.Error() },
		Ready:     func(s string) { ready <- s },
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		done <- resident.Run(ctx, cfg)
		close(finished)
	}()
	t.Cleanup(func() { cancel(); <-finished })
	select {
	case s := <-ready:
		if s != "ready" {
			t.Fatalf("resident says %s", s)
		}
	case err := <-done:
		t.Fatalf("resident: %v", err)
	}
	return cfg, done
}

func ask(t *testing.T, cfg resident.Config, build, key, name string) client.Answer {
	t.Helper()
	a, err := client.Ask(cfg.Location.Socket, client.FormatRequest(build, key, filepath.Join(cfg.WalDir, name)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// A client hears ok only once the push returned nil, and a failure with
// the push's error; ready files are pushed ahead, history files first, at
// most Parallel at once besides the one a client asks for.
func TestAnswersFollowPushes(t *testing.T) {
	names := []string{"000000010000000000000003", "000000010000000000000001", "00000002.history", "000000010000000000000002"}
	walDir := fakeWAL(t, names...)
	p := &pusher{gate: make(chan struct{}), fail: map[string]error{"000000010000000000000002": errors.New("store down")}}
	cfg, _ := serve(t, walDir, p, func(c *resident.Config) { c.Parallel = 1 })
	waitFor(t, "a push ahead", func() bool { return p.count(func(p *pusher) int { return len(p.order) }) == 1 })
	if first := p.first(); first != "00000002.history" {
		t.Fatalf("pushed %s first, want the history file", first)
	}
	answered := make(chan client.Answer, 1)
	go func() {
		a, _ := client.Ask(cfg.Location.Socket, client.FormatRequest("b1", "k1", filepath.Join(walDir, names[1])))
		answered <- a
	}()
	waitFor(t, "the asked file's push", func() bool { return p.count(func(p *pusher) int { return p.active }) == 2 })
	select {
	case a := <-answered:
		t.Fatalf("answered %+v before the push finished", a)
	default:
	}
	close(p.gate)
	if a := <-answered; a.Kind != client.KindOK {
		t.Fatalf("answer %+v, want ok", a)
	}
	if a := ask(t, cfg, "b1", "k1", names[3]); a.Kind != client.KindFail || a.Code != 1 || a.Msg != "store down" {
		t.Fatalf("answer for a failing push %+v", a)
	}
	for _, n := range names {
		if n != names[3] {
			if a := ask(t, cfg, "b1", "k1", n); a.Kind != client.KindOK {
				t.Fatalf("%s: %+v", n, a)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.maxSeen > 2 {
		t.Fatalf("%d pushes at once, want at most 1 ahead + 1 asked", p.maxSeen)
	}
	ok := 0
	for _, n := range p.order {
		if n != names[3] {
			ok++
		}
	}
	if ok != 3 {
		t.Fatalf("files that pushed fine were pushed %d times, want once each: %v", ok, p.order)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Another binary's client gets stale and the resident leaves; another
// configuration's client gets mismatch from a resident started by hand,
// stale from one a client started.
func TestStaleAndMismatch(t *testing.T) {
	p := &pusher{}
	cfg, done := serve(t, fakeWAL(t, "000000010000000000000001"), p, nil)
	if a := ask(t, cfg, "b1", "other", "000000010000000000000001"); a.Kind != client.KindMismatch {
		t.Fatalf("other settings: %+v", a)
	}
	if a := ask(t, cfg, "b0", "k1", "000000010000000000000001"); a.Kind != client.KindStale {
		t.Fatalf("other binary: %+v", a)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a stale resident did not leave")
	}

	cfg, done = serve(t, fakeWAL(t), p, func(c *resident.Config) { c.Spawned = true })
	if a := ask(t, cfg, "b1", "other", "000000010000000000000001"); a.Kind != client.KindStale {
		t.Fatalf("other settings, spawned resident: %+v", a)
	}
	<-done
}

// One resident per pg_wal: a second one is busy. An idle resident leaves.
func TestBusyAndIdle(t *testing.T) {
	walDir := fakeWAL(t)
	p := &pusher{}
	cfg, done := serve(t, walDir, p, func(c *resident.Config) { c.IdleExit = 50 * time.Millisecond })
	second := cfg
	second.Spawned = true
	if err := resident.Run(context.Background(), second); !errors.Is(err, resident.ErrBusy) {
		t.Fatalf("second resident: %v, want ErrBusy", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle resident did not leave")
	}
	if _, err := os.Stat(cfg.Location.Socket); err == nil {
		t.Fatal("the socket outlived its resident")
	}
}

func TestProtocol(t *testing.T) {
	a := client.Answer{Kind: client.KindFail, Code: 2, Msg: "bad\tinput\nhere"}
	got, err := client.ParseAnswer(client.FormatAnswer(a)[:len(client.FormatAnswer(a))-1])
	if err != nil || got.Code != 2 || got.Msg != "bad input here" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	req := client.FormatRequest("b", "k", "/x/pg_wal/1")
	b, k, p, err := client.ParseRequest(req[:len(req)-1])
	if err != nil || b != "b" || k != "k" || p != "/x/pg_wal/1" {
		t.Fatalf("request: %s %s %s %v", b, k, p, err)
	}
	if _, _, _, err := client.ParseRequest("logship-resident/0\tb\tk\tp"); err == nil {
		t.Fatal("another protocol version accepted")
	}
	if client.Key([]string{"--store", "a"}, nil) == client.Key([]string{"--store", "b"}, nil) ||
		client.Key(nil, []string{"LOGSHIP_STORE=a"}) == client.Key(nil, []string{"LOGSHIP_STORE=b"}) ||
		client.Key(nil, []string{"LOGSHIP_RESIDENT_IDLE_EXIT=1s", "HOME=/x"}) != client.Key(nil, nil) {
		t.Fatal("Key does not tell configurations apart as it should")
	}
}

// A pg_wal whose socket path would be too long for a unix socket gets a
// folder under the temporary directory.
func TestLocateLongPath(t *testing.T) {
	long := filepath.Join(t.TempDir(), string(slices.Repeat([]byte("d"), 120)), "pg_wal")
	loc, err := client.Locate(long)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(loc.Dir) })
	if len(loc.Socket) > 107 || filepath.Dir(loc.Dir) != filepath.Clean(os.TempDir()) {
		t.Fatalf("socket %s", loc.Socket)
	}
}

// A resident started by hand takes over from one a client started; one
// started by hand is not pushed out by another.
func TestTakeOver(t *testing.T) {
	walDir := fakeWAL(t)
	p := &pusher{}
	_, spawnedDone := serve(t, walDir, p, func(c *resident.Config) { c.Spawned = true })
	byHand, _ := serve(t, walDir, p, nil) // returns once it listens
	select {
	case <-spawnedDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the resident a client started did not leave")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	third := byHand
	third.Ready = nil
	if err := resident.Run(ctx, third); err != nil {
		t.Fatalf("a second resident started by hand, stopped while waiting: %v", err)
	}
	if a := ask(t, byHand, "b1", "k1", "000000010000000000000001"); a.Kind != client.KindFail && a.Kind != client.KindOK {
		t.Fatalf("the first resident started by hand does not serve: %+v", a)
	}
}
