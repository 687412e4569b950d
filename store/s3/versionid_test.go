package s3_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
)

// TestVersionIDVersitygw: PutVersion answers the version id of what it
// wrote (single and multipart); after stolen credentials overwrite (twice)
// and delete those keys, GetVersion still reads exactly the bytes written,
// with a store opened WITHOUT ReadOriginal.
func TestVersionIDVersitygw(t *testing.T) {
	srv := testServer(t)
	bucket := lockBucket(t, srv)
	ctx := context.Background()
	cfg := srv.config(t)
	cfg.Bucket = bucket
	cfg.ObjectLock = s3.ObjectLock{Mode: "GOVERNANCE", Days: 1}
	cfg.PartSize = 5 << 20
	st := open(t, cfg)
	want := map[string]string{
		"src/wal/000000010000000000000001": "segment one",
		"src/wal/000000010000000000000002": "segment two",
		"src/backups/b1/part-000001":       strings.Repeat("p", 6<<20), // multipart
		"src/backups/b1/part-000002":       strings.Repeat("q", 6<<20), // multipart
	}
	ids := map[string]string{}
	for k, v := range want {
		id, err := st.PutVersion(ctx, k, strings.NewReader(v), int64(len(v)))
		if err != nil {
			t.Fatal(err)
		}
		if id == "" {
			t.Fatalf("put %s on a versioned bucket: no version id", k)
		}
		ids[k] = id
	}
	attack(t, srv, bucket, cfg.Prefix, []string{"src/wal/000000010000000000000001", "src/backups/b1/part-000001"},
		[]string{"src/wal/000000010000000000000002", "src/backups/b1/part-000002"})
	plain := cfg
	plain.ObjectLock = s3.ObjectLock{}
	rd := open(t, plain)
	for k, v := range want {
		rc, err := rd.GetVersion(ctx, k, ids[k])
		if err != nil {
			t.Fatalf("get %s version %s: %v", k, ids[k], err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != v {
			t.Errorf("get %s version %s: %d bytes (%v), want the %d written", k, ids[k], len(got), err, len(v))
		}
	}
	// Without the id, the attack shows: the current version is the
	// attacker's, or the key is deleted.
	rc, err := rd.GetVersion(ctx, "src/wal/000000010000000000000001", "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "more evil" {
		t.Errorf("current version: %q, want the attacker's", got)
	}
	if _, err := rd.GetVersion(ctx, "src/wal/000000010000000000000002", ""); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("deleted key without a version id: %v, want ErrNotExist", err)
	}
	// A version id of another key is not this key's.
	if _, err := rd.GetVersion(ctx, "src/wal/000000010000000000000003", ids["src/wal/000000010000000000000001"]); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("version of an unwritten key: %v, want ErrNotExist", err)
	}
}

// TestVersionIDUnversioned: on a bucket without versioning PutVersion
// answers an empty id (nothing to record) and GetVersion with an empty id
// is Get.
func TestVersionIDUnversioned(t *testing.T) {
	srv := testServer(t)
	ctx := context.Background()
	st := open(t, srv.config(t))
	id, err := st.PutVersion(ctx, "k/one", strings.NewReader("one"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		t.Errorf("unversioned bucket: version id %q, want none", id)
	}
	rc, err := st.GetVersion(ctx, "k/one", "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "one" {
		t.Errorf("get: %q", got)
	}
	if _, err := st.PutVersion(ctx, "k/one", strings.NewReader("two"), 3); !errors.Is(err, store.ErrExist) {
		t.Errorf("second put: %v, want ErrExist", err)
	}
}
