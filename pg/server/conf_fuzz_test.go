package server_test

import (
	"strings"
	"testing"

	"github.com/logship/logship/pg/server"
)

// FuzzParseConf checks the postgresql.conf reader: whatever the text, keys
// are lower-case names without blanks or '=', and a setting written with
// QuoteConf after that text reads back exactly, as the last one wins.
func FuzzParseConf(f *testing.F) {
	f.Add([]byte("# comment\nport = 5432\nrestore_command = '''/opt/log ship/logship'' wal-fetch %f %p'\n"), "recovery_target_name", `it's \here`)
	f.Add([]byte("recovery_target_action=pause   # trailing comment\nShared_Buffers 128MB\n"), "recovery_target_action", "promote")
	f.Add([]byte("a = 'unterminated\\'\nb='x''"), "restore_command", `'/usr/bin/logship' --store 'file:///a%b' wal-fetch "%f" "%p"`)
	f.Add([]byte("=\n \t\n'quoted key' = 1\n"), "x", "")
	f.Fuzz(func(t *testing.T, text []byte, key, value string) {
		for k := range server.ParseConf(text) {
			if k == "" || k != strings.ToLower(k) || strings.ContainsAny(k, " \t=") {
				t.Fatalf("%q gave key %q", text, k)
			}
		}
		key = strings.ToLower(key)
		if key == "" || strings.ContainsAny(key, " \t=#'\\\r\n\v\f\x00") || !isConfName(key) {
			return
		}
		q, err := server.QuoteConf(value)
		if err != nil {
			return
		}
		conf := string(text)
		if len(conf) > 0 && conf[len(conf)-1] != '\n' {
			conf += "\n"
		}
		conf += key + " = " + q + "\n"
		if got, ok := server.ParseConf([]byte(conf))[key]; !ok || got != value {
			t.Fatalf("%s = %s after %q read back as %q (%v)", key, q, text, got, ok)
		}
	})
}

// isConfName is a PostgreSQL setting name: letters, digits, '_' and '.',
// not starting with a digit.
func isConfName(s string) bool {
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || c == '.' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
