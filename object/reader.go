package object

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// MaxWindow bounds the zstd window a reader accepts, and with it the
// decoder's memory. Encode uses a much smaller window.
const MaxWindow = 64 << 20

// Reader decodes an object stream into its raw bytes, checking size and
// SHA-256 as it goes. See the package doc for why bytes read before the final
// Read must be treated as provisional.
type Reader struct {
	h    Header
	src  io.Reader
	body bodyReader
	dec  *zstd.Decoder
	out  io.Reader // &body or dec
	// plain is the decrypted body of an encrypted object, which dec reads.
	plain io.Reader
	sha   hash.Hash
	n     int64 // raw bytes handed out
	err   error // sticky: io.EOF once everything checked out
}

// ReadOptions tune NewReaderOpts.
type ReadOptions struct {
	// Decrypt opens encrypted objects; without it they are refused with
	// ErrEncrypted (clear objects never need it).
	Decrypt Decrypter
}

// NewReader reads and validates only the header; the body is checked while
// it is read. r is not closed by Reader.Close. An encrypted object is
// refused: see NewReaderOpts.
func NewReader(r io.Reader) (*Reader, error) { return NewReaderOpts(r, ReadOptions{}) }

// NewReaderOpts is NewReader that can also read encrypted objects. It
// fails at once when opts.Decrypt has no identity for the object.
func NewReaderOpts(r io.Reader, opts ReadOptions) (*Reader, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return nil, err
	}
	rd := &Reader{h: h, src: r, sha: sha256.New()}
	rd.body = bodyReader{r: r, left: h.BodySize}
	rd.out = &rd.body
	var zsrc io.Reader = &rd.body
	if h.Compression == ZstdAge {
		if opts.Decrypt == nil {
			return nil, fmt.Errorf("object: %s: %w", h.Name, ErrEncrypted)
		}
		if rd.plain, err = opts.Decrypt.Open(&rd.body); err != nil {
			return nil, rd.openErr(err)
		}
		zsrc = rd.plain
	}
	if h.Compression != None {
		dec, err := getDecoder()
		if err != nil {
			return nil, err
		}
		rd.dec, rd.out = dec, dec
		if err := dec.Reset(zsrc); err != nil {
			rd.err = rd.bodyErr(err)
		}
	}
	return rd, nil
}

// openErr says why an encrypted body could not be opened: no identity for
// it, a short or failing store, or a damaged encryption header.
func (r *Reader) openErr(err error) error {
	switch {
	case errors.Is(err, ErrNoIdentity):
		return fmt.Errorf("object: %s (recipients %s): %w", r.h.Name, r.h.Meta[MetaRecipients], err)
	case r.body.truncated || r.body.err != nil:
		return r.bodyErr(err)
	}
	return &FormatError{Op: "decrypt body", Err: fmt.Errorf("%w: %w", ErrChecksumMismatch, err)}
}

// Header returns the object's header.
func (r *Reader) Header() Header { return r.h }

// Read returns raw bytes. Where it would return io.EOF, it first checks that
// the body was whole, decoded to RawSize bytes with the header's SHA-256, and
// that nothing follows it; if not, it returns a *FormatError instead.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		// Some readers spin on empty reads; don't pass them on.
		return 0, nil
	}
	n, err := r.out.Read(p)
	r.sha.Write(p[:n])
	r.n += int64(n)
	switch {
	case r.n > r.h.RawSize:
		// Stop early: a hostile body must not make us decode 1 TiB.
		r.err = formatErr("decode body", ErrSizeMismatch, "body decodes to more than %d bytes", r.h.RawSize)
	case err == io.EOF:
		r.err = r.finish()
	case err != nil:
		r.err = r.bodyErr(err)
	}
	if r.err != nil {
		return n, r.err
	}
	return n, nil
}

// finish checks everything once the body is decoded; io.EOF means all is well.
func (r *Reader) finish() error {
	const op = "decode body"
	if r.plain != nil {
		// Let the decrypter reach the end of its stream (and check it).
		var one [1]byte
		if n, err := io.ReadFull(r.plain, one[:]); n > 0 {
			return formatErr(op, ErrChecksumMismatch, "decrypted bytes after the end of the compressed stream")
		} else if err != io.EOF {
			return r.bodyErr(err)
		}
	}
	if r.body.left != 0 {
		// The zstd stream ended inside the body, so the rest is not zstd.
		return formatErr(op, ErrChecksumMismatch, "%d bytes after the end of the compressed stream", r.body.left)
	}
	// Checked before the content: zstd may ignore a damaged bit, and a
	// damaged stored byte must be caught even if the raw bytes come out right.
	if r.body.crc != r.h.BodyCRC32C {
		return formatErr(op, ErrChecksumMismatch, "body crc32c %08x, header says %08x", r.body.crc, r.h.BodyCRC32C)
	}
	if r.n != r.h.RawSize {
		return formatErr(op, ErrSizeMismatch, "body decodes to %d bytes, header says %d", r.n, r.h.RawSize)
	}
	var sum [sha256.Size]byte
	if r.sha.Sum(sum[:0]); sum != r.h.RawSHA256 {
		return formatErr(op, ErrChecksumMismatch, "sha256 %x, header says %x", sum, r.h.RawSHA256)
	}
	var one [1]byte
	switch n, err := io.ReadFull(r.src, one[:]); {
	case n > 0:
		return formatErr("read body", ErrTrailingData, "bytes follow the %d-byte body", r.h.BodySize)
	case err != io.EOF:
		return readErr("read body", err)
	}
	return io.EOF
}

