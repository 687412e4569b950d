package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// logLines is stderr for the text commands print besides their logs (a
// warning about a stray key, a mark's notice) when logs are JSON: each
// line becomes a log record, so that nothing on stderr is plain text.
// "logship: warning: …" is a WARN record, "logship: interrupted …" an
// ERROR one, any other line INFO.
type logLines struct {
	mu  sync.Mutex
	log *slog.Logger
	buf []byte
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.record(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *logLines) record(line string) {
	msg := strings.TrimPrefix(strings.TrimSpace(line), "logship: ")
	level := slog.LevelInfo
	if m, ok := strings.CutPrefix(msg, "warning: "); ok {
		level, msg = slog.LevelWarn, m
	} else if strings.HasPrefix(msg, "interrupted") {
		level = slog.LevelError
	}
	if msg != "" {
		l.log.Log(context.Background(), level, msg)
	}
}

// jsonStderr is set once the command's logs are known to be JSON, for what
// the signal handler prints (it starts before the configuration is read).
var jsonStderr atomic.Pointer[logLines]

// signalStderr is the signal handler's stderr: a log record once logs
// are JSON, plain text until then.
type signalStderr struct{ w io.Writer }

func (s signalStderr) Write(p []byte) (int, error) {
	if l := jsonStderr.Load(); l != nil {
		return l.Write(p)
	}
	return s.w.Write(p)
}
