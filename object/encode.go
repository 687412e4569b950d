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
	// Encrypt, when set, seals the zstd-compressed body for its recipients
	// (compression zstd+age, whatever Compression says).
	Encrypt Encrypter
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
	h, hsize, level, err := newHeader(kind, name, meta, opts)
	if err != nil {
		return nil, err
	}
	// The body goes right after room for the header, which is filled in last:
	// its fields are fixed-width, so its size is known before the body is.
	buf := bytes.NewBuffer(make([]byte, hsize, hsize+sizeHint(src, opts.Compression)))
	hr := &hashReader{r: src, h: sha256.New()}
	if h.Compression == None {
		_, err = buf.ReadFrom(hr)
	} else {
		err = compress(buf, hr, level, opts.Concurrency)
	}
	b := buf.Bytes()
	if err == nil && opts.Encrypt != nil {
		b, err = seal(b, hsize, opts.Encrypt)
	}
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", name, err)
	}
	var sum [32]byte
	hr.h.Sum(sum[:0])
	return finish(h, b, hsize, hr.n, sum)
}

// EncodeBytes is Encode for input already in memory, such as a WAL segment
// or a backup part. The SHA-256 runs on its own goroutine while zstd
// compresses the whole input in one call, so an object costs about the
// longer of the two rather than their sum, and nothing is copied twice.
// It compresses one zstd frame per core (opts.Concurrency cores when set),
// so a caller that encodes several inputs at once sets Concurrency to 1.
func EncodeBytes(raw []byte, kind Kind, name string, meta map[string]string, opts EncodeOptions) (*Encoded, error) {
	h, hsize, level, err := newHeader(kind, name, meta, opts)
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > MaxSize {
		return nil, fmt.Errorf("encode %s: input exceeds %d bytes", name, int64(MaxSize))
	}
	sumc := make(chan [32]byte, 1)
	go func() { sumc <- sha256.Sum256(raw) }()
	var b []byte
	if h.Compression == None {
		b = append(make([]byte, hsize, hsize+len(raw)), raw...)
	} else {
		b, err = compressFrames(raw, make([]byte, hsize, hsize+len(raw)/8+512), level, opts.Concurrency)
		if err == nil && opts.Encrypt != nil {
			b, err = seal(b, hsize, opts.Encrypt)
		}
		if err != nil {
			<-sumc
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
	}
	return finish(h, b, hsize, int64(len(raw)), <-sumc)
}

// frameMin is the smallest slice of input worth a frame (and a core) of its
// own: below it, setting up another encoder costs more than it saves.
const frameMin = 4 << 20

// compressFrames appends raw to dst as one zstd frame per core, compressed
// at once; zstd readers decode concatenated frames as one stream. On WAL that
// compresses poorly (bulk loads, full-page images) this nearly halves the
// time on two cores; the frames lose little, as the window is 2 MiB anyway.
func compressFrames(raw, dst []byte, level zstd.EncoderLevel, cores int) ([]byte, error) {
	if cores == 0 {
		cores = runtime.GOMAXPROCS(0)
	}
	n := max(1, min(cores, len(raw)/frameMin))
	outs := make([][]byte, n)
	errs := make([]error, n)
	chunk := (len(raw) + n - 1) / n
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := raw[i*chunk : min(len(raw), (i+1)*chunk)]
			if i == 0 {
				outs[i] = dst // the first frame goes straight after the header
			} else {
				outs[i] = make([]byte, 0, len(in)/8+512)
			}
			pool := encoderPool(encoderKey{level, 1})
			enc, _ := pool.Get().(*zstd.Encoder)
			if enc == nil {
				if enc, errs[i] = newEncoder(level, 1); errs[i] != nil {
					return
				}
			}
			outs[i] = enc.EncodeAll(in, outs[i])
			pool.Put(enc)
		}()
	}
	wg.Wait()
	b := outs[0]
	for i := 1; i < n; i++ {
		if errs[i] != nil {
			return nil, errs[i]
		}
		b = append(b, outs[i]...)
	}
	return b, errs[0]
}

// newHeader checks the arguments and returns the header so far, its size
// and the zstd level.
func newHeader(kind Kind, name string, meta map[string]string, opts EncodeOptions) (Header, int, zstd.EncoderLevel, error) {
	level, err := encoderLevel(opts.Level)
	if err != nil {
		return Header{}, 0, 0, err
	}
	switch {
	case !kind.known():
		return Header{}, 0, 0, fmt.Errorf("encode %s: unknown %s", name, kind)
	case opts.Compression == ZstdAge && opts.Encrypt == nil:
		return Header{}, 0, 0, fmt.Errorf("encode %s: %s needs recipients", name, opts.Compression)
	case !opts.Compression.known():
		return Header{}, 0, 0, fmt.Errorf("encode %s: unknown %s", name, opts.Compression)
	case opts.Concurrency < 0:
		return Header{}, 0, 0, fmt.Errorf("encode %s: concurrency %d < 0", name, opts.Concurrency)
	}
	h := Header{Version: Version, Kind: kind, Compression: opts.Compression, Name: name}
	if len(meta) > 0 {
		h.Meta = maps.Clone(meta)
	}
	if opts.Encrypt != nil {
		h.Compression = ZstdAge
		if h.Meta, err = encryptMeta(h.Meta, opts.Encrypt); err != nil {
			return Header{}, 0, 0, fmt.Errorf("encode %s: %w", name, err)
		}
	}
	hsize, err := h.encodedSize()
	return h, hsize, level, err
}

// finish fills in the header at the front of b, whose body follows hsize.
func finish(h Header, b []byte, hsize int, rawSize int64, sum [32]byte) (*Encoded, error) {
	h.RawSize = rawSize
	h.RawSHA256 = sum
	h.BodySize = int64(len(b) - hsize)
	h.BodyCRC32C = crc32.Checksum(b[hsize:], castagnoli)
	if h.Compression == ZstdAge {
		h.Meta[MetaBodySHA256] = bodySHA256Hex(b[hsize:])
	}
	if h.BodySize > MaxSize {
		return nil, fmt.Errorf("encode %s: body of %d bytes exceeds %d", h.Name, h.BodySize, int64(MaxSize))
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
		if enc, err = newEncoder(level, concurrency); err != nil {
			return err
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

func newEncoder(level zstd.EncoderLevel, concurrency int) (*zstd.Encoder, error) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(level),
		zstd.WithEncoderConcurrency(concurrency),
		zstd.WithConcurrentBlocks(concurrency > 1),
		zstd.WithWindowSize(encoderWindow),
		// The header's SHA-256 and body CRC-32C already cover every byte;
		// zstd's own xxhash would be a third pass over the raw input.
		zstd.WithEncoderCRC(false),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd: %w", err)
	}
	return enc, nil
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
