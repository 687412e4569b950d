package catalog_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// Small segments keep the fixtures fast; everything else is as shipped.
const fxSegSize = 1 << 20

const fxSystem = 7000000000000000001

type fixture struct {
	t   *testing.T
	dir string
	st  store.Store
	cat *catalog.Catalog
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st, err := file.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, dir: dir, st: st, cat: catalog.New(st, "src")}
	if _, err := f.cat.ClaimSource(context.Background(), catalog.Source{SystemID: fxSystem, SegmentSize: fxSegSize, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return f
}

func fxSeg(tli pg.TimelineID, n uint64) string { return pg.SegmentName(tli, n, fxSegSize) }

// put stores raw under the WAL name and records it, as wal-push does.
func (f *fixture) put(name string, kind object.Kind, raw []byte, meta map[string]string) {
	f.t.Helper()
	enc, err := object.Encode(bytes.NewReader(raw), kind, name, meta, object.EncodeOptions{Compression: object.Zstd, Concurrency: 1})
	if err != nil {
		f.t.Fatal(err)
	}
	ctx := context.Background()
	if err := f.st.Put(ctx, f.cat.WALKey(name), enc.Reader(), enc.Size()); err != nil {
		f.t.Fatal(err)
	}
	if err := f.cat.AddWAL(ctx, catalog.WALRecord{Name: name, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}); err != nil {
		f.t.Fatal(err)
	}
}

func segmentBytes(tli pg.TimelineID, segNo, system uint64) []byte {
	b := make([]byte, fxSegSize)
	for i := pg.SegmentHeaderSize; i < len(b); i++ {
		b[i] = byte(i/512) ^ byte(segNo)
	}
	le := binary.LittleEndian
	le.PutUint16(b[0:], 0xD110)
	le.PutUint16(b[2:], 0x0002)
	le.PutUint32(b[4:], uint32(tli))
	le.PutUint64(b[8:], segNo*fxSegSize)
	le.PutUint64(b[24:], system)
	le.PutUint32(b[32:], fxSegSize)
	le.PutUint32(b[36:], 8192)
	return b
}

func (f *fixture) segments(tli pg.TimelineID, first, last uint64) {
	for n := first; n <= last; n++ {
		f.segmentOf(tli, n, fxSystem)
	}
}

func (f *fixture) segmentOf(tli pg.TimelineID, n, system uint64) {
	f.put(fxSeg(tli, n), object.KindWAL, segmentBytes(tli, n, system), map[string]string{
		catalog.MetaSystemID: strconv.FormatUint(system, 10), catalog.MetaSegmentSize: strconv.Itoa(fxSegSize)})
}

func (f *fixture) history(tli pg.TimelineID, parent pg.TimelineID, switchAt pg.LSN) {
	f.put(pg.HistoryFileName(tli), object.KindHistory, []byte(fmt.Sprintf("%d\t%s\tno recovery target specified\n", parent, switchAt)), nil)
}

// backup stores a small tar stream in parts with a matching manifest and
// records a backup from segment startSeg to endSeg.
func (f *fixture) backup(id string, tli pg.TimelineID, startSeg, endSeg uint64) catalog.Backup {
	f.t.Helper()
	files := map[string]string{"backup_label": "START WAL LOCATION: x\n", "global/pg_control": strings.Repeat("c", 8192), "base/1/1259": strings.Repeat("relation ", 9000)}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	var entries []string
	for _, name := range []string{"backup_label", "base/1/1259", "global/pg_control"} {
		body := files[name]
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], crc32.Checksum([]byte(body), crc32.MakeTable(crc32.Castagnoli)))
		entries = append(entries, fmt.Sprintf(`{ "Path": %q, "Size": %d, "Last-Modified": "2026-01-01 00:00:00 GMT", "Checksum-Algorithm": "CRC32C", "Checksum": "%x" }`, name, len(body), crc))
	}
	tw.Close()
	man := "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n" + strings.Join(entries, ",\n") + " ],\n"
	sum := sha256.Sum256([]byte(man))
	man += fmt.Sprintf("\"Manifest-Checksum\": \"%x\"}\n", sum)

	ctx := context.Background()
	b := catalog.Backup{ID: id, Source: "src", SystemID: fxSystem, Timeline: tli,
		StartLSN: pg.LSN(startSeg*fxSegSize + 0x28), EndLSN: pg.LSN(endSeg*fxSegSize + 0x100),
		StartWAL: fxSeg(tli, startSeg), EndWAL: fxSeg(tli, endSeg), Compression: "zstd"}
	raw := tarBuf.Bytes()
	const partSize = 32 << 10
	for i := 0; len(raw) > 0; i++ {
		n := min(partSize, len(raw))
		name := fmt.Sprintf("part-%06d", i+1)
		enc, err := object.Encode(bytes.NewReader(raw[:n]), object.KindBackupPart, name, nil, object.EncodeOptions{Compression: object.Zstd, Concurrency: 1})
		if err != nil {
			f.t.Fatal(err)
		}
		key := f.cat.BackupPrefix(id) + name
		if err := f.st.Put(ctx, key, enc.Reader(), enc.Size()); err != nil {
			f.t.Fatal(err)
		}
		b.Parts = append(b.Parts, catalog.BackupPart{Key: key, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()})
		raw = raw[n:]
	}
	enc, _ := object.Encode(strings.NewReader(man), object.KindMeta, "backup_manifest", nil, object.EncodeOptions{Compression: object.Zstd, Concurrency: 1})
	b.ManifestKey, b.ManifestSHA256 = f.cat.BackupPrefix(id)+"backup_manifest", enc.Header.ChecksumHex()
	if err := f.st.Put(ctx, b.ManifestKey, enc.Reader(), enc.Size()); err != nil {
		f.t.Fatal(err)
	}
	if err := f.cat.AddBackup(ctx, b); err != nil {
		f.t.Fatal(err)
	}
	return b
}

