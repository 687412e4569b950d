package client

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startWait is how long a client waits for a resident it started to
// listen before it pushes the file itself.
const startWait = time.Second

// answerWait bounds the wait for one answer.
const answerWait = 10 * time.Minute

// attempts bounds how often a client asks (a resident killed under it, a
// stale one replaced) before it pushes the file itself.
const attempts = 3

// Main is logship-push: args are logship's global flags followed by the
// WAL file's path, as `logship [flags] wal-push PATH` takes them. It asks
// the resident of the file's pg_wal whether the file is durable (the
// resident pushes it if not yet), starting the resident when none
// answers, and returns the exit code wal-push would. When no resident can
// serve it, it executes `logship [flags] wal-push PATH` instead, so the
// worst case is today's direct push. It returns only on an answer.
func Main(args []string, stderr io.Writer) int {
	bin := logshipBinary()
	if len(args) == 0 || strings.HasPrefix(args[len(args)-1], "-") {
		return direct(bin, args, stderr)
	}
	globals, path := args[:len(args)-1], args[len(args)-1]
	if n := len(globals); n > 0 && globals[n-1] == "wal-push" {
		// `logship-push [flags] wal-push PATH`, copied from a wal-push
		// archive_command: the same thing.
		globals = globals[:n-1]
		args = append(append([]string{}, globals...), path)
	}
	walDir, err := WALDir(path)
	if err != nil {
		return direct(bin, args, stderr)
	}
	abs := filepath.Join(walDir, filepath.Base(path))
	loc, err := Locate(walDir)
	if err != nil {
		return direct(bin, args, stderr)
	}
	build, err := BuildID(bin)
	if err != nil {
		return direct(bin, args, stderr)
	}
	req := FormatRequest(build, Key(globals, os.Environ()), abs)
	for range attempts {
		a, err := Ask(loc.Socket, req)
		if err == nil {
			switch a.Kind {
			case KindOK:
				return 0
			case KindFail:
				io.WriteString(stderr, "logship: "+a.Msg+"\n")
				return a.Code
			case KindMismatch:
				return direct(bin, args, stderr)
			}
			// stale or retry: the resident is going; start the next one.
		} else if errors.Is(err, syscall.EAGAIN) {
			break // no answer within answerWait
		}
		if !start(bin, globals, walDir, loc) {
			break
		}
	}
	return direct(bin, args, stderr)
}

// Ask sends one request and waits for its answer, as long as the push
// takes: the resident answers only once the file is durable or its push
// failed. A broken connection (a resident killed mid-push) is an error,
// never an answer.
func Ask(socket, req string) (Answer, error) {
	// syscall rather than net: net links cgo's resolver, and a dynamic
	// binary starts slower.
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return Answer{}, err
	}
	conn := os.NewFile(uintptr(fd), socket)
	defer conn.Close()
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: socket}); err != nil {
		return Answer{}, err
	}
	// A safety net, far above any push: a resident that hangs must not
	// hold the archiver for ever (the client then pushes itself).
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Sec: int64(answerWait / time.Second)})
	if _, err := io.WriteString(conn, req); err != nil {
		return Answer{}, err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return Answer{}, err
	}
	return ParseAnswer(strings.TrimSuffix(line, "\n"))
}

// start runs `logship GLOBALS resident --wal-dir DIR` in a session of its
// own (PostgreSQL's signals to the archiver never reach it), its output
// appended to the location's log, and waits until it says it listens
// ("ready") or that another resident holds the lock ("busy"). False means
// it could not start or died first.
func start(bin string, globals []string, walDir string, loc Location) bool {
	r, w, err := os.Pipe()
	if err != nil {
		return false
	}
	defer r.Close()
	// The resident finds loc again from the same directory (Locate).
	argv := append(append([]string{"logship"}, globals...), "resident", "--spawned", "--ready-fd", "3",
		"--wal-dir", walDir)
	if d := os.Getenv("LOGSHIP_RESIDENT_IDLE_EXIT"); d != "" {
		argv = append(argv, "--idle-exit", d)
	}
	err = StartDetached(bin, argv, loc.Log, w)
	w.Close()
	if err != nil {
		return false
	}
	_ = r.SetReadDeadline(time.Now().Add(startWait))
	buf := make([]byte, 16)
	n, _ := io.ReadAtLeast(r, buf, 1)
	word := strings.TrimSpace(string(buf[:n]))
	return word == "ready" || word == "busy"
}

// WALDir is the directory of the WAL file at path, absolute and with
// symbolic links resolved, so that the archiver (whose working directory
// is the data directory) and a resident started by hand name the same
// pg_wal the same way.
func WALDir(path string) (string, error) {
	abs, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// direct replaces this process with `logship GLOBALS wal-push PATH`:
// today's direct push, with its own messages and exit codes.
func direct(bin string, args []string, stderr io.Writer) int {
	argv := []string{"logship"}
	if n := len(args); n > 0 && !strings.HasPrefix(args[n-1], "-") {
		argv = append(append(append(argv, args[:n-1]...), "wal-push"), args[n-1])
	} else {
		argv = append(append(argv, "wal-push"), args...)
	}
	err := syscall.Exec(bin, argv, os.Environ())
	io.WriteString(stderr, "logship-push: cannot run "+bin+": "+err.Error()+"\n")
	return 1
}

// logshipBinary is the logship beside this executable (both are installed
// together), else the first one in PATH.
func logshipBinary() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "logship")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		p := filepath.Join(d, "logship")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return "logship"
}
