package object_test

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/logship/logship/object"
)

// goldenObjects are objects of format version 1, written by the encoder of
// commit 2bd7851 into testdata/objects/. They never change: every later
// reader must decode them to the same header and the same raw bytes. A
// failure here means stored objects would no longer read back; fix the
// reader, never the files.
var goldenObjects = []struct {
	file        string
	kind        object.Kind
	compression object.Compression
	name        string
	headerSize  int
	rawSize     int64
	bodySize    int64
	bodyCRC     uint32
	sha256      string
	meta        map[string]string
}{
	{"wal-zstd.obj", object.KindWAL, object.Zstd, "000000010000000000000003", 165, 65536, 6042, 0x0d30537f,
		"fb78e53005bdd01808ed6c11db5c3eb7f3394c8e635069103fcd3556a0228056",
		map[string]string{"segment_size": "16777216", "system_id": "7301234567890123456", "timeline": "1"}},
	{"wal-none.obj", object.KindWAL, object.None, "000000010000000000000004.partial", 173, 8192, 8192, 0xcc109d68,
		"55ccabf1cd7f38691985612350a26c48b33febe1e687c9aab1ad029e32e92151",
		map[string]string{"segment_size": "16777216", "system_id": "7301234567890123456", "timeline": "1"}},
	{"history-zstd.obj", object.KindHistory, object.Zstd, "00000003.history", 103, 81, 63, 0x02aae6ef,
		"2b2de61758728a8407c35bd3749552c1a8f3f09817793cf35910fc770a548f8e", map[string]string{"timeline": "3"}},
	{"backup-label-zstd.obj", object.KindBackupLabel, object.Zstd, "000000010000000000000007.00000028.backup", 127, 316, 181, 0x8970e6f4,
		"e5618ea75da1de7a0df7a03ab56d3a066410b3a5124016ebf2b37374f2ca876d", map[string]string{"timeline": "1"}},
	{"backup-part-zstd.obj", object.KindBackupPart, object.Zstd, "part-000001", 86, 3072, 665, 0xab00827c,
		"4f9add3036d6ae6f68a4a7b883b6af1ce750e9f2a38967336d10ce93b163d12c", nil},
	{"meta-zstd.obj", object.KindMeta, object.Zstd, "m1", 77, 39, 48, 0x20b6da4f,
		"32fba8e1bb8468192b88978388a0476a9341c8a71403a3d347819d1b3b7fb356", nil},
	{"empty-none.obj", object.KindMeta, object.None, "", 75, 0, 0, 0,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", nil},
}

func TestGoldenObjects(t *testing.T) {
	for _, g := range goldenObjects {
		t.Run(g.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "objects", g.file))
			if err != nil {
				t.Fatal(err)
			}
			// The fixed layout of docs/FORMAT.md, read by hand.
			if string(b[:8]) != "\x89LSO\r\n\x1a\n" || b[8] != 1 || object.Kind(b[9]) != g.kind ||
				object.Compression(b[10]) != g.compression || b[11] != 0 ||
				int(binary.LittleEndian.Uint32(b[12:])) != g.headerSize ||
				int64(len(b)) != int64(g.headerSize)+g.bodySize {
				t.Fatalf("fixed header fields differ from FORMAT.md: % x", b[:16])
			}

			h, err := object.ReadHeader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			want := object.Header{Version: 1, Kind: g.kind, Compression: g.compression, Name: g.name,
				RawSize: g.rawSize, BodySize: g.bodySize, BodyCRC32C: g.bodyCRC, Meta: g.meta}
			sum, _ := hex.DecodeString(g.sha256)
			copy(want.RawSHA256[:], sum)
			if len(h.Meta) == 0 {
				h.Meta = nil
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("header\n got %+v\nwant %+v", h, want)
			}

			rd, err := object.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			raw, err := io.ReadAll(rd)
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256.Sum256(raw); hex.EncodeToString(got[:]) != g.sha256 || int64(len(raw)) != g.rawSize {
				t.Errorf("raw bytes: %d, sha256 %x; want %d, %s", len(raw), got, g.rawSize, g.sha256)
			}
			checkGoldenContent(t, g.kind, raw)
		})
	}
}

// checkGoldenContent looks inside the raw bytes where they have a shape of
// their own.
func checkGoldenContent(t *testing.T, kind object.Kind, raw []byte) {
	t.Helper()
	switch kind {
	case object.KindHistory:
		want, err := os.ReadFile(filepath.Join("..", "testdata", "pg", "15", "00000003.history"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, want) {
			t.Errorf("history object holds %q, want testdata/pg/15/00000003.history", raw)
		}
	case object.KindBackupPart:
		tr := tar.NewReader(bytes.NewReader(raw))
		hdr, err := tr.Next()
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if hdr.Name != "PG_VERSION" || string(body) != "15\n" {
			t.Errorf("first tar entry %s = %q, want PG_VERSION = \"15\\n\"", hdr.Name, body)
		}
	}
}

// Each seed of testdata/fuzz/FuzzReader/ meets the fate its name says, so
// that the seeds stay what the README claims they are.
func TestFuzzSeedFiles(t *testing.T) {
	for name, want := range map[string]error{
		"history": nil, "meta": nil, "backup-label": nil, "unknown-kind": nil,
		"truncated-header": object.ErrTruncated,
		"truncated-body":   object.ErrTruncated,
		"trailing-data":    object.ErrTrailingData,
		"version-2":        object.ErrUnknownVersion,
		"header-too-large": object.ErrHeaderTooLarge,
		"header-crc":       object.ErrCorruptHeader,
		"body-bitflip":     object.ErrChecksumMismatch,
		"raw-size-lies":    object.ErrSizeMismatch,
	} {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "testdata", "fuzz", "FuzzReader", name))
			if err != nil {
				t.Fatal(err)
			}
			rd, err := object.NewReader(bytes.NewReader(b))
			if err == nil {
				_, err = io.Copy(io.Discard, rd)
				rd.Close()
			}
			if !errors.Is(err, want) || (want == nil) != (err == nil) {
				t.Errorf("got %v, want %v", err, want)
			}
		})
	}
}

// addSeedFiles gives FuzzReader the seeds of testdata/fuzz/FuzzReader/:
// small objects of the current format and one of each failure mode, as raw
// bytes, each once as is and once with its header CRC recomputed.
func addSeedFiles(f *testing.F) {
	dir := filepath.Join("..", "testdata", "fuzz", "FuzzReader")
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
}
