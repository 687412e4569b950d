package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// countingProxy stands between logship and the test S3 server and notes
// every request that goes through, so that a test can hold the number of
// round trips a command makes to what docs/FORMAT.md states.
type countingProxy struct {
	url  string
	mu   sync.Mutex
	reqs []string
}

func newCountingProxy(t *testing.T, endpoint string) *countingProxy {
	t.Helper()
	target, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{}
	// The Host header goes through unchanged: it is signed with the rest.
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.reqs = append(p.reqs, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// take returns the requests noted since the last call.
func (p *countingProxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

// TestS3RequestsPerSegment counts the requests one wal-push makes to S3:
// the first push, which claims the source; a push of a fresh segment into
// the claimed source; and a retry of a segment already stored. These are
// the numbers of "Requests per WAL segment" in docs/FORMAT.md: a change
// that adds a round trip to the hot path fails here.
func TestS3RequestsPerSegment(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs an S3 server: skipped by -short")
	}
	endpoint, bucket := os.Getenv("LOGSHIP_TEST_S3_ENDPOINT"), os.Getenv("LOGSHIP_TEST_S3_BUCKET")
	if endpoint == "" || bucket == "" {
		t.Skip("no S3 server: set LOGSHIP_TEST_S3_ENDPOINT and LOGSHIP_TEST_S3_BUCKET (scripts/s3server start DIR)")
	}
	_, rcp, _ := newIdentity(t)
	proxy := newCountingProxy(t, endpoint)
	// Encrypting pushes, clear pushes into a clear source (which must look
	// for the encrypted marker every time), and clear pushes that may store
	// clear objects anyway.
	modes := []struct {
		name                    string
		flags                   []string
		claim, fresh, retry     int
		ahead, aheadAcknowledge int
	}{
		{"encrypted", []string{"--encrypt-to", rcp}, 4, 2, 3, 4, 1},
		{"clear", nil, 5, 3, 4, 5, 1},
		{"allow-plaintext", []string{"--allow-plaintext"}, 4, 2, 3, 4, 1},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			var rnd [6]byte
			rand.Read(rnd[:])
			flags := append([]string{"--store", "s3://" + bucket + "/req-" + hex.EncodeToString(rnd[:]),
				"--s3-endpoint", proxy.url, "--source", "t"}, m.flags...)
			pgwal := filepath.Join(t.TempDir(), "pg_wal")
			if err := os.MkdirAll(filepath.Join(pgwal, "archive_status"), 0o755); err != nil {
				t.Fatal(err)
			}
			var segs []string
			for i := 1; i <= 4; i++ {
				segs = append(segs, syntheticSegment(t, pgwal, fmt.Sprintf("0000000100000000000000%02X", i), 42, byte(i)))
			}
			ready := func(seg string) {
				os.WriteFile(filepath.Join(pgwal, "archive_status", filepath.Base(seg)+".ready"), nil, 0o644)
			}
			done := func(seg string) {
				st := filepath.Join(pgwal, "archive_status", filepath.Base(seg))
				os.Rename(st+".ready", st+".done")
			}
			count := func(what string, want int, args ...string) {
				t.Helper()
				proxy.take()
				mustLogship(t, nil, append(append([]string{}, flags...), args...)...)
				got := proxy.take()
				t.Logf("%s: %d requests\n  %s", what, len(got), strings.Join(got, "\n  "))
				if len(got) != want {
					t.Errorf("%s: %d requests, want %d:\n  %s", what, len(got), want, strings.Join(got, "\n  "))
				}
			}
			count("first push, claiming the source", m.claim, "wal-push", segs[0])
			count("fresh segment", m.fresh, "wal-push", segs[1])
			count("retry of a stored segment", m.retry, "wal-push", segs[1])
			// Two ready: the call for the first stores the second too (its
			// count is for both), and the call for the second only finds it
			// stored.
			ready(segs[2])
			ready(segs[3])
			count("two segments, one pushed ahead", m.ahead, "--push-parallel", "2", "wal-push", segs[2])
			done(segs[2])
			count("segment pushed ahead", m.aheadAcknowledge, "--push-parallel", "2", "wal-push", segs[3])
		})
	}
}
