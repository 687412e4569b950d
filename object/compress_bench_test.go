//go:build unix

package object_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/logship/logship/object"
)

// BenchmarkCompressWAL encodes real WAL segments, the files of the folder
// $LOGSHIP_BENCH_WAL (scripts/bench-compress makes them with pgbench), at
// each klauspost level logship maps zstd levels onto, on one core and on
// GOMAXPROCS, the way wal-push does (EncodeBytes, one object per segment).
// It reports the ratio; encode MiB/s of wall time and per CPU second (user +
// system time of the process: the per-core cost, which neighbours on a
// shared machine disturb much less than wall time); and decode MiB/s per
// CPU second (wal-fetch and restore read one object per goroutine). Each
// figure is that of the fastest pass. Skipped without the variable: there is
// no real WAL in the repository.
func BenchmarkCompressWAL(b *testing.B) {
	dir := os.Getenv("LOGSHIP_BENCH_WAL")
	if dir == "" {
		b.Skip("LOGSHIP_BENCH_WAL unset: run scripts/bench-compress")
	}
	segs := readSegments(b, dir)
	var raw float64
	for _, s := range segs {
		raw += float64(len(s))
	}
	// zstd level -> klauspost level: 1-2 fastest, 3 default, 4-9 better, 10-22 best.
	for _, level := range []int{1, 3, 4, 10} {
		for _, conc := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("level=%d/cores=%d", level, conc), func(b *testing.B) {
				opts := object.EncodeOptions{Compression: object.Zstd, Level: level, Concurrency: conc}
				var encs []*object.Encoded
				wall, cpu := slowest, slowest
				for b.Loop() {
					w0, c0 := time.Now(), cpuTime()
					encs = encodeAll(b, segs, opts)
					wall, cpu = min(wall, time.Since(w0)), min(cpu, cpuTime()-c0)
				}
				var body int64
				for _, e := range encs {
					body += e.Header.BodySize
				}
				b.StopTimer()
				b.ReportMetric(raw/float64(body), "ratio")
				b.ReportMetric(raw/wall.Seconds()/(1<<20), "enc-MiB/s")
				b.ReportMetric(raw/cpu.Seconds()/(1<<20), "enc-MiB/cpu-s")
				b.ReportMetric(raw/decodeCPU(b, encs).Seconds()/(1<<20), "dec-MiB/cpu-s")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

const slowest = time.Duration(1<<63 - 1)

func readSegments(b *testing.B, dir string) [][]byte {
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil || len(names) == 0 {
		b.Fatalf("no WAL segments in %s: %v", dir, err)
	}
	segs := make([][]byte, 0, len(names))
	for _, n := range names {
		s, err := os.ReadFile(n)
		if err != nil {
			b.Fatal(err)
		}
		segs = append(segs, s)
	}
	return segs
}

func encodeAll(b *testing.B, segs [][]byte, opts object.EncodeOptions) []*object.Encoded {
	encs := make([]*object.Encoded, len(segs))
	for i, s := range segs {
		enc, err := object.EncodeBytes(s, object.KindWAL, strconv.Itoa(i), nil, opts)
		if err != nil {
			b.Fatal(err)
		}
		encs[i] = enc
	}
	return encs
}

// decodeCPU reads every object back and returns the CPU time of the
// fastest of three passes.
func decodeCPU(b *testing.B, encs []*object.Encoded) time.Duration {
	buf := make([]byte, 256<<10)
	best := slowest
	for range 3 {
		c0 := cpuTime()
		for _, enc := range encs {
			rd, err := object.NewReader(enc.Reader())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.CopyBuffer(io.Discard, rd, buf); err != nil {
				b.Fatal(err)
			}
			rd.Close()
		}
		best = min(best, cpuTime()-c0)
	}
	return best
}

// cpuTime is the user + system time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
