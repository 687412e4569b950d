package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
	"github.com/logship/logship/store/storetest"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url            string
		bucket, prefix string
		err            string
	}{
		{url: "s3://bucket", bucket: "bucket"},
		{url: "s3://bucket/", bucket: "bucket"},
		{url: "s3://my.bucket-1/a/b/", bucket: "my.bucket-1", prefix: "a/b"},
		{url: "S3://bucket/logs", bucket: "bucket", prefix: "logs"},
		{url: "s3://", err: "no bucket"},
		{url: "s3:///prefix", err: "no bucket"},
		{url: "file:///tmp/x", err: "not an s3:// URL"},
		{url: "bucket/prefix", err: "not an s3:// URL"},
		{url: "s3://Bucket", err: "lowercase"},
		{url: "s3://ab", err: "3 to 63"},
		{url: "s3://-bucket", err: "start and end"},
		{url: "s3://bucket:9000/x", err: "not a server"},
		{url: "s3://bucket/x?region=eu", err: "no query"},
		{url: "s3://bucket/a//b", err: "path element"},
		{url: "s3://bucket/a/../b", err: "path element"},
		{url: "s3://bucket/a b", err: "not allowed"},
		{url: "s3://AKIDSECRET:hunter2@bucket/x", err: "must not hold credentials"},
		{url: "s3://bucket/%zz", err: "malformed"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			cfg, err := s3.ParseURL(tc.url)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("got %+v, want error %q", cfg, tc.err)
				}
				if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want ErrConfig with %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Bucket != tc.bucket || cfg.Prefix != tc.prefix {
				t.Fatalf("got bucket %q prefix %q, want %q %q", cfg.Bucket, cfg.Prefix, tc.bucket, tc.prefix)
			}
		})
	}
}

func TestOpenBadConfig(t *testing.T) {
	_, srv := newFake(t)
	for _, tc := range []struct {
		name string
		cfg  s3.Config
		err  string
	}{
		{"no bucket", s3.Config{}, "no bucket"},
		{"bad SSE", s3.Config{Bucket: "bucket", SSE: "des"}, "server-side encryption"},
		{"KMS key without KMS", s3.Config{Bucket: "bucket", SSEKMSKeyID: "k"}, "KMS key"},
		{"small parts", s3.Config{Bucket: "bucket", PartSize: 1 << 20}, "part size"},
		{"conditional", s3.Config{Bucket: "bucket", ConditionalWrites: "maybe"}, "conditional writes"},
		{"endpoint", s3.Config{Bucket: "bucket", Endpoint: "ftp://x"}, "endpoint"},
		{"endpoint with key", s3.Config{Bucket: "bucket", Endpoint: "http://AKID:hunter2@" + strings.TrimPrefix(srv.URL, "http://")}, "without credentials"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s3.Open(context.Background(), tc.cfg)
			if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want ErrConfig with %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("error shows the secret: %v", err)
			}
		})
	}
}

// TestOpenErrors checks that each way a bucket check fails gets its own
// actionable ErrConfig message, and that none shows the secret key.
func TestOpenErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		head int    // status of HEAD bucket, and of the listing that follows
		list string // error code of the listing
		err  string
	}{
		{"unknown key", http.StatusForbidden, "InvalidAccessKeyId", "does not know the AWS access key ID"},
		{"unknown key (versitygw)", http.StatusNotFound, "XAdminUserNotFound", "does not know the AWS access key ID"},
		{"wrong secret", http.StatusForbidden, "SignatureDoesNotMatch", "secret access key does not match"},
		{"denied", http.StatusForbidden, "AccessDenied", "denied"},
		{"missing bucket", http.StatusNotFound, "NoSuchBucket", "does not exist"},
		{"wrong region", http.StatusMovedPermanently, "PermanentRedirect", "another region"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				s3Error(w, r, tc.head, tc.list)
				return true
			}
			_, err := s3.Open(context.Background(), f.config(srv))
			if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("got %v, want ErrConfig with %q", err, tc.err)
			}
			if strings.Contains(err.Error(), os.Getenv("AWS_SECRET_ACCESS_KEY")) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line without secrets: %q", err)
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
		_, err := s3.Open(context.Background(), cfg)
		if err == nil || errors.Is(err, store.ErrConfig) {
			t.Fatalf("got %v, want a plain error", err)
		}
		if got := f.count(http.MethodHead, ""); got != cfg.MaxAttempts {
			t.Errorf("HEAD bucket sent %d times, want %d attempts", got, cfg.MaxAttempts)
		}
	})

	t.Run("unreachable endpoint", func(t *testing.T) {
		f, _ := newFake(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cfg := s3.Config{Bucket: f.bucket, Endpoint: "http://" + addr, MaxAttempts: 1}
		_, err = s3.Open(context.Background(), cfg)
		if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "cannot reach") {
			t.Fatalf("got %v, want ErrConfig with \"cannot reach\"", err)
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		f, srv := newFake(t)
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
		t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "")
		t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", "")
		t.Setenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
		_, err := s3.Open(context.Background(), f.config(srv))
		if !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "no usable AWS credentials") {
			t.Fatalf("got %v, want ErrConfig about credentials", err)
		}
	})
}

