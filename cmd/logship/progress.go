package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// progress reports a long operation: a line redrawn in place on a terminal,
// a structured log line every few seconds otherwise (cron, systemd).
type progress struct {
	mu       sync.Mutex
	what     string
	w        io.Writer
	log      *slog.Logger
	terminal bool
	start    time.Time
	last     time.Time
	drawn    bool
}

func newProgress(what string, stderr io.Writer, log *slog.Logger) *progress {
	p := &progress{what: what, w: stderr, log: log, start: time.Now()}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// update is safe to call often and from any goroutine.
func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 5 * time.Second
	if p.terminal {
		every = 200 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	rate := float64(done) / now.Sub(p.start).Seconds() / (1 << 20)
	if !p.terminal {
		p.log.Info(p.what, "done_bytes", done, "total_bytes", total, "mib_per_s", fmt.Sprintf("%.1f", rate))
		return
	}
	pct := ""
	if total > 0 {
		pct = fmt.Sprintf(" %3.0f%%", 100*float64(min(done, total))/float64(total))
	}
	fmt.Fprintf(p.w, "\r%s:%s %s of %s, %.1f MiB/s   ", p.what, pct, humanBytes(done), humanBytes(total), rate)
	p.drawn = true
}

// end clears the terminal line.
func (p *progress) end() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
