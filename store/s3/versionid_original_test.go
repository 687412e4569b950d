package s3_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/logship/logship/store"
)

// TestVersionIDReadOriginalVersitygw: with ReadOriginal, GetVersion serves
// only the version first written under the key. A version id of a later
// write (one that a record added by someone else could name) answers
// ErrNotExist, so that recovery never follows it.
func TestVersionIDReadOriginalVersitygw(t *testing.T) {
	srv := testServer(t)
	bucket := lockBucket(t, srv)
	ctx := context.Background()
	cfg := srv.config(t)
	cfg.Bucket = bucket
	st := open(t, cfg)
	const key = "src/wal/000000010000000000000001"
	id, err := st.PutVersion(ctx, key, strings.NewReader("segment one"), 11)
	if err != nil || id == "" {
		t.Fatalf("put: id %q, %v", id, err)
	}
	out, err := srv.rawClient(t).PutObject(ctx, &awss3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(cfg.Prefix + "/" + key), Body: strings.NewReader("evil"),
	})
	if err != nil || aws.ToString(out.VersionId) == "" {
		t.Fatalf("overwrite: %v (version %q)", err, aws.ToString(out.VersionId))
	}
	orig := cfg
	orig.ReadOriginal = true
	rd := open(t, orig)
	for _, v := range []string{id, ""} {
		rc, err := rd.GetVersion(ctx, key, v)
		if err != nil {
			t.Fatalf("get version %q: %v", v, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != "segment one" {
			t.Errorf("get version %q: %q, want the original", v, got)
		}
	}
	if _, err := rd.GetVersion(ctx, key, aws.ToString(out.VersionId)); !errors.Is(err, store.ErrNotExist) {
		t.Errorf("get of the attacker's version with ReadOriginal: %v, want ErrNotExist", err)
	}
	// Without ReadOriginal, a version id is read as given.
	rc, err := st.GetVersion(ctx, key, aws.ToString(out.VersionId))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "evil" {
		t.Errorf("get of a later version: %q", got)
	}
}
