package object_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"testing"
	"testing/iotest"

	"github.com/logship/logship/object"
)

// headerSize reads the header length field (docs/FORMAT.md: offset 12, u32).
func headerSize(b []byte) int { return int(binary.LittleEndian.Uint32(b[12:16])) }

// resealHeader recomputes the header CRC-32C after a deliberate edit, so the
// edit reaches the field checks instead of stopping at the CRC.
func resealHeader(b []byte) {
	end := headerSize(b) - 4
	binary.LittleEndian.PutUint32(b[end:], crc32.Checksum(b[:end], crc32.MakeTable(crc32.Castagnoli)))
}

func TestCorruptObjects(t *testing.T) {
	raw := walLike(100<<10, 7)
	for _, c := range []object.Compression{object.None, object.Zstd} {
		good := encode(t, raw, object.EncodeOptions{Compression: c}).Bytes()
		hs := headerSize(good)
		last := len(good) - 1
		edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
		sealed := func(f func(b []byte)) []byte {
			return edit(func(b []byte) []byte { f(b); resealHeader(b); return b })
		}
		le := binary.LittleEndian
		tests := []struct {
			name string
			obj  []byte
			want []error // any of these
		}{
			{"empty input", nil, []error{object.ErrNotObject}},
			{"text", []byte("000000010000000000000003 is a WAL file name, not an object"), []error{object.ErrNotObject}},
			{"bare zstd frame", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0}, []error{object.ErrNotObject}},
			{"truncated in magic", good[:5], []error{object.ErrTruncated}},
			{"truncated after version", good[:9], []error{object.ErrTruncated}},
			{"truncated in header size", good[:14], []error{object.ErrTruncated}},
			{"truncated in name", good[:72], []error{object.ErrTruncated}},
			{"truncated in header crc", good[:hs-1], []error{object.ErrTruncated}},
			{"truncated at body start", good[:hs], []error{object.ErrTruncated}},
			{"truncated in body", good[:hs+1+(len(good)-hs)/2], []error{object.ErrTruncated}},
			{"truncated last byte", good[:last], []error{object.ErrTruncated}},
			{"unknown version", edit(func(b []byte) []byte { b[8] = 2; return b }), []error{object.ErrUnknownVersion}},
			{"version zero", edit(func(b []byte) []byte { b[8] = 0; return b }), []error{object.ErrUnknownVersion}},
			{"header size 1 MiB", edit(func(b []byte) []byte { le.PutUint32(b[12:], 1<<20); return b }), []error{object.ErrHeaderTooLarge}},
			{"header size max", edit(func(b []byte) []byte { le.PutUint32(b[12:], 0xffffffff); return b }), []error{object.ErrHeaderTooLarge}},
			{"header size tiny", edit(func(b []byte) []byte { le.PutUint32(b[12:], 8); return b }), []error{object.ErrCorruptHeader}},
			{"header size off by one", edit(func(b []byte) []byte { le.PutUint32(b[12:], uint32(hs-1)); return b }), []error{object.ErrCorruptHeader}},
			{"flipped kind", edit(func(b []byte) []byte { b[9] ^= 4; return b }), []error{object.ErrCorruptHeader}},
			{"flipped raw size", edit(func(b []byte) []byte { b[17] ^= 1; return b }), []error{object.ErrCorruptHeader}},
			{"flipped sha", edit(func(b []byte) []byte { b[40] ^= 0x80; return b }), []error{object.ErrCorruptHeader}},
			{"flipped name", edit(func(b []byte) []byte { b[70] ^= 1; return b }), []error{object.ErrCorruptHeader}},
			{"flipped crc", edit(func(b []byte) []byte { b[hs-1] ^= 1; return b }), []error{object.ErrCorruptHeader}},
			{"sealed kind zero", sealed(func(b []byte) { b[9] = 0 }), []error{object.ErrCorruptHeader}},
			{"sealed unknown compression", sealed(func(b []byte) { b[10] = 9 }), []error{object.ErrCorruptHeader}},
			{"sealed flags", sealed(func(b []byte) { b[11] = 1 }), []error{object.ErrCorruptHeader}},
			{"sealed negative raw size", sealed(func(b []byte) { le.PutUint64(b[16:], 1<<63) }), []error{object.ErrCorruptHeader}},
			{"sealed raw size 2 TiB", sealed(func(b []byte) { le.PutUint64(b[16:], 2<<40) }), []error{object.ErrCorruptHeader}},
			{"sealed body size 2 TiB", sealed(func(b []byte) { le.PutUint64(b[24:], 2<<40) }), []error{object.ErrCorruptHeader}},
			{"sealed name too long", sealed(func(b []byte) { b[68] = 255 }), []error{object.ErrCorruptHeader}},
			{"sealed meta count high", sealed(func(b []byte) { b[69+int(b[68])]++ }), []error{object.ErrCorruptHeader}},
			{"sealed meta count low", sealed(func(b []byte) { b[69+int(b[68])]-- }), []error{object.ErrCorruptHeader}},
			{"sealed meta order", sealed(func(b []byte) {
				// Keys are "empty", "system_id", "timeline": make the first sort last.
				copy(b[69+int(b[68])+3:], "zzzzz")
			}), []error{object.ErrCorruptHeader}},
			{"sealed raw size short", sealed(func(b []byte) { le.PutUint64(b[16:], le.Uint64(b[16:])-1) }), nil},
			{"sealed body size short", sealed(func(b []byte) { le.PutUint64(b[24:], le.Uint64(b[24:])-1) }), []error{object.ErrCorruptHeader, object.ErrChecksumMismatch}},
			{"sealed body crc", sealed(func(b []byte) { b[32] ^= 1 }), []error{object.ErrChecksumMismatch}},
			{"sealed raw size long", sealed(func(b []byte) { le.PutUint64(b[16:], le.Uint64(b[16:])+1) }), nil},
			{"sealed wrong sha", sealed(func(b []byte) { b[40] ^= 1 }), []error{object.ErrChecksumMismatch}},
			{"flipped first body byte", edit(func(b []byte) []byte { b[hs] ^= 1; return b }), []error{object.ErrChecksumMismatch}},
			{"flipped mid body byte", edit(func(b []byte) []byte { b[hs+(len(b)-hs)/2] ^= 0x10; return b }), []error{object.ErrChecksumMismatch}},
			{"flipped last body byte", edit(func(b []byte) []byte { b[last] ^= 0x80; return b }), []error{object.ErrChecksumMismatch}},
			{"trailing garbage", append(bytes.Clone(good), 0), []error{object.ErrTrailingData}},
			{"two objects", append(bytes.Clone(good), good...), []error{object.ErrTrailingData}},
		}
		for _, tt := range tests {
			t.Run(c.String()+"/"+tt.name, func(t *testing.T) {
				_, err := object.Verify(bytes.NewReader(tt.obj))
				if err == nil {
					t.Fatal("corrupt object verified")
				}
				var fe *object.FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("err %v (%T) is not a *FormatError", err, err)
				}
				if tt.want == nil {
					tt.want = []error{object.ErrSizeMismatch, object.ErrCorruptHeader} // header says none needs equal sizes
				}
				if !isAny(err, tt.want) {
					t.Fatalf("err = %v, want one of %v", err, tt.want)
				}
				t.Log(err)
			})
		}
	}
}

