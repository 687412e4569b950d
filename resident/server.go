package resident

import (
	"bufio"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/resident/client"
)

// retryAfter is how long a file whose push ahead failed waits before the
// next push ahead; a client asking for it pushes it at once.
const retryAfter = 5 * time.Second

type server struct {
	cfg Config
	ctx context.Context

	mu       sync.Mutex
	done     map[string]fileID // durable: pushed by this process
	flights  map[string]*flight
	failedAt map[string]time.Time
	ahead    int // pushes ahead in flight
	last     time.Time

	kick   chan struct{}
	stop   chan string
	pushes sync.WaitGroup
	conns  sync.WaitGroup
}

type flight struct {
	done  chan struct{}
	err   error
	ahead bool
}

// fileID tells a WAL file from another of the same name (a cluster
// re-created in the same directory): a durable name counts only for the
// very file that was pushed.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func statID(path string) (fileID, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino, size: fi.Size(), mtime: fi.ModTime().UnixNano()}, true
}

func newServer(ctx context.Context, cfg Config) *server {
	return &server{
		cfg: cfg, ctx: ctx,
		done: map[string]fileID{}, flights: map[string]*flight{}, failedAt: map[string]time.Time{},
		last: time.Now(),
		kick: make(chan struct{}, 1), stop: make(chan string, 1),
	}
}

func (s *server) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *server) quit(why string) {
	select {
	case s.stop <- why:
	default:
	}
}

func (s *server) accept(ln *net.UnixListener) {
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.quit("accept: " + err.Error())
			}
			return
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer conn.Close()
			a := s.serve(conn)
			_, _ = conn.Write([]byte(client.FormatAnswer(a)))
		}()
	}
}

// serve reads one request and decides its answer.
func (s *server) serve(conn *net.UnixConn) client.Answer {
	if uid, err := peerUID(conn); err != nil || uid != os.Getuid() {
		s.cfg.Log.Warn("refused a client of another user", "uid", uid)
		return client.Answer{Kind: client.KindMismatch}
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return client.Answer{Kind: client.KindMismatch}
	}
	_ = conn.SetReadDeadline(time.Time{})
	build, key, path, err := client.ParseRequest(strings.TrimSuffix(line, "\n"))
	switch {
	case err == nil && build == client.Handover && s.cfg.Spawned:
		s.quit("a resident started by hand takes over")
		return client.Answer{Kind: client.KindStale}
	case err == nil && build == client.Handover:
		return client.Answer{Kind: client.KindMismatch}
	case err != nil, build != s.cfg.BuildID:
		s.quit("a client of another logship binary asked")
		return client.Answer{Kind: client.KindStale}
	case s.cfg.Changed != nil && s.cfg.Changed():
		s.quit("the configuration file changed")
		return client.Answer{Kind: client.KindStale}
	case key != s.cfg.Key && s.cfg.Spawned:
		s.quit("a client of another configuration asked")
		return client.Answer{Kind: client.KindStale}
	case key != s.cfg.Key:
		s.cfg.Log.Warn("a client with other settings asked; it pushes itself (give archive_command the resident's flags)", "path", path)
		return client.Answer{Kind: client.KindMismatch}
	case filepath.Dir(path) != s.cfg.WalDir:
		return client.Answer{Kind: client.KindMismatch}
	}
	err = s.durable(path)
	if err == nil {
		return client.Answer{Kind: client.KindOK}
	}
	if s.ctx.Err() != nil {
		// Stopping, not a failure of the file: the client asks again.
		return client.Answer{Kind: client.KindRetry}
	}
	if s.cfg.Failed != nil {
		s.cfg.Failed(s.ctx, err)
	}
	code, msg := s.cfg.Answer(err)
	return client.Answer{Kind: client.KindFail, Code: code, Msg: msg}
}