func openFake(t *testing.T, f *fakeS3, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open fake: %v", err)
	}
	return s
}

// TestNotExistOnlyWhenPositive checks that only "no such key" is reported
// as absent: PostgreSQL takes absent as the end of the archive.
func TestNotExistOnlyWhenPositive(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		code     string // for GET; HEAD gets only the status
		notExist bool
	}{
		{"no such key", http.StatusNotFound, "NoSuchKey", true},
		{"no such bucket", http.StatusNotFound, "NoSuchBucket", false},
		{"denied", http.StatusForbidden, "AccessDenied", false},
		{"server error", http.StatusInternalServerError, "InternalError", false},
		{"throttled", http.StatusServiceUnavailable, "SlowDown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			s := openFake(t, f, f.config(srv))
			f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if key == "" {
					return false
				}
				s3Error(w, r, tc.status, tc.code)
				return true
			}
			_, err := s.Get(context.Background(), "wal/1")
			if got := errors.Is(err, store.ErrNotExist); err == nil || got != tc.notExist {
				t.Errorf("get: %v; ErrNotExist %v, want %v", err, got, tc.notExist)
			}
			_, err = s.Stat(context.Background(), "wal/1")
			if got := errors.Is(err, store.ErrNotExist); err == nil || got != tc.notExist {
				t.Errorf("stat: %v; ErrNotExist %v, want %v", err, got, tc.notExist)
			}
		})
	}
}

func TestPutRetries(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		code   string
	}{
		{"internal error", http.StatusInternalServerError, "InternalError"},
		{"throttled", http.StatusServiceUnavailable, "SlowDown"},
		{"conditional conflict", http.StatusConflict, "ConditionalRequestConflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, srv := newFake(t)
			s := openFake(t, f, f.config(srv))
			f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
				if r.Method == http.MethodPut && n < 3 {
					io.Copy(io.Discard, r.Body)
					s3Error(w, r, tc.status, tc.code)
					return true
				}
				return false
			}
			data := storetest.Data(1, 1000)
			storetest.Put(t, s, "wal/1", data)
			if got := f.count(http.MethodPut, "p/wal/1"); got != 3 {
				t.Errorf("%d PUTs, want 3", got)
			}
			if !bytes.Equal(f.objects["p/wal/1"], data) {
				t.Error("stored content differs")
			}
		})
	}

	t.Run("gives up after MaxAttempts", func(t *testing.T) {
		f, srv := newFake(t)
		cfg := f.config(srv)
		s := openFake(t, f, cfg)
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method == http.MethodPut {
				io.Copy(io.Discard, r.Body)
				s3Error(w, r, http.StatusInternalServerError, "InternalError")
				return true
			}
			return false
		}
		err := s.Put(context.Background(), "wal/1", bytes.NewReader([]byte("x")), 1)
		if err == nil || errors.Is(err, store.ErrExist) {
			t.Fatalf("put: %v, want a plain error", err)
		}
		if got := f.count(http.MethodPut, "p/wal/1"); got != cfg.MaxAttempts {
			t.Errorf("%d PUTs, want %d", got, cfg.MaxAttempts)
		}
	})

	t.Run("lost answer", func(t *testing.T) {
		// The first PUT stores the object but its answer never arrives;
		// the retry meets 412 for the object it made itself.
		f, srv := newFake(t)
		s := openFake(t, f, f.config(srv))
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method == http.MethodPut && n == 1 {
				f.put(httptestRecorder{}, r, key)
				panic(http.ErrAbortHandler)
			}
			return false
		}
		storetest.Put(t, s, "wal/1", []byte("mine"))
		if got := f.count(http.MethodPut, "p/wal/1"); got != 2 {
			t.Errorf("%d PUTs, want 2", got)
		}
		// Someone else's object is still ErrExist after a lost answer.
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method == http.MethodPut && key == "p/wal/2" && n == 1 {
				io.Copy(io.Discard, r.Body)
				f.mu.Lock()
				f.objects[key] = []byte("theirs")
				f.mu.Unlock()
				panic(http.ErrAbortHandler)
			}
			return false
		}
		err := s.Put(context.Background(), "wal/2", bytes.NewReader([]byte("mine")), 4)
		if !errors.Is(err, store.ErrExist) {
			t.Fatalf("put over someone else's object: %v, want ErrExist", err)
		}
	})

	t.Run("not implemented falls back to HEAD", func(t *testing.T) {
		f, srv := newFake(t)
		s := openFake(t, f, f.config(srv))
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method == http.MethodPut && r.Header.Get("If-None-Match") != "" {
				io.Copy(io.Discard, r.Body)
				s3Error(w, r, http.StatusNotImplemented, "NotImplemented")
				return true
			}
			return false
		}
		storetest.Put(t, s, "wal/1", []byte("a"))
		err := s.Put(context.Background(), "wal/1", bytes.NewReader([]byte("b")), 1)
		if !errors.Is(err, store.ErrExist) {
			t.Fatalf("second put: %v, want ErrExist", err)
		}
		if got := string(f.objects["p/wal/1"]); got != "a" {
			t.Fatalf("object is %q, want %q", got, "a")
		}
	})
}

