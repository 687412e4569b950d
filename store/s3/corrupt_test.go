package s3_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/storetest"
)

// flipReader flips one byte in the middle of a stream.
type flipReader struct {
	io.ReadCloser
	at, off int64
}

func (f *flipReader) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if f.at >= f.off && f.at < f.off+int64(n) {
		p[f.at-f.off] ^= 0x01
	}
	f.off += int64(n)
	return n, err
}

// corruptingProxy forwards to the test server and flips a byte in the
// first `uploads` PUT bodies and `downloads` GET bodies it carries.
func corruptingProxy(t *testing.T, srv server, uploads, downloads int32) (*httptest.Server, *atomic.Int32) {
	target, err := url.Parse(srv.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	puts := new(atomic.Int32)
	gets := new(atomic.Int32)
	p := httputil.NewSingleHostReverseProxy(target)
	director := p.Director
	p.Director = func(r *http.Request) {
		director(r)
		if r.Method == http.MethodPut && r.ContentLength > 10 && puts.Add(1) <= uploads {
			r.Body = &flipReader{ReadCloser: r.Body, at: r.ContentLength / 2}
		}
	}
	p.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.StatusCode == http.StatusOK && resp.ContentLength > 10 && gets.Add(1) <= downloads {
			resp.Body = &flipReader{ReadCloser: resp.Body, at: resp.ContentLength / 2}
		}
		return nil
	}
	proxy := httptest.NewServer(p)
	t.Cleanup(proxy.Close)
	return proxy, puts
}

// TestCorruptTransfer checks that a byte flipped on the wire is caught:
// the server refuses the upload (checksum), and a download fails rather
// than handing over wrong bytes.
func TestCorruptTransfer(t *testing.T) {
	srv := testServer(t)
	ctx := context.Background()
	data := storetest.Data(5, 100_000)

	t.Run("upload corrupted once is retried", func(t *testing.T) {
		proxy, puts := corruptingProxy(t, srv, 1, 0)
		cfg := srv.config(t)
		direct := open(t, cfg)
		cfg.Endpoint = proxy.URL
		s := open(t, cfg)
		storetest.Put(t, s, "k", data)
		if got := storetest.Get(t, direct, "k"); !bytes.Equal(got, data) {
			t.Fatal("stored object differs from the one put")
		}
		if n := puts.Load(); n != 2 {
			t.Errorf("%d PUTs, want the corrupted one and its retry", n)
		}
	})

	t.Run("upload always corrupted stores nothing", func(t *testing.T) {
		proxy, _ := corruptingProxy(t, srv, 1000, 0)
		cfg := srv.config(t)
		direct := open(t, cfg)
		cfg.Endpoint = proxy.URL
		cfg.MaxAttempts = 2
		s := open(t, cfg)
		err := s.Put(ctx, "k", bytes.NewReader(data), int64(len(data)))
		if err == nil || errors.Is(err, store.ErrExist) {
			t.Fatalf("put: %v, want a plain error", err)
		}
		storetest.AssertAbsent(t, direct, "k")
	})

	t.Run("download corrupted", func(t *testing.T) {
		proxy, _ := corruptingProxy(t, srv, 0, 1000)
		cfg := srv.config(t)
		direct := open(t, cfg)
		cfg.Endpoint = proxy.URL
		s := open(t, cfg)
		storetest.Put(t, direct, "k", data)
		got, err := storetest.ReadAll(ctx, s, "k")
		if err == nil {
			t.Fatalf("get: no error, %d bytes (equal: %v)", len(got), bytes.Equal(got, data))
		}
		if errors.Is(err, store.ErrNotExist) {
			t.Fatalf("get: %v must not look like an absent object", err)
		}
		t.Logf("get: %v", err)
	})
}
