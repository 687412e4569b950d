package client

import (
	"os"
	"syscall"
)

// maxLog is the size past which a detached process's log starts afresh:
// such processes log little; this keeps the last few MiB.
const maxLog = 4 << 20

// StartDetached starts bin with argv in a session of its own (PostgreSQL's
// signals to the process that started it never reach it), stdin from
// /dev/null, stdout and stderr appended to logPath (emptied first once it
// is past maxLog), and extra as file descriptors 3 on. It does not wait
// for the process. The resident (started by logship-push) and wal-fetch's
// prefetcher are started through it.
func StartDetached(bin string, argv []string, logPath string, extra ...*os.File) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if fi, err := os.Stat(logPath); err == nil && fi.Size() > maxLog {
		flags |= os.O_TRUNC
	}
	logf, err := os.OpenFile(logPath, flags, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer null.Close()
	p, err := os.StartProcess(bin, argv, &os.ProcAttr{
		Files: append([]*os.File{null, logf, logf}, extra...),
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		return err
	}
	return p.Release()
}