// bodyErr says why reading the body failed, in order of what is most useful
// to the user: a short object, a failing store, or a corrupt body.
func (r *Reader) bodyErr(err error) error {
	switch {
	case r.body.truncated:
		return formatErr("read body", ErrTruncated, "body ends after %d of %d bytes", r.h.BodySize-r.body.left, r.h.BodySize)
	case r.body.err != nil:
		return readErr("read body", r.body.err)
	case r.plain != nil:
		return &FormatError{Op: "decode body", Err: fmt.Errorf("%w: decrypt or zstd: %w", ErrChecksumMismatch, err)}
	case r.dec != nil:
		return &FormatError{Op: "decode body", Err: fmt.Errorf("%w: zstd: %w", ErrChecksumMismatch, err)}
	}
	return readErr("read body", err)
}

// Close releases the decoder. It does not close the underlying reader.
func (r *Reader) Close() error {
	if r.dec != nil {
		putDecoder(r.dec)
		r.dec = nil
	}
	r.err = errClosed
	r.out, r.plain = nil, nil
	return nil
}

// Verify decodes the whole object from r, discards the raw bytes and checks
// everything a Reader checks. The header is returned whenever it was read,
// even if the body is bad.
func Verify(r io.Reader) (Header, error) {
	rd, err := NewReader(r)
	if err != nil {
		return Header{}, err
	}
	defer rd.Close()
	buf := make([]byte, 128<<10)
	for {
		if _, err := rd.Read(buf); err != nil {
			if err == io.EOF {
				return rd.h, nil
			}
			return rd.h, err
		}
	}
}

// VerifyStored checks what can be checked without decoding: the header,
// the body's CRC-32C and, on an encrypted object, the SHA-256 of the stored
// body; and that nothing follows the body. It needs no identity.
func VerifyStored(r io.Reader) (Header, error) {
	h, err := ReadHeader(r)
	if err != nil {
		return Header{}, err
	}
	body := &bodyReader{r: r, left: h.BodySize}
	sha := sha256.New()
	if _, err := io.CopyBuffer(sha, body, make([]byte, 128<<10)); err != nil {
		if body.truncated {
			return h, formatErr("read body", ErrTruncated, "body ends after %d of %d bytes", h.BodySize-body.left, h.BodySize)
		}
		return h, readErr("read body", err)
	}
	if body.crc != h.BodyCRC32C {
		return h, formatErr("read body", ErrChecksumMismatch, "body crc32c %08x, header says %08x", body.crc, h.BodyCRC32C)
	}
	if want, ok := h.Meta[MetaBodySHA256]; ok {
		if got := hex.EncodeToString(sha.Sum(nil)); got != want {
			return h, formatErr("read body", ErrChecksumMismatch, "stored body sha256 %s, header says %s", got, want)
		}
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return h, formatErr("read body", ErrTrailingData, "bytes follow the %d-byte body", h.BodySize)
	case err != io.EOF:
		return h, readErr("read body", err)
	}
	return h, nil
}

// bodyReader reads at most left bytes from r and remembers why it stopped.
type bodyReader struct {
	r         io.Reader
	left      int64
	crc       uint32 // CRC-32C of the body bytes read so far
	truncated bool   // r ended before the body did
	err       error  // r failed
}

var errClosed = errors.New("object: read after close")

var errBodyTruncated = errors.New("body truncated")

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	b.crc = crc32.Update(b.crc, castagnoli, p[:n])
	switch {
	case err == io.EOF && b.left > 0:
		b.truncated = true
		return n, errBodyTruncated
	case err == io.EOF:
		return n, nil
	case err != nil:
		b.err = err
	}
	return n, err
}

// Decoders run synchronously (concurrency 1): no goroutines, so a pooled
// decoder the GC drops leaks nothing, and memory stays one window per reader.
var decoders sync.Pool

func getDecoder() (*zstd.Decoder, error) {
	if d, ok := decoders.Get().(*zstd.Decoder); ok {
		return d, nil
	}
	d, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(MaxWindow),
		zstd.WithDecoderMaxMemory(MaxWindow),
	)
	if err != nil {
		return nil, fmt.Errorf("object: zstd: %w", err)
	}
	return d, nil
}

func putDecoder(d *zstd.Decoder) {
	// Reset(nil) drops the reference to the object's reader.
	_ = d.Reset(nil)
	decoders.Put(d)
}