func (f *fixture) mark(name string, tli pg.TimelineID, segNo uint64) {
	f.t.Helper()
	ctx := context.Background()
	if err := f.cat.ReserveMark(ctx, name); err != nil {
		f.t.Fatal(err)
	}
	l := pg.LSN(segNo*fxSegSize + 0x500)
	if err := f.cat.AddMark(ctx, catalog.Mark{Name: name, LSN: l, Timeline: tli, Time: time.Now()}); err != nil {
		f.t.Fatal(err)
	}
}

// file is the path of a store key on disk.
func (f *fixture) file(key string) string { return filepath.Join(f.dir, filepath.FromSlash(key)) }

func (f *fixture) removeObject(key string) {
	f.t.Helper()
	if err := os.Remove(f.file(key)); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) removeRecord(name string) {
	f.t.Helper()
	ctx := context.Background()
	var keys []string
	f.st.List(ctx, "src/catalog/wal/"+name+"~", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	if len(keys) != 1 {
		f.t.Fatalf("records of %s: %v", name, keys)
	}
	f.st.Delete(ctx, keys[0])
}

// rewrite changes an object's bytes in place, as bit rot or a bad copy would.
func (f *fixture) rewrite(key string, change func([]byte) []byte) {
	f.t.Helper()
	p := f.file(key)
	b, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, change(b), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) verify(opts catalog.VerifyOptions) *catalog.VerifyReport {
	f.t.Helper()
	rep, err := f.cat.Verify(context.Background(), opts)
	if err != nil {
		f.t.Fatalf("verify: %v", err)
	}
	return rep
}

// healthy builds: timeline 1 segments 1-12, backups b1 (2-3) and b2 (8-9),
// marks m4, m7, m11.
func healthy(t *testing.T) *fixture {
	f := newFixture(t)
	f.segments(1, 1, 12)
	f.backup("b1", 1, 2, 3)
	f.backup("b2", 1, 8, 9)
	f.mark("m4", 1, 4)
	f.mark("m7", 1, 7)
	f.mark("m11", 1, 11)
	return f
}

func problemCodes(rep *catalog.VerifyReport) []string {
	var out []string
	for _, p := range rep.Problems {
		out = append(out, string(p.Severity)+" "+p.Code+" "+p.Object)
	}
	return out
}

func findCheck(rep *catalog.VerifyReport, kind, name string) catalog.Check {
	for _, c := range rep.Checks {
		if c.Kind == kind && c.Name == name {
			return c
		}
	}
	return catalog.Check{Kind: "absent"}
}

func hasProblem(rep *catalog.VerifyReport, code, object string) bool {
	for _, p := range rep.Problems {
		if p.Code == code && (object == "" || p.Object == object) {
			return true
		}
	}
	return false
}

func TestVerifyHealthy(t *testing.T) {
	t.Parallel()
	f := healthy(t)
	for _, deep := range []bool{false, true} {
		rep := f.verify(catalog.VerifyOptions{Deep: deep})
		if !rep.OK || len(rep.Problems) != 0 {
			t.Fatalf("deep=%v: healthy store reported %v", deep, problemCodes(rep))
		}
		if rep.Backups != 2 || rep.Marks != 3 || rep.Reachable != 3 || rep.Timelines != 1 || rep.Segments != 12 {
			t.Fatalf("deep=%v: counts %+v", deep, rep)
		}
		if rep.Newest == nil || rep.Newest.Name != fxSeg(1, 12) && rep.Newest.AgeSeconds > 60 {
			t.Fatalf("newest segment %+v", rep.Newest)
		}
		for _, c := range rep.Checks {
			if !c.OK || c.Summary == "" && c.Kind != catalog.CheckStore {
				t.Fatalf("check %+v", c)
			}
		}
	}
}

// Each break, made on its own fixture, is found and named; what it does not
// break stays whole.
func TestVerifyBreaks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		deep   bool
		break_ func(f *fixture)
		want   []string // code object
		ok     []string // checks still whole, "kind name"
		notOK  []string
	}{
		{
			name:   "segment missing between backup end and mark",
			break_: func(f *fixture) { f.removeObject(f.cat.WALKey(fxSeg(1, 10))); f.removeRecord(fxSeg(1, 10)) },
			want:   []string{"wal-gap " + fxSeg(1, 10), "mark-unreachable m11"},
			ok:     []string{"mark m4", "mark m7", "backup b1", "backup b2"},
			notOK:  []string{"mark m11", "timeline 1"},
		},
		{
			name:   "segment missing inside a backup",
			break_: func(f *fixture) { f.removeObject(f.cat.WALKey(fxSeg(1, 9))); f.removeRecord(fxSeg(1, 9)) },
			want:   []string{"backup-wal-missing " + fxSeg(1, 9), "mark-unreachable m11"},
			ok:     []string{"backup b1", "mark m4", "mark m7"},
			notOK:  []string{"backup b2", "mark m11"},
		},
		{
			name:   "backup part missing",
			break_: func(f *fixture) { f.removeObject("src/backups/b2/part-000002") },
			want:   []string{"missing-part src/backups/b2/part-000002"},
			ok:     []string{"backup b1", "mark m11", "mark m4"},
			notOK:  []string{"backup b2"},
		},
		{
			name:   "record without object",
			break_: func(f *fixture) { f.removeObject(f.cat.WALKey(fxSeg(1, 5))) },
			want:   []string{"record-without-object src/wal/" + fxSeg(1, 5), "wal-gap " + fxSeg(1, 5), "mark-unreachable m7"},
			ok:     []string{"mark m4", "mark m11"},
			notOK:  []string{"mark m7", "store records"},
		},
		{
			name: "object truncated",
			break_: func(f *fixture) {
				f.rewrite(f.cat.WALKey(fxSeg(1, 11)), func(b []byte) []byte { return b[:len(b)-10] })
			},
			want:  []string{"size-mismatch src/wal/" + fxSeg(1, 11), "mark-unreachable m11"},
			notOK: []string{"mark m11"},
		},
		{
			name: "flipped byte",
			deep: true,
			break_: func(f *fixture) {
				f.rewrite(f.cat.WALKey(fxSeg(1, 6)), func(b []byte) []byte { b[len(b)-20] ^= 0x40; return b })
			},
			want:  []string{"corrupt-object src/wal/" + fxSeg(1, 6), "mark-unreachable m7"},
			ok:    []string{"mark m4", "mark m11"},
			notOK: []string{"mark m7"},
		},
		{
			name: "flipped byte in a backup part",
			deep: true,
			break_: func(f *fixture) {
				f.rewrite("src/backups/b1/part-000001", func(b []byte) []byte { b[len(b)-20] ^= 0x40; return b })
			},
			want:  []string{"corrupt-object src/backups/b1/part-000001"},
			ok:    []string{"backup b2", "mark m11"},
			notOK: []string{"backup b1", "mark m4", "mark m7"},
		},
		{
			name: "segment from another cluster",
			deep: true,
			break_: func(f *fixture) {
				f.removeObject(f.cat.WALKey(fxSeg(1, 12)))
				f.removeRecord(fxSeg(1, 12))
				f.segmentOf(1, 12, 99)
			},
			want:  []string{"wrong-system src/wal/" + fxSeg(1, 12)},
			ok:    []string{"mark m11"},
			notOK: []string{"timeline 1"},
		},
		{
			name: "object without record is only a warning",
			break_: func(f *fixture) {
				f.removeRecord(fxSeg(1, 12))
				old := time.Now().Add(-time.Hour)
				os.Chtimes(f.file(f.cat.WALKey(fxSeg(1, 12))), old, old)
			},
			want: []string{"object-without-record src/wal/" + fxSeg(1, 12)},
			ok:   []string{"mark m11", "timeline 1", "store records"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := healthy(t)
			tt.break_(f)
			rep := f.verify(catalog.VerifyOptions{Deep: tt.deep})
			for _, w := range tt.want {
				code, obj, _ := strings.Cut(w, " ")
				if !hasProblem(rep, code, obj) {
					t.Errorf("no %s problem for %s; got %v", code, obj, problemCodes(rep))
				}
			}
			for _, c := range tt.ok {
				kind, name, _ := strings.Cut(c, " ")
				if ch := findCheck(rep, kind, name); !ch.OK {
					t.Errorf("%s reported broken: %+v", c, ch)
				}
			}
			for _, c := range tt.notOK {
				kind, name, _ := strings.Cut(c, " ")
				if ch := findCheck(rep, kind, name); ch.OK {
					t.Errorf("%s reported whole: %+v", c, ch)
				}
			}
			wantOK := strings.HasPrefix(tt.name, "object without record")
			if rep.OK != wantOK {
				t.Errorf("report OK = %v, want %v; %v", rep.OK, wantOK, problemCodes(rep))
			}
		})
	}
}

