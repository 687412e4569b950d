package restore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pg/server"
)

func TestFirstShellWord(t *testing.T) {
	t.Parallel()
	cmd := FetchCommand("/opt/log ship/logship", "--store", "file:///a%b")
	if w := firstShellWord(cmd); w != "/opt/log ship/logship" {
		t.Errorf("first word of %s: %q", cmd, w)
	}
	if w := firstShellWord("/usr/bin/logship wal-fetch %f %p"); w != "/usr/bin/logship" {
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

func TestSetPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("port = 5432"), 0o600)
	if err := SetPort(dir, 5499); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "postgresql.auto.conf"))
	got := server.ParseConf(b)
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
