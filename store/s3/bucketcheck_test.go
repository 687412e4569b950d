package s3_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
)

// With DeferBucketCheck, Open sends nothing, normal answers (an absent
// key, a key taken) send nothing more, and a configuration error still
// comes back as ErrConfig with Open's own message, from the request that
// met it.
func TestDeferredBucketCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("no request at open, none on normal answers", func(t *testing.T) {
		f, srv := newFake(t)
		cfg := f.config(srv)
		cfg.DeferBucketCheck = true
		s, err := s3.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		sent := len(f.requests)
		f.mu.Unlock()
		if sent != 0 {
			t.Fatalf("open sent %d requests", sent)
		}
		if _, err := s.Stat(ctx, "absent"); !errors.Is(err, store.ErrNotExist) {
			t.Fatalf("stat of an absent key: %v", err)
		}
		if err := s.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); !errors.Is(err, store.ErrExist) {
			t.Fatalf("second put: %v, want ErrExist", err)
		}
		if n := f.count(http.MethodHead, ""); n != 0 {
			t.Fatalf("HEAD bucket sent %d times, want none", n)
		}
	})
	for _, tc := range []struct {
		name   string
		status int
		code   string
		err    string
	}{
		{"wrong secret", http.StatusForbidden, "SignatureDoesNotMatch", "secret access key does not match"},
		{"unknown key", http.StatusForbidden, "InvalidAccessKeyId", "does not know the AWS access key ID"},
		{"unknown key (versitygw)", http.StatusNotFound, "XAdminUserNotFound", "does not know the AWS access key ID"},
		{"missing bucket", http.StatusNotFound, "NoSuchBucket", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				s3Error(w, r, tc.status, tc.code)
				return true
			}
			cfg := f.config(srv)
			cfg.DeferBucketCheck = true
			s, err := s3.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second answers from the first check
				err = s.Put(ctx, "k", bytes.NewReader([]byte("x")), 1)
				if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("put %d: got %v, want one line of ErrConfig with %q", i, err, tc.err)
				}
			}
			if n := f.count(http.MethodHead, ""); n != 1 {
				t.Errorf("HEAD bucket sent %d times, want once", n)
			}
		})
	}
	t.Run("server errors are not configuration errors", func(t *testing.T) {
		f, srv := newFake(t)
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			s3Error(w, r, http.StatusInternalServerError, "InternalError")
			return true
		}
		cfg := f.config(srv)
		cfg.DeferBucketCheck = true
		s, err := s3.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, "k", bytes.NewReader([]byte("x")), 1); err == nil || errors.Is(err, store.ErrConfig) {
			t.Fatalf("got %v, want a plain error", err)
		}
		if n := f.count(http.MethodHead, ""); n != 0 {
			t.Errorf("HEAD bucket sent %d times, want none", n)
		}
	})
}
