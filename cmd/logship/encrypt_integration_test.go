package main_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/logship/logship/internal/pgtest"
)

// newIdentity runs key generate into a folder the postgres user can read
// and returns the identity file, its recipient and its secret line.
func newIdentity(t *testing.T) (idFile, recipient, secret string) {
	t.Helper()
	idFile = filepath.Join(pgtest.TempDir(t, "logship-key-"), "identity.txt")
	recipient = strings.TrimSpace(mustLogship(t, nil, "key", "generate", idFile))
	fi, err := os.Stat(idFile)
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.HasPrefix(recipient, "age1") {
		t.Fatalf("key generate: %v, mode %v, recipient %q", err, fi.Mode(), recipient)
	}
	b, _ := os.ReadFile(idFile)
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "AGE-SECRET-KEY-") {
			secret = l
		}
	}
	if secret == "" {
		t.Fatalf("no secret key in %s", idFile)
	}
	// The restored server's wal-fetch reads it as the postgres user.
	if err := pgtest.ChownToPostgres(idFile); err != nil {
		t.Fatal(err)
	}
	return idFile, recipient, secret
}

// containsAnywhere reports whether marker is in b, or in what b decodes to
// as zstd from any offset where a zstd frame starts.
func containsAnywhere(b []byte, marker []byte) bool {
	if bytes.Contains(b, marker) {
		return true
	}
	magic := []byte{0x28, 0xb5, 0x2f, 0xfd}
	for off := 0; ; {
		i := bytes.Index(b[off:], magic)
		if i < 0 {
			return false
		}
		off += i
		if d, err := zstd.NewReader(bytes.NewReader(b[off:]), zstd.WithDecoderConcurrency(1)); err == nil {
			out, _ := io.ReadAll(io.LimitReader(d, 1<<30))
			d.Close()
			if bytes.Contains(out, marker) {
				return true
			}
		}
		off++
	}
}

// grepTree returns the files under dir whose bytes (or zstd decodings)
// hold marker.
func grepTree(t *testing.T, dir string, marker []byte) []string {
	t.Helper()
	var hits []string
	for _, rel := range storeFiles(t, dir) {
		if fi, err := os.Lstat(filepath.Join(dir, rel)); err != nil || !fi.Mode().IsRegular() {
			continue // the server's socket, a file it just removed
		}
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if containsAnywhere(b, marker) {
			hits = append(hits, rel)
		}
	}
	return hits
}

// Encrypted end to end on real PostgreSQL: archive, backup and marks with
// only a recipient; deep verify and restore to each mark with the identity,
// data-exact. The marker rows appear nowhere in the store, wal-fetch
// without the identity or with a wrong one stops recovery (exit 200)
// writing nothing, and the secret key appears in no output, argument or
// restored file.
func TestEncryptedEndToEnd(t *testing.T) { onEachPG(t, testEncryptedEndToEnd) }

