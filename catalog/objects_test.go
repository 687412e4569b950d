package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/object"
)

// encodeSegment encodes segment segNo of system as wal-push does.
func encodeSegment(t *testing.T, name string, segNo, system uint64) (*object.Encoded, []byte) {
	t.Helper()
	raw := segmentBytes(1, segNo, system)
	meta := map[string]string{catalog.MetaSystemID: strconv.FormatUint(system, 10)}
	enc, err := object.EncodeBytes(raw, object.KindWAL, name, meta, object.EncodeOptions{Compression: object.Zstd, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	return enc, raw
}

func recordOf(name string, enc *object.Encoded, system uint64) catalog.WALRecord {
	return catalog.WALRecord{Name: name, RawSize: enc.Header.RawSize, SHA256: enc.Header.ChecksumHex(), StoredSize: enc.Size(), SystemID: system}
}

// readWAL opens name and reads it whole, as wal-fetch does.
func readWAL(f *fixture, name string) ([]byte, error) {
	o, err := f.cat.OpenWAL(context.Background(), name)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return io.ReadAll(o)
}

func TestOpenWALChecksTheRecord(t *testing.T) {
	ctx := context.Background()
	const other = fxSystem + 1
	name := fxSeg(1, 3)
	tests := []struct {
		name   string
		object func(t *testing.T) *object.Encoded            // what is stored under name
		record func(enc *object.Encoded) []catalog.WALRecord // what the catalog records
		want   error                                         // nil: served
	}{
		{"matches its record",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord {
				return []catalog.WALRecord{recordOf(name, enc, fxSystem)}
			},
			nil},
		{"no record yet (object stored, record lost in a crash)",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(*object.Encoded) []catalog.WALRecord { return nil },
			nil},
		{"swapped in from another cluster",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, other); return enc },
			func(*object.Encoded) []catalog.WALRecord {
				enc, _ := encodeSegment(t, name, 3, fxSystem)
				return []catalog.WALRecord{recordOf(name, enc, fxSystem)}
			},
			catalog.ErrRecordMismatch},
		{"record of another cluster's system",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord { return []catalog.WALRecord{recordOf(name, enc, other)} },
			catalog.ErrWrongSystem},
		{"wrong size",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord {
				r := recordOf(name, enc, fxSystem)
				r.RawSize--
				return []catalog.WALRecord{r}
			},
			catalog.ErrRecordMismatch},
		{"wrong stored size",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord {
				r := recordOf(name, enc, fxSystem)
				r.StoredSize++
				return []catalog.WALRecord{r}
			},
			catalog.ErrRecordMismatch},
		{"wrong sha256",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord {
				r := recordOf(name, enc, fxSystem)
				r.SHA256 = "00" + r.SHA256[2:]
				return []catalog.WALRecord{r}
			},
			catalog.ErrRecordMismatch},
		{"one of two records matches",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, name, 3, fxSystem); return enc },
			func(enc *object.Encoded) []catalog.WALRecord {
				r := recordOf(name, enc, fxSystem)
				old := r
				old.SHA256 = "00" + r.SHA256[2:]
				return []catalog.WALRecord{old, r}
			},
			nil},
		{"object of another name",
			func(t *testing.T) *object.Encoded { enc, _ := encodeSegment(t, fxSeg(1, 4), 4, fxSystem); return enc },
			func(*object.Encoded) []catalog.WALRecord { return nil },
			catalog.ErrRecordMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			enc := tt.object(t)
			if err := f.cat.PutWAL(ctx, name, enc); err != nil {
				t.Fatal(err)
			}
			for _, r := range tt.record(enc) {
				if err := f.cat.AddWAL(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readWAL(f, name)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("OpenWAL: %v", err)
				}
				if len(got) != int(enc.Header.RawSize) {
					t.Fatalf("read %d bytes, want %d", len(got), enc.Header.RawSize)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if errors.Is(err, catalog.ErrNotExist) {
				t.Fatalf("a mismatch must not read as absent (the end of the archive): %v", err)
			}
		})
	}
}

// Absent is the end of the archive only when the catalog agrees: a
// recorded object that is missing is damage.
func TestOpenWALAbsent(t *testing.T) {
	f := newFixture(t)
	name := fxSeg(1, 5)
	if _, err := f.cat.OpenWAL(context.Background(), name); !errors.Is(err, catalog.ErrNotExist) {
		t.Fatalf("neither object nor record: got %v, want ErrNotExist", err)
	}
	enc, _ := encodeSegment(t, name, 5, fxSystem)
	if err := f.cat.AddWAL(context.Background(), recordOf(name, enc, fxSystem)); err != nil {
		t.Fatal(err)
	}
	_, err := f.cat.OpenWAL(context.Background(), name)
	if !errors.Is(err, catalog.ErrMissingObject) || errors.Is(err, catalog.ErrNotExist) {
		t.Fatalf("recorded but missing: got %v, want ErrMissingObject and not ErrNotExist", err)
	}
}

func TestPutWALCreateOnly(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	name := fxSeg(1, 6)
	if has, err := f.cat.HasWAL(ctx, name); has || err != nil {
		t.Fatalf("HasWAL before put = %v, %v", has, err)
	}
	enc, raw := encodeSegment(t, name, 6, fxSystem)
	if err := f.cat.PutWAL(ctx, name, enc); err != nil {
		t.Fatal(err)
	}
	if has, err := f.cat.HasWAL(ctx, name); !has || err != nil {
		t.Fatalf("HasWAL after put = %v, %v", has, err)
	}
	other, _ := encodeSegment(t, name, 6, fxSystem+1)
	if err := f.cat.PutWAL(ctx, name, other); !errors.Is(err, catalog.ErrExist) {
		t.Fatalf("second put: got %v, want ErrExist", err)
	}
	h, err := f.cat.WALHeader(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if h.RawSize != int64(len(raw)) || h.ChecksumHex() != enc.Header.ChecksumHex() {
		t.Fatalf("the stored object changed: %+v", h)
	}
}

func TestOpenPartChecksTheRecord(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	obj, err := object.Encode(bytes.NewReader([]byte("tar bytes")), object.KindBackupPart, "part-000001", nil, object.EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	part, err := f.cat.PutPart(ctx, "20261127T050000.000Z", obj)
	if err != nil {
		t.Fatal(err)
	}
	o, err := f.cat.OpenPart(ctx, part)
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	for _, change := range []func(p *catalog.BackupPart){
		func(p *catalog.BackupPart) { p.RawSize++ },
		func(p *catalog.BackupPart) { p.StoredSize++ },
		func(p *catalog.BackupPart) { p.SHA256 = "00" + p.SHA256[2:] },
	} {
		p := part
		change(&p)
		if _, err := f.cat.OpenPart(ctx, p); !errors.Is(err, catalog.ErrRecordMismatch) {
			t.Errorf("record %+v: got %v, want ErrRecordMismatch", p, err)
		}
	}
}

func TestProbeWritable(t *testing.T) {
	f := newFixture(t)
	key, err := f.cat.ProbeWritable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Stat(context.Background(), key); !errors.Is(err, catalog.ErrNotExist) {
		t.Fatalf("probe %s left behind (%v)", key, err)
	}
}
