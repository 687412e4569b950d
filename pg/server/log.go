package server

import (
	"os"
	"strings"
)

// maxLogRead bounds what is read back of a server log.
const maxLogRead = 4 << 20

// LogSize is the size of a log file, 0 if it does not exist: remember it
// before a start to read what that start logged with LogSince.
func LogSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// LogSince returns what was logged to path from offset on, at most the
// last 4 MiB; "" if the file cannot be read.
func LogSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	offset = min(max(offset, fi.Size()-maxLogRead), fi.Size())
	b := make([]byte, fi.Size()-offset)
	n, _ := f.ReadAt(b, offset)
	return string(b[:n])
}

// LastLine returns the last line of text containing substr, trimmed.
func LastLine(text, substr string) string {
	var found string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, substr) {
			found = strings.TrimSpace(line)
		}
	}
	return found
}

// FatalLine quotes why a server stopped: its log's last FATAL or PANIC
// line, and the last complaint of logship's restore command (a line
// starting "logship:") before it. Refused connections ("the database
// system is starting up", say) are no reason and are skipped.
func FatalLine(text string) string {
	var fatal, fetch, lastFetch string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "logship:"):
			lastFetch = line
		case (strings.Contains(line, "FATAL:") || strings.Contains(line, "PANIC:")) && !strings.Contains(line, "the database system is"):
			fatal, fetch = line, lastFetch
		}
	}
	if fatal == "" {
		fatal = "no FATAL line in the server log"
	}
	if fetch != "" {
		return fatal + "; restore_command said: " + fetch
	}
	return fatal
}