func testEncryptedEndToEnd(t *testing.T, v pgtest.Version) {
	idFile, rcp, secret := newIdentity(t)
	otherID, _, _ := newIdentity(t)
	storeDir := pgtest.TempDir(t, "logship-store-")
	base := []string{"--store", "file://" + storeDir, "--source", "enc"}
	ship := append(append([]string{}, base...), "--encrypt-to", rcp)
	c := archivingClusterOn(t, v, ship, nil)
	pgFlags := append(append([]string{}, ship...), "--pg", c.ConnString())
	read := append(append([]string{}, base...), "--identity-file", idFile)

	const before, after = "MARKER-before-backup-c0ffee", "MARKER-in-wal-only-decade"
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Exec(t, "CREATE TABLE secret (s text)")
	c.Exec(t, "INSERT INTO secret SELECT $1 || g FROM generate_series(1, 200) g", before)
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	want := map[string]dataState{}
	for i := 1; i <= 2; i++ {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", i)
		c.Exec(t, "INSERT INTO secret SELECT $1 || g FROM generate_series(1, 200) g", after)
		c.Pgbench(t, "-n", "-t", "100", "-c", "2")
		name := "m" + string(rune('0'+i))
		want[name] = stateOf(t, c.QueryString)
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
	}
	last := switchWAL(t, c)
	waitArchived(t, c, last)

	// The positive control: the source's own WAL holds the marker.
	if len(grepTree(t, filepath.Join(c.DataDir, "pg_wal"), []byte(after))) == 0 {
		t.Fatal("control: the marker is not in the source's pg_wal, so its absence from the store proves nothing")
	}
	for _, m := range []string{before, after} {
		if hits := grepTree(t, storeDir, []byte(m)); len(hits) > 0 {
			t.Errorf("marker %s in the store's bytes: %v", m, hits)
		}
	}

	outputs := []string{}
	deep := logship(t, nil, append(read, "verify", "--deep")...)
	if deep.code != 0 {
		t.Fatalf("verify --deep with the identity: exit %d\n%s\n%s", deep.code, deep.stdout, deep.stderr)
	}
	outputs = append(outputs, deep.stdout, deep.stderr)
	keylessIntegrity(t, storeDir, base, last)
	refusePlaintext(t, c, storeDir, base, last)

	// wal-fetch without an identity, and with a wrong one.
	for _, tc := range []struct {
		name  string
		flags []string
		msg   string
	}{
		{"no identity", base, "needs an identity"},
		{"wrong identity", append(append([]string{}, base...), "--identity-file", otherID), "none of the given identities"},
	} {
		dest := filepath.Join(t.TempDir(), "RESTORED")
		r := logship(t, nil, append(tc.flags, "wal-fetch", last, dest)...)
		if r.code <= 125 || !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("wal-fetch, %s: exit %d, want > 125 naming %q\n%s", tc.name, r.code, tc.msg, r.stderr)
		}
		if _, err := os.Stat(dest); !os.IsNotExist(err) {
			t.Errorf("wal-fetch, %s: %s was written", tc.name, dest)
		}
		outputs = append(outputs, r.stdout, r.stderr)
	}

	for _, name := range []string{"m1", "m2"} {
		r, _ := restoreAndStart(t, read, "--mark", name, "--no-archive")
		if got := stateOf(t, r.query); got != want[name] {
			t.Errorf("restore to %s: data %+v, want %+v", name, got, want[name])
		}
		if hits := grepTree(t, r.dir, []byte(strings.TrimPrefix(secret, "AGE-SECRET-KEY-"))); len(hits) > 0 {
			t.Errorf("the secret key is in the restored directory: %v", hits)
		}
		conf, _ := os.ReadFile(filepath.Join(r.dir, "postgresql.auto.conf"))
		if !strings.Contains(string(conf), "--identity-file") {
			t.Errorf("restore_command does not name the identity file:\n%s", conf)
		}
	}
	st := logship(t, nil, append(read, "status", "--json")...)
	outputs = append(outputs, st.stdout, st.stderr, c.Log())
	for _, o := range outputs {
		if strings.Contains(strings.ToUpper(o), strings.ToUpper(secret)) {
			t.Fatalf("the secret key appears in an output:\n%s", o)
		}
	}
}

