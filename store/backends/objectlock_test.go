package backends_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/backends"
)

func TestObjectLockOption(t *testing.T) {
	ctx := context.Background()
	_, err := backends.Open(ctx, "file://"+t.TempDir(), backends.Options{S3ObjectLock: "GOVERNANCE:30"})
	if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "s3:// store only") {
		t.Errorf("object lock on a file store: %v, want a config error", err)
	}
	// A bad value fails before anything is sent.
	_, err = backends.Open(ctx, "s3://bucket/prefix", backends.Options{S3ObjectLock: "FOREVER:1", S3Endpoint: "http://127.0.0.1:1"})
	if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "object lock") {
		t.Errorf("bad object lock: %v, want a config error", err)
	}
	// Without the option nothing changes for a file store.
	if _, err := backends.Open(ctx, "file://"+t.TempDir(), backends.Options{}); err != nil {
		t.Fatal(err)
	}
}
