package object_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/logship/logship/object"
)

// FuzzReader feeds arbitrary bytes to the reader. With reseal set, the
// header CRC is recomputed first, so that mutations get past it to the field
// checks and the zstd decoder instead of all failing as ErrCorruptHeader.
func FuzzReader(f *testing.F) {
	// Small seeds: the fuzzer minimizes every input that finds new
	// coverage, and minimizing tens of KiB takes most of a short run.
	seeds := [][]byte{walLike(1500, 11), randomBytes(200, 12), {}, []byte("x")}
	for _, raw := range seeds {
		for _, c := range []object.Compression{object.None, object.Zstd} {
			b := encode(f, raw, object.EncodeOptions{Compression: c, Level: 1}).Bytes()
			f.Add(b, false)
			f.Add(b, true)
		}
	}
	f.Add([]byte("\x89LSO\r\n\x1a\n\x01"), false)
	addSeedFiles(f)

	const maxOut = 64 << 20 // an expanding body is cut off here, not an error
	buf := make([]byte, 64<<10)
	f.Fuzz(func(t *testing.T, data []byte, reseal bool) {
		if reseal && len(data) >= 16 {
			if hs := int(binary.LittleEndian.Uint32(data[12:16])); hs >= 8 && hs <= len(data) {
				resealHeader(data)
			}
		}
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		h, herr := object.ReadHeader(bytes.NewReader(data))
		rd, err := object.NewReader(bytes.NewReader(data))
		if (herr == nil) != (err == nil) {
			t.Fatalf("ReadHeader err %v, NewReader err %v", herr, err)
		}
		if err != nil {
			checkFormatError(t, err)
			return
		}
		defer rd.Close()
		if h.RawSize < 0 || h.RawSize > object.MaxSize || h.BodySize < 0 || len(h.Name) > object.MaxNameLen {
			t.Fatalf("accepted header %+v", h)
		}
		sum := sha256.New()
		var n int64
		for n < maxOut {
			m, err := rd.Read(buf)
			sum.Write(buf[:m])
			n += int64(m)
			if err == io.EOF {
				if n != h.RawSize || !bytes.Equal(sum.Sum(nil), h.RawSHA256[:]) {
					t.Fatalf("decoded %d bytes %x, header says %d %x", n, sum.Sum(nil), h.RawSize, h.RawSHA256)
				}
				break
			}
			if err != nil {
				checkFormatError(t, err)
				break
			}
		}

		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
			t.Fatalf("decoding %d input bytes allocated %d MiB", len(data), alloc>>20)
		}
	})
}

func checkFormatError(t *testing.T, err error) {
	t.Helper()
	var fe *object.FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err %v (%T) is not a *FormatError", err, err)
	}
}