// httptestRecorder swallows an answer that is meant to be lost.
type httptestRecorder struct{}

func (httptestRecorder) Header() http.Header         { return http.Header{} }
func (httptestRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (httptestRecorder) WriteHeader(int)             {}

// TestAttemptTimeout checks that a server that takes a request and never
// answers costs MaxAttempts request timeouts, not a hang.
func TestAttemptTimeout(t *testing.T) {
	f, srv := newFake(t)
	cfg := f.config(srv)
	cfg.RequestTimeout = 200 * time.Millisecond
	cfg.MaxAttempts = 2
	s := openFake(t, f, cfg)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
		if key == "" && r.Method == http.MethodHead {
			return false
		}
		io.Copy(io.Discard, r.Body)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"put", func() error { return s.Put(ctx, "wal/1", bytes.NewReader([]byte("x")), 1) }},
		{"get", func() error { _, err := s.Get(ctx, "wal/1"); return err }},
		{"stat", func() error { _, err := s.Stat(ctx, "wal/1"); return err }},
		{"list", func() error { return s.List(ctx, "", func(store.ObjectInfo) error { return nil }) }},
		{"delete", func() error { return s.Delete(ctx, "wal/1") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			err := tc.op()
			if err == nil || errors.Is(err, store.ErrNotExist) {
				t.Fatalf("got %v, want a timeout error", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %s", d)
			}
		})
	}
}

// TestGetResumes checks that a download cut short is resumed from the byte
// it reached, and that one that cannot be completed fails loudly.
func TestGetResumes(t *testing.T) {
	data := storetest.Data(3, 300_000)

	t.Run("cut every 64 KiB", func(t *testing.T) {
		f, srv := newFake(t)
		s := openFake(t, f, f.config(srv))
		storetest.Put(t, s, "wal/1", data)
		var ranges []string
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method != http.MethodGet {
				return false
			}
			if r.Header.Get("Range") != "" && r.Header.Get("If-Match") == "" {
				t.Errorf("resume without If-Match")
			}
			ranges = append(ranges, r.Header.Get("Range"))
			f.cutBody(w, r, key, 64<<10)
			return true
		}
		got := storetest.Get(t, s, "wal/1")
		if !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes, not the %d put", len(got), len(data))
		}
		if len(ranges) != 5 || ranges[0] != "" || ranges[1] != "bytes=65536-" {
			t.Errorf("requests' ranges %q, want the full object then resumes every 64 KiB", ranges)
		}
	})

	t.Run("resume keeps failing", func(t *testing.T) {
		f, srv := newFake(t)
		cfg := f.config(srv)
		s := openFake(t, f, cfg)
		storetest.Put(t, s, "wal/1", data)
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method != http.MethodGet {
				return false
			}
			if n == 1 {
				f.cutBody(w, r, key, 1000)
			}
			s3Error(w, r, http.StatusInternalServerError, "InternalError")
			return true
		}
		rc, err := s.Get(context.Background(), "wal/1")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err == nil || errors.Is(err, store.ErrNotExist) {
			t.Fatalf("read %d bytes, err %v; want a plain error", len(got), err)
		}
		if !strings.Contains(err.Error(), "read stopped at byte 1000") {
			t.Errorf("error %q does not say where the read stopped", err)
		}
		if gets := f.count(http.MethodGet, "p/wal/1"); gets != 1+cfg.MaxAttempts {
			t.Errorf("%d GETs, want %d", gets, 1+cfg.MaxAttempts)
		}
	})

	t.Run("object replaced", func(t *testing.T) {
		f, srv := newFake(t)
		s := openFake(t, f, f.config(srv))
		storetest.Put(t, s, "wal/1", data)
		f.hook = func(w http.ResponseWriter, r *http.Request, key string, n int) bool {
			if r.Method == http.MethodGet && n == 1 {
				f.cutBody(w, r, key, 1000)
				return true
			}
			if r.Method == http.MethodGet && n == 2 {
				f.mu.Lock()
				f.objects[key] = storetest.Data(4, len(data))
				f.mu.Unlock()
			}
			return false
		}
		_, err := storetest.ReadAll(context.Background(), s, "wal/1")
		if err == nil || errors.Is(err, store.ErrNotExist) || !strings.Contains(err.Error(), "changed") {
			t.Fatalf("got %v, want an error saying the object changed", err)
		}
	})
}
