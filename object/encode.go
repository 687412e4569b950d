package object

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// EncodeOptions tune Encode. The zero value stores the body as is; with
// Compression: Zstd the other zero fields mean level 3 on GOMAXPROCS
// goroutines.
type EncodeOptions struct {
	Compression Compression
	Level       int // zstd level 1..22 mapped onto klauspost levels; 0 = default (3)
	Concurrency int // encoder goroutines; 0 = GOMAXPROCS
}

// Encoded is a complete object in memory: header followed by body.
type Encoded struct {
	Header Header
	b      []byte
}

// Bytes returns the whole object. The caller must not modify it.
func (e *Encoded) Bytes() []byte { return e.b }

// Size is len(Bytes()), the number of bytes to store.
func (e *Encoded) Size() int64 { return int64(len(e.b)) }

// Reader returns a new io.ReadSeeker over Bytes(), e.g. for a store Put that
// may rewind to retry.
func (e *Encoded) Reader() *bytes.Reader { return bytes.NewReader(e.b) }

// encoderWindow is small because WAL is local (records refer to recent pages)
// and because the parallel encoder splits input into jobs of four windows:
// 2 MiB windows make a 16 MiB segment two jobs on a 2-core box.
const encoderWindow = 2 << 20

// Encode reads src to EOF and returns the whole object. The raw SHA-256 is
// computed in the same pass, on the read path, while earlier input is
// compressed on other goroutines. Memory is the body plus encoder buffers.
//
// Equal input, kind, name, meta and options give equal bytes, but
// Concurrency 1 compresses differently from Concurrency > 1 (and 0 means
// GOMAXPROCS): to recognise a retried push, compare RawSHA256, not bytes.
func Encode(src io.Reader, kind Kind, name string, meta map[string]string, opts EncodeOptions) (*Encoded, error) {
	level, err := encoderLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	switch {
	case !kind.known():
		return nil, fmt.Errorf("encode %s: unknown %s", name, kind)
	case !opts.Compression.known():
		return nil, fmt.Errorf("encode %s: unknown %s", name, opts.Compression)
	case opts.Concurrency < 0:
		return nil, fmt.Errorf("encode %s: concurrency %d < 0", name, opts.Concurrency)
	}
	h := Header{Version: Version, Kind: kind, Compression: opts.Compression, Name: name}
	if len(meta) > 0 {
		h.Meta = maps.Clone(meta)
	}
	hsize, err := h.encodedSize()
	if err != nil {
		return nil, err
	}

	// The body goes right after room for the header, which is filled in last:
	// its fields are fixed-width, so its size is known before the body is.
	buf := bytes.NewBuffer(make([]byte, hsize, hsize+sizeHint(src, opts.Compression)))
	hr := &hashReader{r: src, h: sha256.New()}
	if opts.Compression == None {
		_, err = buf.ReadFrom(hr)
	} else {
		err = compress(buf, hr, level, opts.Concurrency)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	b := buf.Bytes()
	h.RawSize = hr.n
	h.BodySize = int64(len(b) - hsize)
	hr.h.Sum(h.RawSHA256[:0])
	h.BodyCRC32C = crc32.Checksum(b[hsize:], castagnoli)
	if h.BodySize > MaxSize {
		return nil, fmt.Errorf("encode %s: body of %d bytes exceeds %d", name, h.BodySize, int64(MaxSize))
	}
	h.put(b[:hsize])
	return &Encoded{Header: h, b: b}, nil
}

func encoderLevel(level int) (zstd.EncoderLevel, error) {
	switch {
	case level == 0 || level == 3:
		return zstd.SpeedDefault, nil
	case level >= 1 && level <= 2:
		return zstd.SpeedFastest, nil
	case level >= 4 && level <= 9:
		return zstd.SpeedBetterCompression, nil
	case level >= 10 && level <= 22:
		return zstd.SpeedBestCompression, nil
	}
	return 0, fmt.Errorf("zstd level %d out of range 1..22", level)
}

// sizeHint guesses the body size when src tells its size, so that the
// buffer rarely grows (each growth copies the body so far).
func sizeHint(src io.Reader, c Compression) int {
	var n int64
	switch s := src.(type) {
	case interface{ Len() int }:
		n = int64(s.Len())
	case *os.File:
		if fi, err := s.Stat(); err == nil && fi.Mode().IsRegular() {
			n = fi.Size()
		}
	}
	if c == Zstd {
		n /= 8 // WAL compresses ~10x; anything worse grows the buffer once or twice
	}
	return int(min(max(n, 0), 256<<20)) + 512
}

func compress(dst io.Writer, src io.Reader, level zstd.EncoderLevel, concurrency int) error {
	if concurrency == 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	pool := encoderPool(encoderKey{level, concurrency})
	enc, _ := pool.Get().(*zstd.Encoder)
	if enc == nil {
		var err error
		enc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(level),
			zstd.WithEncoderConcurrency(concurrency),
			zstd.WithConcurrentBlocks(concurrency > 1),
			zstd.WithWindowSize(encoderWindow),
		)
		if err != nil {
			return fmt.Errorf("zstd: %w", err)
		}
	}
	enc.Reset(dst)
	if _, err := enc.ReadFrom(src); err != nil {
		// Reset stops any job goroutines; the encoder is then dropped.
		enc.Reset(io.Discard)
		return err
	}
	if err := enc.Close(); err != nil {
		enc.Reset(io.Discard)
		return fmt.Errorf("zstd: %w", err)
	}
	// Closed encoders hold no goroutines, so the pool may drop them.
	pool.Put(enc)
	return nil
}

type encoderKey struct {
	level       zstd.EncoderLevel
	concurrency int
}

var encoderPools sync.Map // encoderKey -> *sync.Pool

func encoderPool(k encoderKey) *sync.Pool {
	if p, ok := encoderPools.Load(k); ok {
		return p.(*sync.Pool)
	}
	p, _ := encoderPools.LoadOrStore(k, new(sync.Pool))
	return p.(*sync.Pool)
}

// hashReader hashes what it reads, and refuses input beyond MaxSize.
type hashReader struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.n > MaxSize {
		return n, fmt.Errorf("input exceeds %d bytes", int64(MaxSize))
	}
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("read source: %w", err)
	}
	return n, err
}
