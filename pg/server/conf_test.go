package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/pg/server"
)

// What QuoteConf writes, ParseConf reads back.
func TestQuoteConfRoundTrip(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "plain", "it's", `back\slash`, `'both\'`, "/tmp/a dir/x", "100%"} {
		q, err := server.QuoteConf(v)
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := server.ParseConf([]byte("k = " + q + "\n"))["k"]; got != v {
			t.Errorf("QuoteConf(%q) = %s reads back as %q", v, q, got)
		}
	}
	for _, v := range []string{"a\nb", "a\rb", "a\x00b"} {
		if _, err := server.QuoteConf(v); err == nil {
			t.Errorf("QuoteConf(%q) accepted", v)
		}
	}
}

func TestReadConfAutoWins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "postgresql.conf"), []byte("port = 5432\nwal_level = replica\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "postgresql.auto.conf"), []byte("port = 5433\n"), 0o600)
	got, err := server.ReadConf(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got["port"] != "5433" || got["wal_level"] != "replica" {
		t.Errorf("ReadConf = %v", got)
	}
	empty, err := server.ReadConf(t.TempDir())
	if err != nil || len(empty) != 0 {
		t.Errorf("ReadConf of an empty directory = %v, %v", empty, err)
	}
}

func TestAppendConf(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "postgresql.auto.conf")
	// No newline at the end: the appended settings must not join its line.
	os.WriteFile(path, []byte("port = 5432"), 0o600)
	if err := server.AppendConf(dir, "postgresql.auto.conf", "# added\nfsync = off"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "port = 5432\n# added\nfsync = off\n" {
		t.Errorf("after AppendConf:\n%q", b)
	}
	fi, _ := os.Stat(path)
	if err := server.AppendConf(dir, "postgresql.conf", "a = 1\n"); err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "postgresql.conf")); string(b) != "a = 1\n" {
		t.Errorf("new file: %q", b)
	}
}

func TestPortSettings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	text, err := server.PortSettings(5499, dir)
	if err != nil {
		t.Fatal(err)
	}
	got := server.ParseConf([]byte(text))
	if got["port"] != "5499" || got["unix_socket_directories"] != dir {
		t.Errorf("PortSettings:\n%s", text)
	}
	for _, port := range []int{0, -1, 65536} {
		if _, err := server.PortSettings(port, dir); err == nil {
			t.Errorf("port %d accepted", port)
		}
	}
	long := "/" + strings.Repeat("x", 90)
	if _, err := server.PortSettings(5499, long); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("socket dir of %d bytes: %v", len(long), err)
	}
	if err := server.CheckSocketDir("/tmp/logship-pg-123"); err != nil {
		t.Error(err)
	}
}
