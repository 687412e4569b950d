package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// F12: the server restore --start runs holds neither the source's
// connection string nor a password in its environment, and a malformed
// store URL is refused without echoing the secret pasted into it.
func TestF12_NoSecretInServerEnvOrURLErrors(t *testing.T) {
	t.Parallel()
	const secret = "hunter2"
	c, _, flags, pgFlags := backedUpSource(t, defaultPG, "secret")
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)

	r := restored{dir: newTargetDir(t), port: freeTCPPort(t)}
	t.Cleanup(func() { stopServer(t, r.dir) })
	env := []string{"LOGSHIP_PG=" + c.ConnString() + " password=" + secret, "PGPASSWORD=" + secret}
	out := mustLogship(t, env, append(append([]string{}, flags...), "restore", "--target-dir", r.dir, "--mark", "m1",
		"--start", "--port", strconv.Itoa(r.port), "--start-timeout", "50s", "--json")...)
	var ro restoreOut
	if err := json.Unmarshal([]byte(out), &ro); err != nil || ro.Reached == nil {
		t.Fatalf("restore --json: %v\n%s", err, out)
	}
	pidFile, err := os.ReadFile(filepath.Join(r.dir, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _, _ := strings.Cut(string(pidFile), "\n")
	environ, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		name, _, _ := strings.Cut(string(kv), "=")
		if name == "LOGSHIP_PG" || name == "PGPASSWORD" || strings.Contains(string(kv), secret) {
			t.Errorf("the restored server (pid %s) has %s in its environment", pid, name)
		}
	}

	for _, u := range []string{"s3://bucket/x?X-Amz-Signature=" + secret, "ftp://user:" + secret + "@host/x", "file://user:" + secret + "@host/x"} {
		res := logship(t, nil, "--store", u, "--source", "secret", "catalog", "list")
		if res.code != 2 || strings.Contains(res.stderr+res.stdout, secret) {
			t.Errorf("store %q: exit %d, want 2 without the secret:\n%s", u, res.code, res.stderr)
		}
	}
}
