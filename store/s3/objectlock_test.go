package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
)

func TestParseObjectLock(t *testing.T) {
	good := map[string]s3.ObjectLock{
		"":              {},
		"GOVERNANCE:30": {Mode: "GOVERNANCE", Days: 30},
		"compliance:1":  {Mode: "COMPLIANCE", Days: 1},
	}
	for in, want := range good {
		got, err := s3.ParseObjectLock(in)
		if err != nil || got.Mode != want.Mode || got.Days != want.Days {
			t.Errorf("ParseObjectLock(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"GOVERNANCE", "GOVERNANCE:", "GOVERNANCE:0", "GOVERNANCE:-1", "LEGAL:5", "COMPLIANCE:36501", ":5"} {
		if _, err := s3.ParseObjectLock(in); !errors.Is(err, store.ErrConfig) {
			t.Errorf("ParseObjectLock(%q): %v, want ErrConfig", in, err)
		}
	}
}

// checkKeys exempts probes, as catalog.TransientKeys does.
type checkKeys struct{}

func (checkKeys) Match(key string) bool { return strings.Contains(key, "/check/") }

// TestObjectLockRequestShape checks the headers of a locked write against a
// fake S3: mode and retain-until date on data objects, with the SHA-256
// checksum S3 requires with them and If-None-Match kept; none on exempt
// keys, nor without --s3-object-lock.
func TestObjectLockRequestShape(t *testing.T) {
	f, srv := newFake(t)
	var mu sync.Mutex
	headers := map[string]http.Header{}
	f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
		if r.Method == http.MethodPut {
			mu.Lock()
			headers[key] = r.Header.Clone()
			mu.Unlock()
		}
		return false
	}
	ctx := context.Background()
	cfg := f.config(srv)
	cfg.ObjectLock = s3.ObjectLock{Mode: "COMPLIANCE", Days: 7, Exempt: checkKeys{}}
	locked := open(t, cfg)
	before := time.Now().UTC().Truncate(time.Second)
	for _, k := range []string{"src/wal/000000010000000000000001", "src/check/probe-1"} {
		if err := locked.Put(ctx, k, strings.NewReader("data"), 4); err != nil {
			t.Fatal(err)
		}
	}
	plain := open(t, f.config(srv))
	if err := plain.Put(ctx, "src/wal/000000010000000000000002", strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UTC()

	h := headers["p/src/wal/000000010000000000000001"]
	if got := h.Get("X-Amz-Object-Lock-Mode"); got != "COMPLIANCE" {
		t.Errorf("lock mode %q, want COMPLIANCE", got)
	}
	until, err := time.Parse(time.RFC3339, h.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	if err != nil {
		t.Fatalf("retain-until date %q: %v", h.Get("X-Amz-Object-Lock-Retain-Until-Date"), err)
	}
	week := 7 * 24 * time.Hour
	if until.Before(before.Add(week)) || until.After(after.Add(week)) {
		t.Errorf("retain until %s, want 7 days after the write (%s .. %s)", until, before.Add(week), after.Add(week))
	}
	if h.Get("X-Amz-Checksum-Sha256") == "" || h.Get("If-None-Match") != "*" {
		t.Errorf("locked write lacks its checksum or If-None-Match: %v", h)
	}
	for _, k := range []string{"p/src/check/probe-1", "p/src/wal/000000010000000000000002"} {
		h := headers[k]
		if h == nil {
			t.Fatalf("no PUT of %s", k)
		}
		if h.Get("X-Amz-Object-Lock-Mode") != "" || h.Get("X-Amz-Object-Lock-Retain-Until-Date") != "" {
			t.Errorf("%s: lock headers on a write that must have none: %v", k, h)
		}
	}
}

func TestObjectLockConfig(t *testing.T) {
	_, srv := newFake(t)
	cfg := s3.Config{Bucket: "fake-bucket", Endpoint: srv.URL, ObjectLock: s3.ObjectLock{Days: 3}}
	if _, err := s3.Open(context.Background(), cfg); !errors.Is(err, store.ErrConfig) {
		t.Errorf("lock days without a mode: %v, want ErrConfig", err)
	}
}

// lockBucket creates a bucket with Object Lock (so versioning) enabled on
// the test server, skipping when the server cannot (versitygw needs
// --versioning-dir, which scripts/s3server gives it).
func lockBucket(t *testing.T, srv server) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "logship-lock-" + hex.EncodeToString(b)
	_, err := srv.rawClient(t).CreateBucket(context.Background(), &awss3.CreateBucketInput{
		Bucket: aws.String(name), ObjectLockEnabledForBucket: aws.Bool(true),
	})
	if err != nil {
		t.Skipf("the S3 test server cannot create a bucket with Object Lock: %v", err)
	}
	return name
}

// TestObjectLockVersitygw writes with COMPLIANCE retention to a versioned,
// locked bucket, then does what stolen credentials could: overwrite and
// delete. The version logship wrote stays readable and cannot be deleted;
// an exempt probe can.
func TestObjectLockVersitygw(t *testing.T) {
	srv := testServer(t)
	bucket := lockBucket(t, srv)
	ctx := context.Background()
	cfg := srv.config(t)
	cfg.Bucket = bucket
	cfg.ObjectLock = s3.ObjectLock{Mode: "COMPLIANCE", Days: 1, Exempt: checkKeys{}}
	st := open(t, cfg)

	p, err := st.Protection(ctx)
	if err != nil || p.Versioning != "Enabled" || !p.ObjectLock {
		t.Fatalf("Protection = %+v, %v; want versioning Enabled and Object Lock", p, err)
	}
	if p, err := open(t, srv.config(t)).Protection(ctx); err != nil || p.Versioning != "" || p.ObjectLock {
		t.Errorf("plain bucket: Protection = %+v, %v; want neither", p, err)
	}

	const data, probe = "src/wal/000000010000000000000001", "src/check/probe-1"
	for _, k := range []string{data, probe} {
		if err := st.Put(ctx, k, strings.NewReader("good"), 4); err != nil {
			t.Fatal(err)
		}
	}
	raw := srv.rawClient(t)
	full := func(k string) *string { return aws.String(cfg.Prefix + "/" + k) }
	first := map[string]string{}
	for _, k := range []string{data, probe} {
		out, err := raw.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: full(k)})
		if err != nil || len(out.Versions) != 1 {
			t.Fatalf("versions of %s: %v, %v", k, out, err)
		}
		first[k] = aws.ToString(out.Versions[0].VersionId)
	}
	ret, err := raw.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: full(data), VersionId: aws.String(first[data])})
	if err != nil || ret.Retention.Mode != types.ObjectLockRetentionModeCompliance ||
		aws.ToTime(ret.Retention.RetainUntilDate).Before(time.Now().Add(23*time.Hour)) {
		t.Errorf("retention of %s: %+v, %v; want COMPLIANCE for a day", data, ret, err)
	}

	// The attacker overwrites, then deletes, the key.
	if _, err := raw.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: full(data), Body: bytes.NewReader([]byte("evil"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: full(data)}); err != nil {
		t.Fatal(err)
	}
	_, err = raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: full(data), VersionId: aws.String(first[data]), BypassGovernanceRetention: aws.Bool(true)})
	if err == nil {
		t.Fatal("deleting the locked version succeeded")
	}
	get, err := raw.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: full(data), VersionId: aws.String(first[data])})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(body) != "good" {
		t.Errorf("locked version reads %q, want the data written", body)
	}
	if _, err := raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: full(probe), VersionId: aws.String(first[probe])}); err != nil {
		t.Errorf("deleting the exempt probe's version: %v", err)
	}
}