// durable returns nil once the file at path is durable: pushed by this
// process, now or earlier, or pushed now for this request. A push ahead
// that failed is tried again for the client, at once.
func (s *server) durable(path string) error {
	name := filepath.Base(path)
	s.mu.Lock()
	s.last = time.Now()
	if id, ok := s.done[name]; ok {
		if now, ok := statID(path); ok && now == id {
			s.mu.Unlock()
			return nil
		}
		delete(s.done, name)
	}
	f := s.flights[name]
	if f == nil {
		f = s.startLocked(name, false)
	}
	s.mu.Unlock()
	s.poke()
	<-f.done
	if f.err == nil || !f.ahead {
		return f.err
	}
	s.mu.Lock()
	f = s.flights[name]
	if f == nil {
		f = s.startLocked(name, false)
	}
	s.mu.Unlock()
	<-f.done
	return f.err
}

// startLocked starts pushing name; s.mu is held.
func (s *server) startLocked(name string, ahead bool) *flight {
	f := &flight{done: make(chan struct{}), ahead: ahead}
	s.flights[name] = f
	if ahead {
		s.ahead++
	}
	s.pushes.Add(1)
	path := filepath.Join(s.cfg.WalDir, name)
	go func() {
		defer s.pushes.Done()
		id, idOK := statID(path)
		err := s.cfg.Push(s.ctx, path, ahead)
		s.mu.Lock()
		delete(s.flights, name)
		if ahead {
			s.ahead--
		}
		if err == nil && idOK {
			s.done[name] = id
			delete(s.failedAt, name)
		} else if err != nil {
			s.failedAt[name] = time.Now()
			if ahead && s.ctx.Err() == nil {
				s.cfg.Log.Warn("push ahead failed; retried when the archiver asks", "name", name, "error", err)
			}
		}
		s.mu.Unlock()
		f.err = err
		close(f.done)
		s.poke()
	}()
	return f
}

// loop scans archive_status on every tick and kick until a reason to stop.
func (s *server) loop() string {
	tick := time.NewTicker(s.cfg.ScanEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return "interrupted"
		case why := <-s.stop:
			return why
		case <-tick.C:
		case <-s.kick:
		}
		if why := s.scan(); why != "" {
			return why
		}
	}
}

// scan pushes ahead the ready files (history files first, then in name
// order, as PostgreSQL archives them) up to Parallel at once, forgets the
// durable files PostgreSQL has marked done, and says why to stop, if so.
func (s *server) scan() string {
	ready, err := readyFiles(s.cfg.WalDir)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(s.cfg.WalDir); errors.Is(err, fs.ErrNotExist) {
			return "the pg_wal directory is gone"
		}
	}
	isReady := make(map[string]bool, len(ready))
	for _, n := range ready {
		isReady[n] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for n := range s.done {
		if !isReady[n] {
			delete(s.done, n) // archived: PostgreSQL will not ask again
		}
	}
	for n := range s.failedAt {
		if !isReady[n] {
			delete(s.failedAt, n)
		}
	}
	pending := false
	for _, n := range ready {
		if _, ok := s.done[n]; ok || s.flights[n] != nil {
			continue
		}
		if t, ok := s.failedAt[n]; ok && time.Since(t) < retryAfter {
			continue
		}
		pending = true
		if s.ahead < s.cfg.Parallel && s.ctx.Err() == nil {
			if _, err := os.Stat(filepath.Join(s.cfg.WalDir, n)); err == nil {
				s.startLocked(n, true)
			}
		}
	}
	if s.cfg.IdleExit > 0 && !pending && len(s.flights) == 0 && time.Since(s.last) > s.cfg.IdleExit {
		return "idle"
	}
	return ""
}

// readyFiles lists the WAL files PostgreSQL has marked ready, in the
// order its archiver takes them: timeline history files first, then by
// name.
func readyFiles(walDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(walDir, "archive_status"))
	if err != nil {
		return nil, err
	}
	var ready []string
	for _, e := range entries {
		f, ok := strings.CutSuffix(e.Name(), ".ready")
		if !ok {
			continue
		}
		if _, err := pg.ParseWALFileName(f, 1<<20); err != nil {
			continue
		}
		ready = append(ready, f)
	}
	sort.Slice(ready, func(i, j int) bool {
		hi, hj := strings.HasSuffix(ready[i], ".history"), strings.HasSuffix(ready[j], ".history")
		if hi != hj {
			return hi
		}
		return ready[i] < ready[j]
	})
	return ready, nil
}
