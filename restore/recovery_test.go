package restore_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/restore"
)

func TestQuoteShellArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "''"},
		{"plain", "'plain'"},
		{"with space", "'with space'"},
		{"it's", `'it'\''s'`},
		{"$HOME `x` \\ \"q\"", "'$HOME `x` \\ \"q\"'"},
		{"''", `''\'''\'''`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := restore.QuoteShellArg(tt.in)
			if got != tt.want {
				t.Fatalf("QuoteShellArg(%q) = %s, want %s", tt.in, got, tt.want)
			}
			// The shell must hand the argument back unchanged.
			out, err := exec.Command("sh", "-c", "printf %s "+got).Output()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.in {
				t.Fatalf("shell gave %q, want %q", out, tt.in)
			}
		})
	}
}

func boolPtr(b bool) *bool { return &b }

func TestWriteRecoveryConfig(t *testing.T) {
	tests := []struct {
		name       string
		settings   restore.RecoverySettings
		want       []string // lines that must be present
		wantLast   string   // the last line
		wantSignal string
	}{
		{
			name: "mark",
			settings: restore.RecoverySettings{
				RestoreCommand: "logship --config '/etc/it''s.yaml' wal-fetch %f %p",
				Target:         restore.RecoveryTarget{Name: "mark 'one'"},
			},
			want: []string{
				`restore_command = 'logship --config ''/etc/it''''s.yaml'' wal-fetch %f %p'`,
				`recovery_target_action = 'promote'`,
				`recovery_target_timeline = 'latest'`,
				`recovery_target_inclusive = 'on'`,
				`archive_cleanup_command = ''`,
				`recovery_target_lsn = ''`,
			},
			wantLast:   `recovery_target_name = 'mark ''one'''`,
			wantSignal: "recovery.signal",
		},
		{
			name: "shell quoted with backslash",
			settings: restore.RecoverySettings{
				RestoreCommand: "logship wal-fetch --store " + restore.QuoteShellArg(`file:///srv/it's`) + " %f %p",
				Target:         restore.RecoveryTarget{LSN: 0x3000028, Inclusive: boolPtr(false), Action: "pause", Timeline: "2"},
				ArchiveCleanup: `pg_archivecleanup C:\arch %r`,
			},
			want: []string{
				`restore_command = 'logship wal-fetch --store ''file:///srv/it''\\''''s'' %f %p'`,
				`recovery_target_inclusive = 'off'`,
				`recovery_target_action = 'pause'`,
				`recovery_target_timeline = '2'`,
				`archive_cleanup_command = 'pg_archivecleanup C:\\arch %r'`,
			},
			wantLast:   `recovery_target_lsn = '0/3000028'`,
			wantSignal: "recovery.signal",
		},
		{
			name: "standby to end of archive",
			settings: restore.RecoverySettings{
				RestoreCommand: "cp /a/%f %p",
				Standby:        true,
				Target:         restore.RecoveryTarget{Action: "shutdown", Timeline: "current"},
			},
			want:       []string{`recovery_target = ''`, `recovery_target_name = ''`, `recovery_target_action = 'shutdown'`, `recovery_target_timeline = 'current'`},
			wantSignal: "standby.signal",
		},
		{
			name:       "immediate",
			settings:   restore.RecoverySettings{RestoreCommand: "x", Target: restore.RecoveryTarget{Immediate: true}},
			wantLast:   `recovery_target = 'immediate'`,
			wantSignal: "recovery.signal",
		},
		{
			name:       "time",
			settings:   restore.RecoverySettings{RestoreCommand: "x", Target: restore.RecoveryTarget{Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}},
			wantLast:   `recovery_target_time = '2025-01-02 03:04:05+00'`,
			wantSignal: "recovery.signal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			auto := filepath.Join(dir, "postgresql.auto.conf")
			// A source's file without a final newline, and stale signals from an
			// earlier restore.
			if err := os.WriteFile(auto, []byte("# Do not edit\nwork_mem = '4MB'"), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"recovery.signal", "standby.signal"} {
				if err := os.WriteFile(filepath.Join(dir, s), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := restore.WriteRecoveryConfig(dir, tt.settings); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(auto)
			if err != nil {
				t.Fatal(err)
			}
			text := string(b)
			t.Logf("postgresql.auto.conf:\n%s", text)
			lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
			if lines[1] != "work_mem = '4MB'" {
				t.Errorf("source setting line damaged: %q", lines[1])
			}
			for _, w := range tt.want {
				if !strings.Contains(text, "\n"+w+"\n") {
					t.Errorf("missing line %s", w)
				}
			}
			if tt.wantLast != "" && lines[len(lines)-1] != tt.wantLast {
				t.Errorf("last line %s, want %s", lines[len(lines)-1], tt.wantLast)
			}
			for _, s := range []string{"recovery.signal", "standby.signal"} {
				_, err := os.Stat(filepath.Join(dir, s))
				if exists := err == nil; exists != (s == tt.wantSignal) {
					t.Errorf("%s exists: %v, want only %s", s, exists, tt.wantSignal)
				}
			}
		})
	}
}

func TestWriteRecoveryConfigRefuses(t *testing.T) {
	ok := restore.RecoverySettings{RestoreCommand: "cp /a/%f %p"}
	with := func(f func(*restore.RecoverySettings)) restore.RecoverySettings {
		s := ok
		f(&s)
		return s
	}
	tests := []struct {
		name     string
		settings restore.RecoverySettings
		wantErr  string
	}{
		{"name and lsn", with(func(s *restore.RecoverySettings) { s.Target.Name, s.Target.LSN = "m", 0x1 }), "more than one"},
		{"time and immediate", with(func(s *restore.RecoverySettings) {
			s.Target.Time, s.Target.Immediate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), true
		}), "more than one"},
		{"bad action", with(func(s *restore.RecoverySettings) { s.Target.Action = "explode" }), "action"},
		{"bad timeline", with(func(s *restore.RecoverySettings) { s.Target.Timeline = "newest" }), "timeline"},
		{"timeline zero", with(func(s *restore.RecoverySettings) { s.Target.Timeline = "0" }), "timeline"},
		{"long name", with(func(s *restore.RecoverySettings) { s.Target.Name = strings.Repeat("m", 64) }), "too long"},
		{"newline in name", with(func(s *restore.RecoverySettings) { s.Target.Name = "a\nrestore_command = 'rm -rf /'" }), "newline"},
		{"newline in command", with(func(s *restore.RecoverySettings) { s.RestoreCommand = "cp\r\n" }), "newline"},
		{"empty restore command", with(func(s *restore.RecoverySettings) { s.RestoreCommand = "" }), "restore command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "standby.signal"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			err := restore.WriteRecoveryConfig(dir, tt.settings)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
			// Refused before touching dir.
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1 || entries[0].Name() != "standby.signal" {
				t.Fatalf("dir changed: %v", entries)
			}
		})
	}
}
