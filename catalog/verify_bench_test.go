package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store/file"
)

// benchSegments is the archive size the issue asks about: 50,000 segments
// is 780 GiB of 16 MiB WAL, about a year of a busy cluster.
var benchSegments = envInt("LOGSHIP_BENCH_SEGMENTS", 50000)

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchStore builds a file:// store with benchSegments
// segment records and objects (tiny real objects: a shallow verify only
// lists them), a backup every 1,000 segments and a mark every 100. It lives
// in /dev/shm when there is one, because 100,000 fsynced creates on a disk
// would dwarf what is measured.
func benchStore(b *testing.B) (string, error) {
	parent := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		parent = "/dev/shm"
	}
	dir, err := os.MkdirTemp(parent, "logship-verify-bench-")
	if err != nil {
		return "", err
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	st, err := file.Open(dir)
	if err != nil {
		return dir, err
	}
	cat := catalog.New(st, "bench")
	ctx := context.Background()
	const segSize = 16 << 20
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 1, SegmentSize: segSize, Created: time.Now()}); err != nil {
		return dir, err
	}
	enc, err := object.Encode(bytes.NewReader(make([]byte, 64)), object.KindWAL, "x", nil, object.EncodeOptions{})
	if err != nil {
		return dir, err
	}
	work := make(chan uint64)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range work {
				name := pg.SegmentName(1, n, segSize)
				if err := st.Put(ctx, cat.WALKey(name), enc.Reader(), enc.Size()); err != nil {
					errs <- err
					return
				}
				if err := cat.AddWAL(ctx, catalog.WALRecord{Name: name, RawSize: segSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for n := uint64(1); n <= uint64(benchSegments); n++ {
		select {
		case work <- n:
		case err := <-errs:
			close(work)
			return dir, err
		}
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		return dir, err
	default:
	}
	for n := uint64(1); n+1 <= uint64(benchSegments); n += 1000 {
		id := fmt.Sprintf("b%06d", n)
		b := catalog.Backup{ID: id, Timeline: 1, SystemID: 1, StartLSN: pg.LSN(n*segSize + 0x28), EndLSN: pg.LSN((n+1)*segSize + 0x100),
			StartWAL: pg.SegmentName(1, n, segSize), EndWAL: pg.SegmentName(1, n+1, segSize), ManifestKey: cat.BackupPrefix(id) + "backup_manifest"}
		for _, key := range []string{cat.BackupPrefix(id) + "part-000001", b.ManifestKey} {
			if err := st.Put(ctx, key, enc.Reader(), enc.Size()); err != nil {
				return dir, err
			}
		}
		b.Parts = []catalog.BackupPart{{Key: cat.BackupPrefix(id) + "part-000001", RawSize: 64, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}}
		if err := cat.AddBackup(ctx, b); err != nil {
			return dir, err
		}
	}
	for n := uint64(50); n <= uint64(benchSegments); n += 100 {
		name := "m" + strconv.FormatUint(n, 10)
		if err := cat.ReserveMark(ctx, name); err != nil {
			return dir, err
		}
		if err := cat.AddMark(ctx, catalog.Mark{Name: name, LSN: pg.LSN(n*segSize + 0x500), Timeline: 1, Time: time.Now()}); err != nil {
			return dir, err
		}
	}
	return dir, nil
}

// BenchmarkVerifyShallow50k reports the time and the peak live heap of a
// shallow verify of benchSegments segments. b.Loop runs the function once,
// so the store is built once.
//
//	go test ./catalog -run '^$' -bench VerifyShallow -benchtime 3x
func BenchmarkVerifyShallow50k(b *testing.B) {
	dir, err := benchStore(b)
	if err != nil {
		b.Fatalf("build store in %s: %v", dir, err)
	}
	st, err := file.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	cat := catalog.New(st, "bench")
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		runtime.GC()
		stop := sampleHeap(&peak)
		rep, err := cat.Verify(context.Background(), catalog.VerifyOptions{})
		stop()
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK || rep.Segments != benchSegments || rep.Reachable != rep.Marks {
			b.Fatalf("bench store verified as broken: %d errors, %d segments, %d of %d marks: %+v", rep.Errors, rep.Segments, rep.Reachable, rep.Marks, firstProblems(rep))
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(benchSegments), "segments")
}

func firstProblems(rep *catalog.VerifyReport) []catalog.Problem {
	return rep.Problems[:min(3, len(rep.Problems))]
}

// sampleHeap records the largest live heap seen until stop is called.
func sampleHeap(peak *uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			*peak = max(*peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
