package object

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"slices"
	"strings"
)

// Version is the format version Encode writes. Readers refuse any other.
const Version = 1

// Limits of the format. Readers check each length against them before
// allocating anything.
const (
	MaxHeaderSize = 64 << 10 // whole header, magic to header CRC
	MaxNameLen    = 255      // Header.Name in bytes
	MaxSize       = 1 << 40  // RawSize and BodySize (1 TiB)
)

// magic opens every object. Like PNG's, it holds a byte above 0x7f and CR LF,
// so that a 7-bit or line-ending-converting transfer breaks it visibly.
const magic = "\x89LSO\r\n\x1a\n"

const (
	offVersion    = 8
	offHeaderSize = 12
	offBodyCRC    = 32
	offRawSHA256  = 36
	fixedSize     = 68 // magic through RawSHA256
	crcSize       = 4
	minHeaderSize = fixedSize + 1 + 2 + crcSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header describes an object. Encode fills it in; readers return it once its
// checksum and every field have been checked.
type Header struct {
	Version     uint8
	Kind        Kind
	Compression Compression
	Name        string            // original file name, e.g. 000000010000000000000003 (<=255 bytes)
	RawSize     int64             // size of the raw (decoded) bytes
	RawSHA256   [32]byte          // SHA-256 of the raw bytes
	BodySize    int64             // size of the stored body after the header
	BodyCRC32C  uint32            // CRC-32C (Castagnoli) of the stored body
	Meta        map[string]string // small key/value facts (e.g. "system_id", "timeline"); bounded total size
}

// ChecksumHex is RawSHA256 in lowercase hex, as sha256sum prints it.
func (h Header) ChecksumHex() string { return hex.EncodeToString(h.RawSHA256[:]) }

// ObjectSize is the size of the whole stored object this header starts:
// the header itself plus the body.
func (h Header) ObjectSize() int64 {
	n, _ := h.encodedSize()
	return int64(n) + h.BodySize
}

// encodedSize checks that name and meta fit the format and returns the size
// of the whole header.
func (h *Header) encodedSize() (int, error) {
	if len(h.Name) > MaxNameLen {
		return 0, formatErr("encode header", ErrHeaderTooLarge, "name is %d bytes, max %d", len(h.Name), MaxNameLen)
	}
	if len(h.Meta) > 0xffff {
		return 0, formatErr("encode header", ErrHeaderTooLarge, "%d meta entries, max %d", len(h.Meta), 0xffff)
	}
	n := minHeaderSize + len(h.Name)
	for k, v := range h.Meta {
		if k == "" || len(k) > 0xff || len(v) > 0xffff {
			return 0, formatErr("encode header", ErrHeaderTooLarge, "meta %.40q: key must be 1..255 bytes, value at most 65535", k)
		}
		n += 1 + len(k) + 2 + len(v)
		if n > MaxHeaderSize {
			return 0, formatErr("encode header", ErrHeaderTooLarge, "name and meta need more than %d bytes", MaxHeaderSize)
		}
	}
	return n, nil
}

// put writes the header into b, which is exactly encodedSize bytes long.
// Meta keys go in ascending order so that equal headers encode to equal bytes.
func (h *Header) put(b []byte) {
	le := binary.LittleEndian
	copy(b, magic)
	b[offVersion] = h.Version
	b[9] = byte(h.Kind)
	b[10] = byte(h.Compression)
	b[11] = 0 // flags
	le.PutUint32(b[offHeaderSize:], uint32(len(b)))
	le.PutUint64(b[16:], uint64(h.RawSize))
	le.PutUint64(b[24:], uint64(h.BodySize))
	le.PutUint32(b[offBodyCRC:], h.BodyCRC32C)
	copy(b[offRawSHA256:fixedSize], h.RawSHA256[:])
	p := b[fixedSize:fixedSize]
	p = append(p, byte(len(h.Name)))
	p = append(p, h.Name...)
	p = le.AppendUint16(p, uint16(len(h.Meta)))
	for _, k := range slices.Sorted(maps.Keys(h.Meta)) {
		v := h.Meta[k]
		p = append(p, byte(len(k)))
		p = append(p, k...)
		p = le.AppendUint16(p, uint16(len(v)))
		p = append(p, v...)
	}
	end := len(b) - crcSize
	le.PutUint32(b[end:], crc32.Checksum(b[:end], castagnoli))
}

// ReadHeader reads and checks the header only, leaving r at the first body
// byte. It does not look at the body: use Verify or a Reader for that.
func ReadHeader(r io.Reader) (Header, error) {
	const op = "read header"
	// Magic and version first, so that a future version is free to change
	// everything after them.
	var pre [offHeaderSize + 4]byte
	n, err := io.ReadFull(r, pre[:offVersion+1])
	if err != nil && !isEOF(err) {
		return Header{}, readErr(op, err)
	}
	if n == 0 || !strings.HasPrefix(magic, string(pre[:min(n, len(magic))])) {
		return Header{}, formatErr(op, ErrNotObject, "no object magic")
	}
	if err != nil {
		return Header{}, formatErr(op, ErrTruncated, "input ends after %d bytes", n)
	}
	if v := pre[offVersion]; v != Version {
		return Header{}, formatErr(op, ErrUnknownVersion, "version %d, this logship reads version %d", v, Version)
	}
	if _, err := io.ReadFull(r, pre[offVersion+1:]); err != nil {
		return Header{}, truncOrReadErr(op, err)
	}
	size := binary.LittleEndian.Uint32(pre[offHeaderSize:])
	switch {
	case size > MaxHeaderSize:
		return Header{}, formatErr(op, ErrHeaderTooLarge, "header is %d bytes, max %d", size, MaxHeaderSize)
	case size < minHeaderSize:
		return Header{}, formatErr(op, ErrCorruptHeader, "header is %d bytes, min %d", size, minHeaderSize)
	}
	b := make([]byte, size)
	copy(b, pre[:])
	if _, err := io.ReadFull(r, b[len(pre):]); err != nil {
		return Header{}, truncOrReadErr(op, err)
	}
	return parseHeader(b)
}

// parseHeader checks the CRC and every field of a whole header b.
func parseHeader(b []byte) (Header, error) {
	const op = "read header"
	le := binary.LittleEndian
	end := len(b) - crcSize
	if got, want := crc32.Checksum(b[:end], castagnoli), le.Uint32(b[end:]); got != want {
		return Header{}, formatErr(op, ErrCorruptHeader, "crc32c %08x, stored %08x", got, want)
	}
	h := Header{
		Version:     b[offVersion],
		Kind:        Kind(b[9]),
		Compression: Compression(b[10]),
		RawSize:     int64(le.Uint64(b[16:])),
		BodySize:    int64(le.Uint64(b[24:])),
		BodyCRC32C:  le.Uint32(b[offBodyCRC:]),
	}
	copy(h.RawSHA256[:], b[offRawSHA256:fixedSize])
	switch {
	case h.Kind == 0:
		return Header{}, formatErr(op, ErrCorruptHeader, "kind 0")
	case !h.Compression.known():
		return Header{}, formatErr(op, ErrCorruptHeader, "unknown %s", h.Compression)
	case b[11] != 0:
		return Header{}, formatErr(op, ErrCorruptHeader, "unknown flags %02x", b[11])
	case h.RawSize < 0 || h.RawSize > MaxSize:
		return Header{}, formatErr(op, ErrCorruptHeader, "raw size %d out of range", h.RawSize)
	case h.BodySize < 0 || h.BodySize > MaxSize:
		return Header{}, formatErr(op, ErrCorruptHeader, "body size %d out of range", h.BodySize)
	case h.Compression == None && h.BodySize != h.RawSize:
		return Header{}, formatErr(op, ErrCorruptHeader, "uncompressed body of %d bytes for raw size %d", h.BodySize, h.RawSize)
	}
	f := fields{b: b[fixedSize:end]}
	h.Name = string(f.bytes(int(f.u8())))
	count := int(f.u16())
	var prev string
	for i := range count {
		k := string(f.bytes(int(f.u8())))
		v := string(f.bytes(int(f.u16())))
		if f.short {
			break
		}
		// Strictly ascending keys: one encoding per header, no duplicates.
		if k == "" || (i > 0 && k <= prev) {
			return Header{}, formatErr(op, ErrCorruptHeader, "meta key %.40q out of order", k)
		}
		if h.Meta == nil {
			h.Meta = make(map[string]string, min(count, 64))
		}
		h.Meta[k], prev = v, k
	}
	if f.short || len(f.b) != 0 {
		return Header{}, formatErr(op, ErrCorruptHeader, "fields do not fill the header (%d bytes)", len(b))
	}
	return h, nil
}

// fields reads variable-length header fields; a read past the end sets short
// and yields zeros, so callers check once at the end.
type fields struct {
	b     []byte
	short bool
}

func (f *fields) bytes(n int) []byte {
	if n > len(f.b) {
		f.short, f.b = true, nil
		return nil
	}
	p := f.b[:n]
	f.b = f.b[n:]
	return p
}

func (f *fields) u8() uint8 {
	if p := f.bytes(1); p != nil {
		return p[0]
	}
	return 0
}

func (f *fields) u16() uint16 {
	if p := f.bytes(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func isEOF(err error) bool { return err == io.EOF || err == io.ErrUnexpectedEOF }

func truncOrReadErr(op string, err error) error {
	if isEOF(err) {
		return formatErr(op, ErrTruncated, "input ends inside the header")
	}
	return readErr(op, err)
}

// readErr wraps a failure of the underlying reader: not a format problem,
// so no sentinel of this package.
func readErr(op string, err error) error { return fmt.Errorf("object: %s: %w", op, err) }
