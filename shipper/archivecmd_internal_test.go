package shipper

import "testing"

func TestParseArchiveCommand(t *testing.T) {
	for _, tt := range []struct {
		cmd                   string
		ok                    bool
		store, source, config string
	}{
		{"/usr/bin/logship --store file:///b --source main wal-push %p", true, "file:///b", "main", ""},
		{"logship --store=/b --source=db1 wal-push %p", true, "/b", "db1", ""},
		{"logship -store /b wal-push %p", true, "/b", "", ""},
		{"LOGSHIP_STORE=s3://bk/x LOGSHIP_SOURCE=db2 /opt/logship wal-push %p", true, "s3://bk/x", "db2", ""},
		{"env LOGSHIP_SOURCE=db2 logship --config /etc/logship.yaml wal-push %p", true, "", "db2", "/etc/logship.yaml"},
		{`'/usr/local/bin/logship' --store "/my store" --source 'a b' wal-push "%p"`, true, "/my store", "a b", ""},
		{"logship wal-push %p", true, "", "", ""},
		{"test ! -f /x/%f && cp %p /x/%f", false, "", "", ""},
		{"cd /tmp; logship --store /b wal-push %p", false, "", "", ""},
		{"logship --store $STORE wal-push %p", false, "", "", ""},
		{"logship --store 'unterminated wal-push %p", false, "", "", ""},
	} {
		got, ok := parseArchiveCommand(tt.cmd)
		if ok != tt.ok || ok && (got.Store != tt.store || got.Source != tt.source || got.Config != tt.config) {
			t.Errorf("%s: %+v %v, want store %q source %q config %q ok %v", tt.cmd, got, ok, tt.store, tt.source, tt.config, tt.ok)
		}
	}
}

func TestArchiveTargetCheck(t *testing.T) {
	const store, source = "file:///b", "main"
	for _, tt := range []struct {
		cmd         string
		ok, warning bool
	}{
		{"logship --store file:///b/ --source main wal-push %p", true, false},
		{"logship --store /b --source main wal-push %p", true, false},
		{"logship --store /c --source main wal-push %p", false, false},
		{"logship --store /b --source mian wal-push %p", false, false},
		{"logship --store /b wal-push %p", true, true},
		{"logship wal-push %p", true, true},
		{"cd /; logship wal-push %p", true, true},
	} {
		r := archiveCommandCheck(tt.cmd, "", "want", store, source)
		if r.OK != tt.ok || r.Warning != tt.warning {
			t.Errorf("%s: %+v, want ok %v warning %v", tt.cmd, r, tt.ok, tt.warning)
		}
	}
}