// Timeline 2 branches off timeline 1 in segment 7; marks on both.
func TestVerifyTimelines(t *testing.T) {
	t.Parallel()
	build := func(t *testing.T, withHistory bool) *fixture {
		f := newFixture(t)
		f.segments(1, 1, 7)
		f.backup("b1", 1, 2, 3)
		f.mark("m1", 1, 5)
		if withHistory {
			f.history(2, 1, pg.LSN(7*fxSegSize+0x3000))
		}
		f.segments(2, 7, 10)
		f.mark("m2", 2, 9)
		return f
	}
	t.Run("whole", func(t *testing.T) {
		t.Parallel()
		rep := build(t, true).verify(catalog.VerifyOptions{Deep: true})
		if !rep.OK {
			t.Fatalf("problems: %v", problemCodes(rep))
		}
		if c := findCheck(rep, "mark", "m2"); !strings.Contains(c.Summary, "from backup b1") {
			t.Fatalf("m2: %+v", c)
		}
	})
	t.Run("history missing", func(t *testing.T) {
		t.Parallel()
		rep := build(t, false).verify(catalog.VerifyOptions{})
		if rep.OK || !hasProblem(rep, catalog.CodeMissingHistory, "00000002.history") {
			t.Fatalf("problems: %v", problemCodes(rep))
		}
		if findCheck(rep, "mark", "m2").OK || !findCheck(rep, "mark", "m1").OK || findCheck(rep, "timeline", "2").OK || !findCheck(rep, "timeline", "1").OK {
			t.Fatalf("checks: %+v", rep.Checks)
		}
	})
	t.Run("switch segment of the child missing", func(t *testing.T) {
		t.Parallel()
		f := build(t, true)
		f.removeObject(f.cat.WALKey(fxSeg(2, 7)))
		f.removeRecord(fxSeg(2, 7))
		rep := f.verify(catalog.VerifyOptions{})
		// Timeline 1's own copy of segment 7 does not help: recovery reads the child's.
		if !hasProblem(rep, catalog.CodeWALGap, fxSeg(2, 7)) || findCheck(rep, "mark", "m2").OK || !findCheck(rep, "mark", "m1").OK {
			t.Fatalf("problems: %v", problemCodes(rep))
		}
	})
}

