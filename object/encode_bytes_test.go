package object_test

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"

	"github.com/logship/logship/object"
)

// EncodeBytes makes objects that decode exactly as Encode's do.
func TestEncodeBytesRoundTrip(t *testing.T) {
	meta := map[string]string{"timeline": "1"}
	for _, raw := range [][]byte{{}, {7}, walLike(3<<20+5, 3), randomBytes(200<<10, 4)} {
		for _, c := range []object.Compression{object.None, object.Zstd} {
			enc, err := object.EncodeBytes(raw, object.KindWAL, "000000010000000000000003", meta, object.EncodeOptions{Compression: c})
			if err != nil {
				t.Fatal(err)
			}
			h := enc.Header
			if h.RawSize != int64(len(raw)) || h.RawSHA256 != sha256.Sum256(raw) || h.Compression != c || h.Meta["timeline"] != "1" {
				t.Fatalf("header %+v", h)
			}
			if h.ObjectSize() != enc.Size() {
				t.Fatalf("ObjectSize %d, object is %d bytes", h.ObjectSize(), enc.Size())
			}
			rd, err := object.NewReader(bytes.NewReader(enc.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rd)
			rd.Close()
			if err != nil || !bytes.Equal(got, raw) {
				t.Fatalf("%s, %d bytes: decoded %d bytes, %v", c, len(raw), len(got), err)
			}
			other := encode(t, raw, object.EncodeOptions{Compression: c})
			if other.Header.RawSHA256 != h.RawSHA256 {
				t.Fatal("Encode and EncodeBytes disagree on the checksum")
			}
		}
	}
}

func BenchmarkEncodeBytes(b *testing.B) {
	raw := walLike(segmentSize, 13)
	b.SetBytes(segmentSize)
	for b.Loop() {
		if _, err := object.EncodeBytes(raw, object.KindWAL, "x", nil, object.EncodeOptions{Compression: object.Zstd}); err != nil {
			b.Fatal(err)
		}
	}
}
