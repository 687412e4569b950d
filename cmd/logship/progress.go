package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sync"
	"time"
)

// termLine is stderr with, on a terminal, one line a progress bar redraws
// in place. Everything else written to it (log records, warnings) goes
// above the bar: the bar's line is cleared first and the bar drawn again
// after, so that a record never shares a line with the bar.
type termLine struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	bar      string // what the bar line shows now; "" when none is drawn
}

func newTermLine(w io.Writer) *termLine {
	if t, ok := w.(*termLine); ok {
		return t
	}
	l := &termLine{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			l.terminal = true
		}
	}
	return l
}

// Write writes p above the bar. slog handlers write a record in one call.
func (l *termLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bar == "" {
		return l.w.Write(p)
	}
	io.WriteString(l.w, "\r\033[K")
	n, err := l.w.Write(p)
	if len(p) > 0 && p[len(p)-1] != '\n' {
		io.WriteString(l.w, "\n")
	}
	io.WriteString(l.w, "\r"+l.bar)
	return n, err
}

// draw shows s on the bar line, replacing what it showed.
func (l *termLine) draw(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	io.WriteString(l.w, "\r"+s+"\033[K")
	l.bar = s
}

// clear removes the bar, leaving the cursor at the start of its line.
func (l *termLine) clear() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bar != "" {
		io.WriteString(l.w, "\r\033[K")
		l.bar = ""
	}
}

// progress reports a long operation: a bar redrawn in place on a terminal,
// a structured log line every few seconds otherwise (cron, systemd).
type progress struct {
	mu    sync.Mutex
	what  string
	line  *termLine
	log   *slog.Logger
	start time.Time
	last  time.Time
}

// newProgress reports on stderr, which is best the runtime's (a
// *termLine), so that its log records go above the bar.
func newProgress(what string, stderr io.Writer, log *slog.Logger) *progress {
	return &progress{what: what, line: newTermLine(stderr), log: log, start: time.Now()}
}

// update is safe to call often and from any goroutine.
func (p *progress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 5 * time.Second
	if p.line.terminal {
		every = 200 * time.Millisecond
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start)
	rate := float64(done) / elapsed.Seconds() // bytes per second
	eta, known := remaining(done, total, rate)
	if !p.line.terminal {
		attrs := []any{"done_bytes", done, "total_bytes", total, "mib_per_s", math.Round(rate/(1<<20)*10) / 10}
		if known {
			attrs = append(attrs, "eta_seconds", int64(eta.Seconds()))
		}
		p.log.Info(p.what, attrs...)
		return
	}
	p.line.draw(progressBar(p.what, done, total, rate, eta, known))
}

// remaining estimates the time left at the mean rate so far.
func remaining(done, total int64, rate float64) (time.Duration, bool) {
	if total <= 0 || done <= 0 || rate <= 0 || done >= total {
		return 0, false
	}
	return time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second), true
}

func progressBar(what string, done, total int64, rate float64, eta time.Duration, known bool) string {
	s := fmt.Sprintf("%s: %s", what, humanBytes(done))
	if total > 0 {
		s = fmt.Sprintf("%s: %3.0f%% %s of %s", what, 100*float64(min(done, total))/float64(total), humanBytes(done), humanBytes(total))
	}
	s += fmt.Sprintf(", %.1f MiB/s", rate/(1<<20))
	if known {
		s += ", ETA " + eta.String()
	}
	return s
}

// end clears the bar.
func (p *progress) end() {
	p.line.clear()
}