// TestReadOriginalVersitygw: stolen credentials overwrite objects (twice)
// and delete others, records included; a store opened with ReadOriginal
// still lists, stats and reads exactly what logship wrote.
func TestReadOriginalVersitygw(t *testing.T) {
	srv := testServer(t)
	bucket := lockBucket(t, srv)
	ctx := context.Background()
	cfg := srv.config(t)
	cfg.Bucket = bucket
	cfg.ObjectLock = s3.ObjectLock{Mode: "GOVERNANCE", Days: 1, Exempt: checkKeys{}}
	cfg.PartSize = 5 << 20
	st := open(t, cfg)
	want := map[string]string{
		"src/wal/000000010000000000000001":             "segment one",
		"src/wal/000000010000000000000002":             "segment two",
		"src/catalog/wal/000000010000000000000001~1~a": "",
		"src/catalog/wal/000000010000000000000002~1~b": "",
		"src/backups/b1/part-000001":                   strings.Repeat("p", 6<<20), // multipart
	}
	for k, v := range want {
		if err := st.Put(ctx, k, strings.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	attack(t, srv, bucket, cfg.Prefix, []string{"src/wal/000000010000000000000001", "src/backups/b1/part-000001"},
		[]string{"src/wal/000000010000000000000002", "src/catalog/wal/000000010000000000000002~1~b"})
	// The attacked store as logship normally reads it...
	if _, err := st.Stat(ctx, "src/wal/000000010000000000000002"); !errors.Is(err, store.ErrNotExist) {
		t.Fatalf("deleted key: %v, want ErrNotExist", err)
	}
	// ...and as written.
	rcfg := cfg
	rcfg.ObjectLock = s3.ObjectLock{}
	rcfg.ReadOriginal = true
	orig := open(t, rcfg)
	var listed []string
	if err := orig.List(ctx, "src/", func(o store.ObjectInfo) error {
		listed = append(listed, o.Key)
		if int(o.Size) != len(want[o.Key]) {
			t.Errorf("listed %s with size %d, want %d", o.Key, o.Size, len(want[o.Key]))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(want) {
		t.Errorf("listed %v, want the %d keys written", listed, len(want))
	}
	for k, v := range want {
		info, err := orig.Stat(ctx, k)
		if err != nil || int(info.Size) != len(v) {
			t.Errorf("stat %s: %+v, %v", k, info, err)
		}
		rc, err := orig.Get(ctx, k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != v {
			t.Errorf("get %s: %d bytes (%v), want the %d written", k, len(got), err, len(v))
		}
	}
	if _, err := orig.Stat(ctx, "src/wal/000000010000000000000003"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("never written: %v, want ErrNotExist", err)
	}
	if _, err := orig.Get(ctx, "src/wal/00000001000000000000000"); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("prefix of a key: %v, want ErrNotExist", err)
	}
}

// TestDeleteVersionsVersitygw: with --s3-object-lock, Delete (purge)
// removes every version it may and reports those under retention, with
// their date; an exempt key is deleted as usual.
func TestDeleteVersionsVersitygw(t *testing.T) {
	srv := testServer(t)
	bucket := lockBucket(t, srv)
	ctx := context.Background()
	cfg := srv.config(t)
	cfg.Bucket = bucket
	cfg.ObjectLock = s3.ObjectLock{Mode: "GOVERNANCE", Days: 2, Exempt: checkKeys{}}
	st := open(t, cfg)
	raw := srv.rawClient(t)
	full := func(k string) *string { return aws.String(cfg.Prefix + "/" + k) }
	versions := func(k string) (n int) {
		out, err := raw.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: full(k)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Versions) + len(out.DeleteMarkers)
	}
	const locked, unlocked = "src/wal/000000010000000000000001", "src/wal/000000010000000000000002"
	if err := st.Put(ctx, locked, strings.NewReader("data"), 4); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{locked, unlocked, unlocked} {
		if _, err := raw.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: full(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	var re *store.RetainedError
	err := st.Delete(ctx, locked)
	if !errors.As(err, &re) || re.Key != locked || re.Until.Before(before.Add(47*time.Hour)) || re.Until.After(time.Now().Add(49*time.Hour)) {
		t.Fatalf("delete of a locked key: %v, want a RetainedError for two days", err)
	}
	if _, err := st.Stat(ctx, locked); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("a retained key still reads: %v", err)
	}
	if n := versions(locked); n != 2 {
		t.Errorf("%d versions and markers left of the locked key, want the locked version and a marker", n)
	}
	if err := st.Delete(ctx, unlocked); err != nil {
		t.Fatal(err)
	}
	if n := versions(unlocked); n != 0 {
		t.Errorf("%d versions and markers left of a key without retention, want none", n)
	}
	const probe = "src/check/probe-1"
	if err := st.Put(ctx, probe, strings.NewReader("p"), 1); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx, probe); err != nil {
		t.Fatal(err)
	}
	if n := versions(probe); n != 2 {
		t.Errorf("exempt key: %d versions and markers, want its version and a delete marker (a plain delete)", n)
	}
}

// attack does what stolen credentials of the primary could: overwrite each
// of overwrite twice and delete each of del, straight through the S3 API.
func attack(t *testing.T, srv server, bucket, prefix string, overwrite, del []string) {
	t.Helper()
	ctx := context.Background()
	raw := srv.rawClient(t)
	full := func(k string) *string { return aws.String(prefix + "/" + k) }
	for _, k := range overwrite {
		for _, evil := range []string{"evil", "more evil"} {
			if _, err := raw.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: full(k), Body: strings.NewReader(evil)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range del {
		if _, err := raw.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: full(k)}); err != nil {
			t.Fatal(err)
		}
	}
}