func TestVerifyNothingShipped(t *testing.T) {
	t.Parallel()
	st, _ := file.Open(t.TempDir())
	if _, err := catalog.New(st, "none").Verify(context.Background(), catalog.VerifyOptions{}); err == nil {
		t.Fatal("verify of an empty source succeeded")
	}
}

func TestVerifyWithoutBackup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.segments(1, 1, 3)
	rep := f.verify(catalog.VerifyOptions{})
	if rep.OK || !hasProblem(rep, catalog.CodeNoBackup, "") || findCheck(rep, "timeline", "1").OK {
		t.Fatalf("problems %v checks %+v", problemCodes(rep), rep.Checks)
	}
}

// A deep run records what it checked; the next one downloads only what is
// new, and --full everything again.
func TestVerifyDeepIncremental(t *testing.T) {
	t.Parallel()
	f := healthy(t)
	objects := 12 // segments, and per backup its parts and manifest
	for _, id := range []string{"b1", "b2"} {
		b, _ := f.cat.FindBackup(context.Background(), id)
		objects += len(b.Parts) + 1
	}
	steps := []struct {
		name       string
		before     func()
		opts       catalog.VerifyOptions
		downloaded int
	}{
		{"first", nil, catalog.VerifyOptions{Deep: true}, objects},
		{"again", nil, catalog.VerifyOptions{Deep: true}, 0},
		{"new segments", func() { f.segments(1, 13, 15) }, catalog.VerifyOptions{Deep: true}, 3},
		{"nothing new", nil, catalog.VerifyOptions{Deep: true}, 0},
		{"full", nil, catalog.VerifyOptions{Deep: true, Full: true}, objects + 3},
		{"after full", nil, catalog.VerifyOptions{Deep: true}, 0},
		{"no record", func() { f.segments(1, 16, 16) }, catalog.VerifyOptions{Deep: true, NoRecord: true}, 1},
		{"not recorded", nil, catalog.VerifyOptions{Deep: true}, 1},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		rep := f.verify(s.opts)
		if !rep.OK {
			t.Fatalf("%s: %v", s.name, problemCodes(rep))
		}
		if rep.DeepStats.Downloaded != s.downloaded {
			t.Fatalf("%s: downloaded %d objects, want %d (%+v)", s.name, rep.DeepStats.Downloaded, s.downloaded, rep.DeepStats)
		}
	}
	// A corrupted progress record costs a re-check, never a wrong verdict.
	var keys []string
	f.st.List(context.Background(), "src/verify/", func(oi store.ObjectInfo) error { keys = append(keys, oi.Key); return nil })
	for _, k := range keys {
		f.rewrite(k, func(b []byte) []byte { b[len(b)/2] ^= 1; return b })
	}
	rep := f.verify(catalog.VerifyOptions{Deep: true})
	if !rep.OK || rep.DeepStats.Downloaded != objects+4 || !hasProblem(rep, catalog.CodeProgress, "") {
		t.Fatalf("after corrupt progress: downloaded %d, problems %v", rep.DeepStats.Downloaded, problemCodes(rep))
	}
}

