package s3_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/store/s3"
)

// fakeS3 is a tiny path-style S3 answering single-part object requests,
// for tests that need an exact, scripted answer (an error code, a cut
// body, a lost response) that a real server cannot be made to give.
type fakeS3 struct {
	t      *testing.T
	bucket string

	mu       sync.Mutex
	objects  map[string][]byte
	requests []string // "METHOD key" for each request, in order
	// hook may answer a request itself (returning true); n counts the
	// requests with the same method and key, from 1.
	hook func(w http.ResponseWriter, r *http.Request, key string, n int) bool
}

// newFake starts a fake S3 and sets test credentials for it.
func newFake(t *testing.T) (*fakeS3, *httptest.Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-do-not-print")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	f := &fakeS3{t: t, bucket: "fake-bucket", objects: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeS3) config(srv *httptest.Server) s3.Config {
	return s3.Config{
		Bucket:         f.bucket,
		Prefix:         "p",
		Endpoint:       srv.URL,
		RequestTimeout: 2 * time.Second,
		MaxAttempts:    3,
	}
}

func (f *fakeS3) count(method, key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.requests {
		if r == method+" "+key {
			n++
		}
	}
	return n
}

func s3Error(w http.ResponseWriter, r *http.Request, status int, code string) {
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>scripted %s</Message><RequestId>fake</RequestId></Error>`, code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+key)
	n := 0
	for _, req := range f.requests {
		if req == r.Method+" "+key {
			n++
		}
	}
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, key, n) {
		return
	}
	if bucket != f.bucket {
		s3Error(w, r, http.StatusNotFound, "NoSuchBucket")
		return
	}
	switch {
	case key == "" && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case key == "":
		s3Error(w, r, http.StatusNotImplemented, "NotImplemented")
	case r.Method == http.MethodPut:
		f.put(w, r, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		f.get(w, r, key)
	case r.Method == http.MethodDelete:
		f.mu.Lock()
		delete(f.objects, key)
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, r, http.StatusNotImplemented, "NotImplemented")
	}
}

func (f *fakeS3) put(w http.ResponseWriter, r *http.Request, key string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	sum := sha256.Sum256(body)
	if want := r.Header.Get("X-Amz-Checksum-Sha256"); want != base64.StdEncoding.EncodeToString(sum[:]) {
		s3Error(w, r, http.StatusBadRequest, "BadDigest")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[key]; ok && r.Header.Get("If-None-Match") == "*" {
		s3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	f.objects[key] = body
	w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
	w.WriteHeader(http.StatusOK)
}

func (f *fakeS3) get(w http.ResponseWriter, r *http.Request, key string) {
	f.mu.Lock()
	data, ok := f.objects[key]
	f.mu.Unlock()
	if !ok {
		s3Error(w, r, http.StatusNotFound, "NoSuchKey")
		return
	}
	sum := sha256.Sum256(data)
	etag := fmt.Sprintf(`"%x"`, sum[:8])
	if m := r.Header.Get("If-Match"); m != "" && m != etag {
		s3Error(w, r, http.StatusPreconditionFailed, "PreconditionFailed")
		return
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", time.Unix(1e9, 0).UTC().Format(http.TimeFormat))
	if r.Method == http.MethodHead && r.Header.Get("X-Amz-Checksum-Mode") == "ENABLED" {
		h.Set("X-Amz-Checksum-Sha256", base64.StdEncoding.EncodeToString(sum[:]))
	}
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || from >= len(data) {
			s3Error(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
			return
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
		data = data[from:]
		status = http.StatusPartialContent
	}
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		w.Write(data)
	}
}

// cutBody answers a GET with the full Content-Length but only the first n
// bytes of the body, then drops the connection.
func (f *fakeS3) cutBody(w http.ResponseWriter, r *http.Request, key string, n int) {
	f.mu.Lock()
	data := f.objects[key]
	f.mu.Unlock()
	sum := sha256.Sum256(data)
	w.Header().Set("ETag", fmt.Sprintf(`"%x"`, sum[:8]))
	from := 0
	if rg := r.Header.Get("Range"); rg != "" {
		from, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)-from))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
	}
	w.Write(data[from:min(from+n, len(data))])
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}
