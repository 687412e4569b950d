package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/s3"
	"github.com/logship/logship/store/storetest"
)

// toxic is a fault put between the store and the server by toxiproxy.
type toxic struct {
	kind, stream string
	toxicity     float32
	attrs        toxiproxy.Attributes
}

// faultyPath opens two stores on the same fresh prefix: one talking to the
// server through a toxiproxy proxy, and one straight, to check what the
// faulty one really left behind.
func faultyPath(t testing.TB, mod func(*s3.Config)) (faulty, direct *s3.Store, proxy *toxiproxy.Proxy) {
	t.Helper()
	srv := testServer(t)
	addr := os.Getenv("LOGSHIP_TEST_TOXIPROXY")
	if addr == "" {
		if os.Getenv("LOGSHIP_REQUIRE_S3") == "1" {
			t.Fatal("LOGSHIP_REQUIRE_S3=1 but LOGSHIP_TEST_TOXIPROXY is unset; scripts/s3server start sets it when toxiproxy-server is installed")
		}
		t.Skip("no toxiproxy server; scripts/s3server install && scripts/s3server start DIR")
	}
	u, err := url.Parse(srv.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err = toxiproxy.NewClient(addr).CreateProxy(freshPrefix(t)[len("test/"):], "127.0.0.1:0", u.Host)
	if err != nil {
		t.Fatalf("create proxy: %v", err)
	}
	t.Cleanup(func() { proxy.Delete() })

	cfg := srv.config(t)
	direct = open(t, cfg)
	cfg.Endpoint = "http://" + proxy.Listen
	cfg.RequestTimeout = time.Second
	if mod != nil {
		mod(&cfg)
	}
	return open(t, cfg), direct, proxy
}

func addToxic(t testing.TB, proxy *toxiproxy.Proxy, tx toxic) {
	t.Helper()
	if _, err := proxy.AddToxic("", tx.kind, tx.stream, tx.toxicity, tx.attrs); err != nil {
		t.Fatalf("add toxic %s: %v", tx.kind, err)
	}
}

// checkPut asserts the all-or-nothing outcome of a Put: it succeeded and
// the object is byte-exact, or it failed and there is no object, or the
// whole one (an attempt stored it and every answer was lost). Never a
// partial or different object.
func checkPut(t *testing.T, direct store.Store, key string, data []byte, err error) bool {
	t.Helper()
	if err == nil {
		if got := storetest.Get(t, direct, key); !bytes.Equal(got, data) {
			t.Errorf("put %s succeeded but the object has %d bytes that differ from the %d put", key, len(got), len(data))
		}
		return true
	}
	if errors.Is(err, store.ErrExist) {
		t.Errorf("put %s: %v; a fault must not look like an existing object", key, err)
	}
	got, gerr := storetest.ReadAll(context.Background(), direct, key)
	switch {
	case errors.Is(gerr, store.ErrNotExist):
	case gerr != nil:
		t.Errorf("put %s failed (%v), then get: %v", key, err, gerr)
	case !bytes.Equal(got, data):
		t.Errorf("put %s failed (%v) and left %d bytes that differ from the %d put", key, err, len(got), len(data))
	default:
		t.Logf("put %s failed (%v) but an attempt had stored the whole object", key, err)
	}
	return false
}

// checkGet asserts the outcome of a Get: byte-exact data, or an error that
// is not ErrNotExist. Never a short read that looks complete.
func checkGet(t *testing.T, s store.Store, key string, data []byte) bool {
	t.Helper()
	got, err := storetest.ReadAll(context.Background(), s, key)
	if err != nil {
		if errors.Is(err, store.ErrNotExist) {
			t.Errorf("get %s: %v; a fault must not look like an absent object", key, err)
		}
		return false
	}
	if !bytes.Equal(got, data) {
		t.Errorf("get %s: no error, but %d bytes that differ from the %d stored", key, len(got), len(data))
	}
	return true
}

func TestFaults(t *testing.T) {
	for _, tc := range []struct {
		name  string
		toxic toxic
		mod   func(*s3.Config)
		sizes []int
		// whether every operation must succeed despite the fault, or may
		// fail cleanly
		putOK, getOK bool
		// how many operations of each kind may fail cleanly at most when
		// the fault hits only some connections: 10 attempts all landing
		// on a reset connection is rare, not impossible
		mayFail int
	}{
		{
			name:  "reset half the connections",
			toxic: toxic{"reset_peer", "downstream", 0.5, toxiproxy.Attributes{"timeout": 0}},
			mod:   func(c *s3.Config) { c.MaxAttempts = 10 },
			sizes: []int{1000, 300 << 10, 2 << 20, 4 << 20},
			putOK: true, getOK: true,
			mayFail: 1,
		},
		{
			name:  "200ms latency",
			toxic: toxic{"latency", "downstream", 1, toxiproxy.Attributes{"latency": 200}},
			sizes: []int{1000, 2 << 20},
			putOK: true, getOK: true,
		},
		{
			name:  "connections time out",
			toxic: toxic{"timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 300}},
			mod:   func(c *s3.Config) { c.MaxAttempts = 2 },
			sizes: []int{1000},
		},
		{
			name:  "blackhole",
			toxic: toxic{"timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0}},
			mod:   func(c *s3.Config) { c.MaxAttempts = 2; c.RequestTimeout = 500 * time.Millisecond },
			sizes: []int{2 << 20},
		},
		{
			name:  "upload cut after 1 MiB",
			toxic: toxic{"limit_data", "upstream", 1, toxiproxy.Attributes{"bytes": 1 << 20}},
			mod:   func(c *s3.Config) { c.PartSize = 5 << 20 },
			sizes: []int{100, 3 << 20, 6 << 20},
		},
		{
			name:  "upload cut after 1 MiB on half the connections",
			toxic: toxic{"limit_data", "upstream", 0.5, toxiproxy.Attributes{"bytes": 1 << 20}},
			mod:   func(c *s3.Config) { c.PartSize = 5 << 20; c.MaxAttempts = 10 },
			sizes: []int{3 << 20, 6 << 20},
		},
		{
			name:  "download cut after 1 MiB",
			toxic: toxic{"limit_data", "downstream", 1, toxiproxy.Attributes{"bytes": 1 << 20}},
			sizes: []int{100, 3 << 20, 6 << 20},
			getOK: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Each case has its own proxy and prefix.
			t.Parallel()
			faulty, direct, proxy := faultyPath(t, tc.mod)
			addToxic(t, proxy, tc.toxic)
			ctx := context.Background()
			putFailed, getFailed := 0, 0
			for _, size := range tc.sizes {
				data := storetest.Data(uint64(size), size)

				putKey := fmt.Sprintf("put/%d", size)
				start := time.Now()
				err := faulty.Put(ctx, putKey, bytes.NewReader(data), int64(size))
				ok := checkPut(t, direct, putKey, data, err)
				if !ok {
					putFailed++
				}
				if !ok && tc.putOK && putFailed > tc.mayFail {
					t.Errorf("put of %d bytes failed: %v", size, err)
				}
				t.Logf("put of %d bytes: ok=%v in %s (%v)", size, ok, time.Since(start).Round(time.Millisecond), err)
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("put of %d bytes took %s", size, d)
				}

				getKey := fmt.Sprintf("get/%d", size)
				storetest.Put(t, direct, getKey, data)
				start = time.Now()
				ok = checkGet(t, faulty, getKey, data)
				if !ok {
					getFailed++
				}
				if !ok && tc.getOK && getFailed > tc.mayFail {
					t.Errorf("get of %d bytes failed", size)
				}
				t.Logf("get of %d bytes: ok=%v in %s", size, ok, time.Since(start).Round(time.Millisecond))
				if d := time.Since(start); d > 30*time.Second {
					t.Errorf("get of %d bytes took %s", size, d)
				}
				if _, err := faulty.Stat(ctx, getKey); err != nil && errors.Is(err, store.ErrNotExist) {
					t.Errorf("stat %s: %v; a fault must not look like an absent object", getKey, err)
				}
			}
			if tc.toxic.kind == "limit_data" {
				// Aborts go out on fresh connections, which the cut
				// lets through: no failed upload may stay open.
				assertNoUploads(t, testServer(t), strings.TrimPrefix(direct.String(), "s3://"+testServer(t).bucket+"/"))
			}
		})
	}
}

// TestFaultsRecover checks that the store works again, on the same client,
// once a fault is gone.
func TestFaultsRecover(t *testing.T) {
	faulty, direct, proxy := faultyPath(t, func(c *s3.Config) { c.MaxAttempts = 2; c.RequestTimeout = 300 * time.Millisecond })
	addToxic(t, proxy, toxic{"timeout", "upstream", 1, toxiproxy.Attributes{"timeout": 0}})
	data := []byte("after the storm")
	err := faulty.Put(context.Background(), "k", bytes.NewReader(data), int64(len(data)))
	if checkPut(t, direct, "k", data, err) {
		t.Fatal("put through a blackhole succeeded")
	}
	if err := proxy.RemoveToxic("timeout_upstream"); err != nil {
		t.Fatal(err)
	}
	storetest.Put(t, faulty, "k", data)
	if got := storetest.Get(t, direct, "k"); !bytes.Equal(got, data) {
		t.Fatalf("got %q", got)
	}
}