func TestVerifyManifestMismatch(t *testing.T) {
	t.Parallel()
	f := healthy(t)
	// Replace b2 by a backup whose one part is whole and matches its record
	// but whose files are not the manifest's.
	b, err := f.cat.FindBackup(context.Background(), "b2")
	if err != nil {
		t.Fatal(err)
	}
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	body := "START WAL LOCATION: tampered\n"
	tw.WriteHeader(&tar.Header{Name: "backup_label", Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
	tw.Write([]byte(body))
	tw.Close()
	enc, _ := object.Encode(bytes.NewReader(tarBuf.Bytes()), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	f.removeObject(b.Parts[0].Key)
	f.st.Put(context.Background(), b.Parts[0].Key, enc.Reader(), enc.Size())
	f.st.Delete(context.Background(), "src/catalog/backups/b2.json")
	b.ID = "b3"
	b.Parts = []catalog.BackupPart{{Key: b.Parts[0].Key, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size()}}
	f.cat.AddBackup(context.Background(), b)
	rep := f.verify(catalog.VerifyOptions{Deep: true})
	if !hasProblem(rep, catalog.CodeManifestMismatch, b.ManifestKey) || findCheck(rep, "backup", "b3").OK {
		t.Fatalf("problems %v", problemCodes(rep))
	}
}
