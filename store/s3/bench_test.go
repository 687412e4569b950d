package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"testing"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/storetest"
)

// segmentSize is about what a 16 MiB WAL segment compresses to.
const segmentSize = 1300 << 10

// benchStores gives the stores the benchmarks run on: the server itself,
// and through toxiproxy with 30 ms of latency each way, roughly a
// cross-region link, when toxiproxy is there.
func benchStores(b *testing.B) map[string]store.Store {
	srv := testServer(b)
	stores := map[string]store.Store{"direct": open(b, srv.config(b))}
	if os.Getenv("LOGSHIP_TEST_TOXIPROXY") != "" {
		faulty, _, proxy := faultyPath(b, nil)
		addToxic(b, proxy, toxic{"latency", "downstream", 1, toxiproxy.Attributes{"latency": 30}})
		stores["latency30ms"] = faulty
	}
	return stores
}

func BenchmarkPut(b *testing.B) {
	data := storetest.Data(1, segmentSize)
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			i := 0
			for b.Loop() {
				key := fmt.Sprintf("bench/put/%08d", i)
				i++
				if err := s.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkGet(b *testing.B) {
	data := storetest.Data(2, segmentSize)
	for name, s := range benchStores(b) {
		b.Run(name, func(b *testing.B) {
			storetest.Put(b, s, "bench/get", data)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				rc, err := s.Get(context.Background(), "bench/get")
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
		})
	}
}
