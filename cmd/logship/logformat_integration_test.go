package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// With --log-format json, stderr is JSON to its last line: the error a
// command ends with is a record with its exit code as a number, whether
// the command failed before reading its configuration or after.
func TestLogFormatJSONEndToEnd(t *testing.T) {
	t.Parallel()
	store := "file://" + t.TempDir()
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
	}{
		{"failed after reading its configuration", nil, []string{"--log-format", "json", "--store", store, "catalog", "show", "000000010000000000000001"}, 2},
		{"unknown command", nil, []string{"--log-format=json", "bogus"}, 2},
		{"unknown flag", nil, []string{"--log-format", "json", "catalog", "list", "--bogus"}, 2},
		{"from the environment", []string{"LOGSHIP_LOG_FORMAT=json"}, []string{"--store", store, "catalog", "show"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := logship(t, tt.env, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, tt.code, r.stderr)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			var last map[string]any
			for _, l := range lines {
				last = nil
				if err := json.Unmarshal([]byte(l), &last); err != nil {
					t.Fatalf("stderr line is not JSON: %q", l)
				}
			}
			if last["level"] != "ERROR" || last["exit_code"] != float64(tt.code) {
				t.Errorf("last record %v: want level ERROR and exit_code %d (a number)", last, tt.code)
			}
			if msg, _ := last["msg"].(string); msg == "" || strings.HasPrefix(msg, "logship:") {
				t.Errorf("message %q", msg)
			}
		})
	}
	// Text logs keep the one "logship: …" line scripts expect.
	r := logship(t, nil, "--store", store, "catalog", "show", "000000010000000000000001")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "logship: ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("text: exit %d, stderr %q", r.code, r.stderr)
	}
}

// With --log-format json, what commands print to stderr besides their logs
// (here the warning about a stray key) is a record too.
func TestLogFormatJSONWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stray := filepath.Join(dir, "main", "catalog", "wal", ".DS_Store")
	if err := os.MkdirAll(filepath.Dir(stray), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stray, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The source exists (an unknown one is an error, not a listing).
	source := `{"name": "main", "system_id": "1", "segment_size": 16777216, "created": "2026-01-01T00:00:00Z"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "main", "catalog", "source"), []byte(source), 0o644); err != nil {
		t.Fatal(err)
	}
	r := logship(t, nil, "--log-format", "json", "--store", "file://"+dir, "catalog", "list")
	var rec map[string]any
	if err := json.Unmarshal([]byte(r.stderr), &rec); err != nil {
		t.Fatalf("stderr is not one JSON record: %v: %q", err, r.stderr)
	}
	if rec["level"] != "WARN" || !strings.HasPrefix(rec["msg"].(string), "main/catalog/wal/.DS_Store is not a catalog record") {
		t.Errorf("record %v", rec)
	}
}
