package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseConf(t *testing.T) {
	t.Parallel()
	text := `# comment
port = 5432
restore_command = '''/opt/log ship/logship'' --store ''file:///a%%b'' wal-fetch %f %p'
recovery_target_name = 'it''s \\here'
recovery_target_action=pause   # trailing comment
Shared_Buffers 128MB
recovery_target_time = ''
port = 5433
`
	got := parseConf([]byte(text))
	want := map[string]string{
		"port":                   "5433",
		"restore_command":        `'/opt/log ship/logship' --store 'file:///a%%b' wal-fetch %f %p`,
		"recovery_target_name":   `it's \here`,
		"recovery_target_action": "pause",
		"shared_buffers":         "128MB",
		"recovery_target_time":   "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if w := firstShellWord(got["restore_command"]); w != "/opt/log ship/logship" {
		t.Errorf("first word %q", w)
	}
}

// What WriteRecoveryConfig writes, readRecoveryConf reads back.
func TestReadRecoveryConf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		s         RecoverySettings
		standby   bool
		hasTarget bool
		action    string
	}{
		{"mark", RecoverySettings{Target: RecoveryTarget{Name: "m1", Action: "pause"}}, false, true, "pause"},
		{"end of archive", RecoverySettings{}, false, false, "promote"},
		{"standby", RecoverySettings{Standby: true}, true, false, "promote"},
		{"standby to lsn", RecoverySettings{Standby: true, Target: RecoveryTarget{LSN: 0x3000000, Action: "shutdown"}}, true, true, "shutdown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// An earlier restore's target must not count.
			os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("recovery_target_xid = '1234'\n"), 0o600)
			tt.s.RestoreCommand = FetchCommand("/usr/bin/logship", "--store", "file:///s")
			if err := WriteRecoveryConfig(dir, tt.s); err != nil {
				t.Fatal(err)
			}
			c, err := readRecoveryConf(dir)
			if err != nil {
				t.Fatal(err)
			}
			if c.standby != tt.standby || c.hasTarget != tt.hasTarget || c.action != tt.action || c.restoreCommand != tt.s.RestoreCommand {
				t.Errorf("got %+v", c)
			}
		})
	}
	if _, err := readRecoveryConf(t.TempDir()); err == nil || !strings.Contains(err.Error(), "recovery.signal") {
		t.Errorf("a directory without signal file: %v", err)
	}
}

func TestFatalLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, log, want string
	}{
		{"corrupt segment",
			`2026-11-27 05:00:00.000 UTC [10] LOG:  starting archive recovery
logship: 000000010000000000000003: not in the archive
2026-11-27 05:00:00.100 UTC [11] FATAL:  the database system is starting up
logship: fetch 000000010000000000000004: object: decode body: checksum mismatch
2026-11-27 05:00:00.200 UTC [10] FATAL:  could not restore file "000000010000000000000004" from archive: child process exited with exit code 200
2026-11-27 05:00:00.300 UTC [9] LOG:  startup process (PID 10) exited with exit code 1
`, `FATAL:  could not restore file "000000010000000000000004" from archive: child process exited with exit code 200; restore_command said: logship: fetch 000000010000000000000004: object: decode body: checksum mismatch`},
		{"no logship line",
			"2026-11-27 05:00:00.200 UTC [10] FATAL:  recovery ended before configured recovery target was reached\n",
			"FATAL:  recovery ended before configured recovery target was reached"},
		{"nothing", "LOG: hello\n", "no FATAL line in the server log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fatalLines(tt.log)
			if !strings.HasSuffix(got, tt.want) || (!strings.Contains(tt.want, "no FATAL") && !strings.Contains(got, "UTC [10] FATAL")) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSetPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("port = 5432"), 0o600)
	if err := SetPort(dir, 5499); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	got := parseConf(b)
	if got["port"] != "5499" || got["unix_socket_directories"] != dir {
		t.Errorf("conf after SetPort:\n%s", b)
	}
	if err := SetPort(filepath.Join(dir, strings.Repeat("x", 100)), 5499); err == nil {
		t.Error("socket path over 107 bytes accepted")
	}
	if err := SetPort(dir, 70000); err == nil {
		t.Error("port 70000 accepted")
	}
}
