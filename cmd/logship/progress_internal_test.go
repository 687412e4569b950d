package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// screen renders what a terminal shows for out: \r returns to the start
// of the line, ESC[K erases to its end, \n starts a new line.
func screen(out string) []string {
	lines := []string{""}
	col := 0
	for i := 0; i < len(out); i++ {
		cur := &lines[len(lines)-1]
		switch {
		case out[i] == '\r':
			col = 0
		case out[i] == '\n':
			lines = append(lines, "")
			col = 0
		case strings.HasPrefix(out[i:], "\033[K"):
			*cur = (*cur)[:col]
			i += 2
		default:
			if col < len(*cur) {
				*cur = (*cur)[:col] + string(out[i]) + (*cur)[col+1:]
			} else {
				*cur += string(out[i])
			}
			col++
		}
	}
	return lines
}

// A log record written while the bar is drawn goes on a line of its own,
// above the bar, and the bar is drawn again below it; end clears it.
func TestProgressLogsAboveTheBar(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		line := newTermLine(&out)
		line.terminal = true
		log := newLogger(line, Config{LogFormat: format, LogLevel: "info"})
		p := newProgress("backup", line, log)
		p.start = time.Now().Add(-10 * time.Second)
		p.update(50<<20, 100<<20)
		log.Warn("archiver is slow", "segments", 3)
		p.last = time.Time{}
		p.update(60<<20, 100<<20)
		log.Info("done")
		p.end()

		got := screen(out.String())
		var records, bars int
		for _, l := range got {
			hasBar := strings.Contains(l, "backup:")
			hasRecord := strings.Contains(l, "archiver is slow") || strings.Contains(l, "done")
			if hasBar && hasRecord {
				t.Errorf("%s: a record shares a line with the bar: %q", format, l)
			}
			if hasRecord {
				records++
			}
			if hasBar {
				bars++
			}
		}
		if records != 2 || bars != 0 {
			t.Errorf("%s: screen shows %d records and %d bars after end, want 2 and 0:\n%s", format, records, bars, strings.Join(got, "\n"))
		}
	}
}

func TestProgressBarShowsETA(t *testing.T) {
	eta, ok := remaining(25<<20, 100<<20, 5<<20)
	if !ok || eta != 15*time.Second {
		t.Fatalf("remaining: %v %v, want 15s", eta, ok)
	}
	bar := progressBar("restore", 25<<20, 100<<20, 5<<20, eta, ok)
	if want := "restore:  25% 25.0 MiB of 100.0 MiB, 5.0 MiB/s, ETA 15s"; bar != want {
		t.Errorf("bar %q, want %q", bar, want)
	}
	if _, ok := remaining(10, 0, 5); ok {
		t.Error("an ETA without a total")
	}
	if _, ok := remaining(100, 100, 5); ok {
		t.Error("an ETA once done")
	}
	if bar := progressBar("backup", 3<<20, 0, 1<<20, 0, false); strings.Contains(bar, "ETA") || strings.Contains(bar, " of ") {
		t.Errorf("bar without a total: %q", bar)
	}
}

// Off a terminal, progress is a log record with numbers as numbers.
func TestProgressLogsNumbers(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	p := newProgress("restore", &out, log)
	p.start = time.Now().Add(-2 * time.Second)
	p.update(1<<20, 4<<20)
	for _, want := range []string{`"done_bytes":1048576`, `"total_bytes":4194304`, `"mib_per_s":0.5`, `"eta_seconds":6`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress record %s lacks %s", out.String(), want)
		}
	}
}

// With JSON logs, lines printed as text on stderr become records: a
// warning WARN, the signal handler's "interrupted" ERROR.
func TestLogLines(t *testing.T) {
	var out bytes.Buffer
	l := &logLines{log: newLogger(&out, Config{LogFormat: "json", LogLevel: "info"})}
	l.Write([]byte("logship: warning: a stray"))
	l.Write([]byte(" key\nlogship: interrupted (terminated): second signal; exiting\nmark m1 shipped\n"))
	var levels, msgs []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		levels, msgs = append(levels, rec.Level), append(msgs, rec.Msg)
	}
	if strings.Join(levels, ",") != "WARN,ERROR,INFO" || msgs[0] != "a stray key" || msgs[2] != "mark m1 shipped" {
		t.Errorf("records %v %q", levels, msgs)
	}
}
