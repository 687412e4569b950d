package server_test

import (
	"strings"
	"testing"

	"github.com/logship/logship/pg/server"
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
	got := server.ParseConf([]byte(text))
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
}

func TestFatalLine(t *testing.T) {
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
			got := server.FatalLine(tt.log)
			if !strings.HasSuffix(got, tt.want) || (!strings.Contains(tt.want, "no FATAL") && !strings.Contains(got, "UTC [10] FATAL")) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
