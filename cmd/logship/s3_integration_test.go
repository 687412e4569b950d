package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// s3Flags returns store flags for a fresh prefix on the test S3 server
// (scripts/s3server), or skips when there is none, unless CI requires it.
func s3Flags(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs an S3 server: skipped by -short")
	}
	endpoint, bucket := os.Getenv("LOGSHIP_TEST_S3_ENDPOINT"), os.Getenv("LOGSHIP_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		if os.Getenv("LOGSHIP_REQUIRE_S3") == "1" {
			t.Fatal("LOGSHIP_REQUIRE_S3=1 but LOGSHIP_TEST_S3_ENDPOINT/BUCKET are not set: start scripts/s3server")
		}
		t.Skip("no S3 server: set LOGSHIP_TEST_S3_ENDPOINT and LOGSHIP_TEST_S3_BUCKET (scripts/s3server start DIR)")
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	return []string{"--store", "s3://" + bucket + "/cli-" + hex.EncodeToString(rnd[:]), "--s3-endpoint", endpoint, "--source", "t"}
}

func TestS3PushFetch(t *testing.T) {
	t.Parallel()
	flags := s3Flags(t)
	src := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	mustLogship(t, nil, append(flags, "wal-push", src)...)
	mustLogship(t, nil, append(flags, "wal-push", src)...) // an identical retry
	if r := logship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 7))...); r.code != 1 {
		t.Fatalf("conflicting push on S3: exit %d, %s", r.code, r.stderr)
	}
	dest := filepath.Join(t.TempDir(), "x")
	mustLogship(t, nil, append(flags, "wal-fetch", seg1, dest)...)
	if !sameFile(t, src, dest) {
		t.Fatal("segment fetched from S3 differs")
	}
	if r := logship(t, nil, append(flags, "wal-fetch", "000000010000000000000002", dest)...); r.code != 1 {
		t.Fatalf("absent segment on S3: exit %d, %s", r.code, r.stderr)
	}
}

// Wrong credentials, a missing bucket, a bad endpoint: one clear line each,
// exit 2, and nothing written.
// wrongSecret is distinctive, so a leak into an error message is certain
// to be seen.
const wrongSecret = "not-the-secret-Qx7Zr2"

func TestS3BadConfig(t *testing.T) {
	t.Parallel()
	flags := s3Flags(t)
	seg := syntheticSegment(t, t.TempDir(), seg1, 42, 0)
	endpoint := os.Getenv("LOGSHIP_TEST_S3_ENDPOINT")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"wrong secret", []string{"AWS_SECRET_ACCESS_KEY=" + wrongSecret}, flags, "secret access key"},
		{"unknown key", []string{"AWS_ACCESS_KEY_ID=nobody"}, flags, "access key"},
		{"missing bucket", nil, []string{"--store", "s3://no-such-bucket-logship/x", "--s3-endpoint", endpoint}, "does not exist"},
		{"bad endpoint", nil, append(append([]string{}, flags...), "--s3-endpoint", "http://127.0.0.1:1"), "cannot reach"},
		{"credentials in URL", nil, []string{"--store", "s3://key:secret@bucket/x"}, "must not hold credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := logship(t, tt.env, append(tt.args, "wal-push", seg)...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and one line with %q", r.code, r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, wrongSecret) {
				t.Fatalf("the error shows the secret: %q", msg)
			}
		})
	}
	// Nothing was written under the prefix by any of them: not even the
	// source, which catalog list then calls unknown.
	r := logship(t, nil, append(flags, "catalog", "list", "--json", "--wal")...)
	if strings.Contains(r.stdout, seg1) || (r.code != 0 && !strings.Contains(r.stderr, "unknown source")) {
		t.Fatalf("a refused push wrote to the store: exit %d %s%s", r.code, r.stdout, r.stderr)
	}
}

// The whole DR loop on S3: PostgreSQL archives to versitygw, a backup and a
// mark go there, and a restore to the mark has exactly the mark's data.
func TestS3RestoreToMark(t *testing.T) {
	t.Parallel()
	flags := s3Flags(t)
	var awsEnv []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			awsEnv = append(awsEnv, kv)
		}
	}
	c := archivingClusterOn(t, defaultPG, flags, awsEnv)
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	c.Pgbench(t, "-n", "-t", "100", "-c", "2")
	want := stateOf(t, c.QueryString)
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	c.Pgbench(t, "-n", "-t", "50", "-c", "1")
	waitArchived(t, c, switchWAL(t, c))

	mustLogship(t, nil, append(flags, "verify", "--deep")...)
	r, out := restoreAndStart(t, flags, "--mark", "m1", "--no-archive")
	if got := stateOf(t, r.query); got != want {
		t.Fatalf("restored from S3: %+v, want %+v (reached %+v)", got, want, out.Reached)
	}

	// No secret reaches a file of the restored data directory: its
	// restore_command gets credentials from the server's environment.
	secret := os.Getenv("AWS_SECRET_ACCESS_KEY")
	filepath.WalkDir(r.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.Contains(p, "/base/") {
			return nil
		}
		if b, _ := os.ReadFile(p); secret != "" && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the S3 secret key", p)
		}
		return nil
	})
}
