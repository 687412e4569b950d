package main_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// Network faults between logship and S3, through toxiproxy. Whatever the
// fault, wal-push exits 0 with the object whole, or non-zero (PostgreSQL
// retries) with no object or the whole one; wal-fetch exits 0 with the
// exact file, or above 125 with nothing at DEST, never 1 ("absent"); and
// neither runs past its deadline.
func TestS3FaultsThroughCLI(t *testing.T) {
	t.Parallel()
	direct := s3Flags(t)
	addr := os.Getenv("LOGSHIP_TEST_TOXIPROXY")
	if addr == "" {
		if os.Getenv("LOGSHIP_REQUIRE_S3") == "1" {
			t.Fatal("LOGSHIP_REQUIRE_S3=1 but LOGSHIP_TEST_TOXIPROXY is unset (scripts/s3server start sets it)")
		}
		t.Skip("no toxiproxy server")
	}
	endpoint, _ := url.Parse(os.Getenv("LOGSHIP_TEST_S3_ENDPOINT"))
	wal := t.TempDir()
	// Random content: the object stays above 1 MiB, so cut transfers bite.
	seg := syntheticSegment(t, wal, seg1, 42, 0)
	b, _ := os.ReadFile(seg)
	rand.Read(b[8192 : 4<<20])
	os.WriteFile(seg, b, 0o644)

	faults := []struct {
		name   string
		kind   string
		stream string
		tox    float32
		attrs  toxiproxy.Attributes
	}{
		{"reset half the connections", "reset_peer", "downstream", 0.5, toxiproxy.Attributes{"timeout": 0}},
		{"200 ms latency", "latency", "downstream", 1, toxiproxy.Attributes{"latency": 200}},
		{"timeout", "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 500}},
		{"blackhole", "timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0}},
		{"upload cut after 1 MiB", "limit_data", "upstream", 1, toxiproxy.Attributes{"bytes": 1 << 20}},
		{"download cut after 1 MiB", "limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": 1 << 20}},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			var rnd [4]byte
			rand.Read(rnd[:])
			source := "fault-" + hex.EncodeToString(rnd[:])
			proxy, err := toxiproxy.NewClient(addr).CreateProxy(source, "127.0.0.1:0", endpoint.Host)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { proxy.Delete() })
			directFlags := append(append([]string{}, direct...), "--source", source)
			faulty := append(append([]string{}, directFlags...), "--s3-endpoint", "http://"+proxy.Listen, "--s3-request-timeout", "1s")
			// The fetch case needs the object in the store first.
			if f.stream == "downstream" && f.kind == "limit_data" {
				mustLogship(t, nil, append(directFlags, "wal-push", seg)...)
			}
			if _, err := proxy.AddToxic("", f.kind, f.stream, f.tox, f.attrs); err != nil {
				t.Fatal(err)
			}

			start := time.Now()
			push := logship(t, nil, append(faulty, "wal-push", seg)...)
			if d := time.Since(start); d > 60*time.Second {
				t.Errorf("wal-push ran %s under %s", d, f.name)
			}
			check := filepath.Join(t.TempDir(), "check")
			stored := logship(t, nil, append(directFlags, "--fetch-ahead", "0", "wal-fetch", seg1, check)...)
			switch {
			case push.code == 0 && (stored.code != 0 || !sameFile(t, seg, check)):
				t.Fatalf("wal-push exited 0 but the stored object is not the file (fetch exit %d: %s)", stored.code, stored.stderr)
			case push.code != 0 && stored.code == 0 && !sameFile(t, seg, check):
				t.Fatal("a failed wal-push left a partial object")
			// A push that failed before the source was recorded leaves a
			// source wal-fetch does not know: exit 200 (F3), not "absent".
			case push.code != 0 && stored.code != 0 && stored.code != 1 && !strings.Contains(stored.stderr, "no source record"):
				t.Fatalf("after a failed push the object is unreadable: exit %d %s", stored.code, stored.stderr)
			}

			if stored.code == 0 {
				dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
				start = time.Now()
				fetch := logship(t, nil, append(faulty, "--fetch-ahead", "0", "wal-fetch", seg1, dest)...)
				if d := time.Since(start); d > 60*time.Second {
					t.Errorf("wal-fetch ran %s under %s", d, f.name)
				}
				switch {
				case fetch.code == 1:
					t.Fatalf("wal-fetch reported a store failure as absent: %s", fetch.stderr)
				case fetch.code == 0 && !sameFile(t, seg, dest):
					t.Fatal("wal-fetch exited 0 with a wrong file")
				case fetch.code != 0 && fetch.code <= 125:
					t.Fatalf("wal-fetch exit %d: PostgreSQL would not stop: %s", fetch.code, fetch.stderr)
				case fetch.code != 0:
					if _, err := os.Stat(dest); err == nil {
						t.Fatal("a failed wal-fetch left a file at DEST")
					}
				}
				t.Logf("%s: push exit %d, fetch exit %d", f.name, push.code, fetch.code)
			}
		})
	}
}
