package object_test

import (
	"io"
	"testing"

	"github.com/logship/logship/object"
)

const segmentSize = 16 << 20

func BenchmarkEncode(b *testing.B) {
	raw := walLike(segmentSize, 13)
	for _, bc := range []struct {
		name string
		opts object.EncodeOptions
	}{
		{"zstd-3", object.EncodeOptions{Compression: object.Zstd}},
		{"zstd-1", object.EncodeOptions{Compression: object.Zstd, Level: 1}},
		{"zstd-3-sequential", object.EncodeOptions{Compression: object.Zstd, Concurrency: 1}},
		{"none", object.EncodeOptions{Compression: object.None}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(segmentSize)
			var enc *object.Encoded
			for b.Loop() {
				enc = encode(b, raw, bc.opts)
			}
			b.ReportMetric(float64(segmentSize)/float64(enc.Header.BodySize), "ratio")
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := walLike(segmentSize, 14)
	for _, c := range []object.Compression{object.Zstd, object.None} {
		b.Run(c.String(), func(b *testing.B) {
			enc := encode(b, raw, object.EncodeOptions{Compression: c})
			buf := make([]byte, 256<<10)
			b.SetBytes(segmentSize)
			for b.Loop() {
				rd, err := object.NewReader(enc.Reader())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, rd, buf); err != nil {
					b.Fatal(err)
				}
				rd.Close()
			}
		})
	}
}