// TestEveryFlipIsCaught flips each bit position class of every byte of small
// objects: no single-byte corruption may decode silently.
func TestEveryFlipIsCaught(t *testing.T) {
	raw := walLike(20<<10, 8)
	for _, c := range []object.Compression{object.None, object.Zstd} {
		t.Run(c.String(), func(t *testing.T) {
			good := encode(t, raw, object.EncodeOptions{Compression: c}).Bytes()
			hs := headerSize(good)
			for i := range good {
				for _, mask := range []byte{0x01, 0x80, 0xff} {
					b := bytes.Clone(good)
					b[i] ^= mask
					_, err := object.Verify(bytes.NewReader(b))
					want := []error{object.ErrChecksumMismatch, object.ErrSizeMismatch}
					if i < hs {
						want = []error{object.ErrNotObject, object.ErrUnknownVersion, object.ErrHeaderTooLarge,
							object.ErrCorruptHeader, object.ErrTruncated}
					}
					if !isAny(err, want) {
						t.Fatalf("byte %d ^ %#x: err = %v", i, mask, err)
					}
				}
			}
		})
	}
}

// TestReadFailurePassesThrough: a failing store is not a corrupt object, so
// the caller can tell "retry" from "the stored object is bad".
func TestReadFailurePassesThrough(t *testing.T) {
	storeErr := errors.New("connection reset")
	good := encode(t, walLike(64<<10, 9), object.EncodeOptions{Compression: object.Zstd}).Bytes()
	for _, at := range []int{3, 30, headerSize(good) + 10} {
		r := io.MultiReader(bytes.NewReader(good[:at]), iotest.ErrReader(storeErr))
		_, err := object.Verify(r)
		var fe *object.FormatError
		if !errors.Is(err, storeErr) || errors.As(err, &fe) {
			t.Errorf("fail at %d: err = %v, want the store's error, not a format error", at, err)
		}
	}
}

func TestVerifyReturnsHeaderOfBadBody(t *testing.T) {
	enc := encode(t, walLike(64<<10, 10), object.EncodeOptions{Compression: object.Zstd})
	b := bytes.Clone(enc.Bytes())
	b[len(b)-1] ^= 1
	h, err := object.Verify(bytes.NewReader(b))
	if err == nil || h.Name != enc.Header.Name || h.RawSHA256 != enc.Header.RawSHA256 {
		t.Fatalf("Verify = %+v, %v", h, err)
	}
}

func isAny(err error, targets []error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
