// Package resident is the resident shipper: one long-running process per
// pg_wal directory that pushes WAL files as soon as PostgreSQL marks them
// ready (<pg_wal>/archive_status/<name>.ready), several at a time, over
// the one store connection it keeps open, and answers logship-push (the
// thin client archive_command runs, package resident/client) whether the
// file it asks for is durable.
//
// Invariant 1 is unchanged: a client hears "ok" for a file only after
// this process has stored the file's object and then its catalog record
// (the push function returned nil), never from memory of an earlier
// process. A resident killed at any moment breaks its connections; its
// clients never read an answer and start another resident, or push
// themselves.
package resident

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/logship/logship/resident/client"
)

// ErrBusy means another resident already serves this pg_wal directory.
var ErrBusy = errors.New("another resident serves this pg_wal directory")

// Config is what a resident needs; the command line fills it.
type Config struct {
	WalDir   string
	Location client.Location
	BuildID  string // client.BuildID of the binary the resident runs
	Key      string // client.Key of the configuration it was started with
	// Spawned: started by a client. One that receives another
	// configuration's request answers stale and leaves, for the client to
	// start one with its configuration; one started by hand (systemd)
	// answers mismatch and stays.
	Spawned bool
	// Parallel is how many ready files are pushed ahead at once; a file a
	// client waits for is pushed at once, whatever is in flight.
	Parallel int
	// IdleExit: leave after this long without requests, once nothing is
	// in flight or left to push; 0 never.
	IdleExit time.Duration
	// ScanEvery is how often archive_status is read (default 100 ms);
	// every request also reads it.
	ScanEvery time.Duration
	// Push archives the WAL file at path: nil only once its object and
	// catalog record are durable. ahead is true for a file no client waits
	// for yet.
	Push func(ctx context.Context, path string, ahead bool) error
	// Answer maps a failed push to wal-push's exit code and message.
	Answer func(err error) (code int, msg string)
	// Changed reports that the configuration file changed since the start:
	// the resident answers stale and leaves. Nil: never.
	Changed func() bool
	// Failed is called for each failure a client is told of (hooks).
	Failed func(ctx context.Context, err error)
	// Ready is told "ready" once the socket listens, or "busy".
	Ready func(state string)
	Log   *slog.Logger
}

// Run serves until ctx is cancelled, the resident is idle for IdleExit,
// pg_wal goes away, or a request says it is stale. It returns ErrBusy at
// once when another resident holds the lock.
func Run(ctx context.Context, cfg Config) error {
	if cfg.ScanEvery <= 0 {
		cfg.ScanEvery = 100 * time.Millisecond
	}
	if cfg.Parallel < 1 {
		cfg.Parallel = 1
	}
	var lock *os.File
	var err error
	if cfg.Spawned {
		lock, err = waitLock(cfg.Location)
	} else {
		lock, err = takeOver(ctx, cfg.Location, cfg.Key)
	}
	if err != nil && ctx.Err() != nil {
		return nil // stopped while waiting: nothing was served
	}
	if err != nil {
		if cfg.Ready != nil && errors.Is(err, ErrBusy) {
			cfg.Ready("busy")
		}
		return err
	}
	ln, err := listen(cfg.Location.Socket)
	if err != nil {
		lock.Close()
		return err
	}
	if cfg.Ready != nil {
		cfg.Ready("ready")
	}
	cfg.Log.Info("resident serving", "wal_dir", cfg.WalDir, "socket", cfg.Location.Socket,
		"parallel", cfg.Parallel, "idle_exit", cfg.IdleExit)
	s := newServer(ctx, cfg)
	go s.accept(ln)
	why := s.loop()
	// The socket goes first, then the lock, so that the next resident can
	// listen at once; the pushes in flight finish (their clients still get
	// their answers) before the process leaves.
	ln.Close()
	lock.Close()
	cfg.Log.Info("resident stopping", "reason", why)
	s.pushes.Wait()
	s.conns.Wait()
	return nil
}

// lockWait bounds how long a new resident waits for the lock of one that
// no longer listens: a stale one finishing its pushes, or a client's
// spawn racing another's.
const lockWait = 2 * time.Second

// waitLock takes the lock, waiting while its holder does not listen (it
// is leaving: it closes its socket before it lets the lock go). ErrBusy
// means a resident holds it and serves.
func waitLock(loc client.Location) (*os.File, error) {
	deadline := time.Now().Add(lockWait)
	for {
		f, err := takeLock(loc.Lock)
		if !errors.Is(err, ErrBusy) {
			return f, err
		}
		if listening(loc.Socket) || time.Now().After(deadline) {
			return nil, ErrBusy
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// takeOver is how a resident started by hand (systemd) gets the lock: it
// asks a resident a client started to leave (that one answers stale and
// goes once its pushes are done), and waits for the lock as long as ctx
// lasts; a resident also started by hand stays, and this one waits.
func takeOver(ctx context.Context, loc client.Location, key string) (*os.File, error) {
	var asked time.Time
	for {
		f, err := takeLock(loc.Lock)
		if !errors.Is(err, ErrBusy) {
			return f, err
		}
		if time.Since(asked) > time.Second {
			_, _ = client.Ask(loc.Socket, client.FormatRequest(client.Handover, key, ""))
			asked = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// listening reports whether a resident accepts connections on socket.
func listening(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// takeLock holds an exclusive flock on path for as long as the returned
// file is open: one resident per pg_wal directory, and a resident killed
// with -9 releases it with its process.
func takeLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrBusy
		}
		return nil, err
	}
	// The holder's pid, for people (and tests) looking for the process.
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// listen replaces a socket left by a dead resident (only the lock holder
// gets here) and listens, the socket readable by its owner only.
func listen(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, err
	}
	return ln, nil
}

// peerUID is the uid of the process at the other end of conn.
func peerUID(conn *net.UnixConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if credErr != nil {
		return -1, credErr
	}
	return int(cred.Uid), nil
}