// keylessIntegrity: verify --deep without an identity passes on the
// intact store and names a damaged encrypted object in a copy of it.
func keylessIntegrity(t *testing.T, storeDir string, base []string, wal string) {
	t.Helper()
	if r := logship(t, nil, append(base, "verify", "--deep")...); r.code != 0 {
		t.Fatalf("verify --deep without an identity: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	dir := copyTree(t, storeDir)
	var victims []string
	for _, rel := range storeFiles(t, dir) {
		if filepath.Base(rel) == wal || filepath.Base(rel) == "backup_manifest" {
			victims = append(victims, filepath.Join(dir, rel))
		}
	}
	if len(victims) != 2 {
		t.Fatalf("found %v, want the WAL object %s and one backup_manifest", victims, wal)
	}
	for _, p := range victims {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-20] ^= 0x10
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{"--store", "file://" + dir, "--source", base[3]}
	r := logship(t, nil, append(flags, "verify", "--deep", "--full")...)
	if r.code != 1 || !strings.Contains(r.stdout, wal) || !strings.Contains(r.stdout, "backup_manifest") || !strings.Contains(r.stdout, "checksum mismatch") {
		t.Fatalf("verify --deep without an identity of a damaged store: exit %d, want 1 naming %s and the manifest\n%s\n%s", r.code, wal, r.stdout, r.stderr)
	}
}

// refusePlaintext: once the source record says encrypted, wal-push and
// backup without recipients exit 2 and store nothing.
func refusePlaintext(t *testing.T, c *pgtest.Cluster, storeDir string, base []string, wal string) {
	t.Helper()
	seg, err := os.ReadFile(filepath.Join(c.DataDir, "pg_wal", wal))
	if err != nil {
		t.Fatal(err)
	}
	copyOf := filepath.Join(t.TempDir(), wal)
	if err := os.WriteFile(copyOf, seg, 0o600); err != nil {
		t.Fatal(err)
	}
	before := storeFiles(t, storeDir)
	for _, args := range [][]string{
		append(append([]string{}, base...), "wal-push", copyOf),
		append(append([]string{}, base...), "--pg", c.ConnString(), "backup", "--fast"),
	} {
		r := logship(t, nil, args...)
		if r.code != 2 || !strings.Contains(r.stderr, "--allow-plaintext") {
			t.Errorf("%v without recipients into an encrypted source: exit %d, want 2 naming --allow-plaintext\n%s", args, r.code, r.stderr)
		}
	}
	if after := storeFiles(t, storeDir); len(after) != len(before) {
		t.Errorf("refused commands changed the store: %d files, then %d", len(before), len(after))
	}
	// --allow-plaintext lets an identical retry through.
	mustLogship(t, nil, append(append([]string{}, base...), "--allow-plaintext", "wal-push", copyOf)...)
}

// The encrypted end to end on S3: archive, backup and mark with only a
// recipient; marker strings inserted before the backup and into WAL after
// it appear in no object of the prefix (read through the S3 API, raw and
// after zstd attempts); deep verify without and with the identity; restore
// to the mark data-exact; wal-fetch without the identity exits 200.
func TestS3EncryptedRestoreToMark(t *testing.T) {
	t.Parallel()
	flags := s3Flags(t)
	var awsEnv []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") {
			awsEnv = append(awsEnv, kv)
		}
	}
	idFile, rcp, secret := newIdentity(t)
	ship := append(append([]string{}, flags...), "--encrypt-to", rcp)
	read := append(append([]string{}, flags...), "--identity-file", idFile)
	c := archivingClusterOn(t, defaultPG, ship, awsEnv)
	pgFlags := append(append([]string{}, ship...), "--pg", c.ConnString())
	const before, after = "MARKER-s3-before-backup-f00d", "MARKER-s3-in-wal-only-beef"
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Exec(t, "CREATE TABLE secret (s text)")
	c.Exec(t, "INSERT INTO secret SELECT $1 || g FROM generate_series(1, 200) g", before)
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	c.Exec(t, "INSERT INTO probe VALUES (1)")
	c.Exec(t, "INSERT INTO secret SELECT $1 || g FROM generate_series(1, 200) g", after)
	c.Pgbench(t, "-n", "-t", "100", "-c", "2")
	want := stateOf(t, c.QueryString)
	mustLogship(t, nil, append(pgFlags, "mark", "m1")...)
	c.Exec(t, "INSERT INTO probe VALUES (2)")
	last := switchWAL(t, c)
	waitArchived(t, c, last)

	// The positive control: the source's own WAL holds the marker. Then
	// every object of the prefix, read through the S3 API.
	if len(grepTree(t, filepath.Join(c.DataDir, "pg_wal"), []byte(after))) == 0 {
		t.Fatal("control: the marker is not in the source's pg_wal, so its absence from the store proves nothing")
	}
	for _, m := range []string{before, after} {
		hits, n := grepS3(t, flags, []byte(m))
		if n == 0 {
			t.Fatal("the S3 prefix lists no object")
		}
		if len(hits) > 0 {
			t.Errorf("marker %s in the S3 objects' bytes: %v", m, hits)
		}
	}

	mustLogship(t, nil, append(flags, "verify", "--deep")...)
	mustLogship(t, nil, append(read, "verify", "--deep", "--full")...)
	dest := filepath.Join(t.TempDir(), "RESTORED")
	if r := logship(t, nil, append(flags, "wal-fetch", last, dest)...); r.code != 200 || !strings.Contains(r.stderr, "needs an identity") {
		t.Errorf("wal-fetch without an identity from S3: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("wal-fetch without an identity wrote %s", dest)
	}
	r, out := restoreAndStart(t, read, "--mark", "m1", "--no-archive")
	if got := stateOf(t, r.query); got != want {
		t.Fatalf("restored from S3: %+v, want %+v (reached %+v)", got, want, out.Reached)
	}
	if hits := grepTree(t, r.dir, []byte(strings.TrimPrefix(secret, "AGE-SECRET-KEY-"))); len(hits) > 0 {
		t.Errorf("the secret key is in the restored directory: %v", hits)
	}
}
