package object_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/logship/logship/object"
)

func encode(t testing.TB, raw []byte, opts object.EncodeOptions) *object.Encoded {
	t.Helper()
	meta := map[string]string{"system_id": "7301234567890123456", "timeline": "1", "empty": ""}
	enc, err := object.Encode(bytes.NewReader(raw), object.KindWAL, "000000010000000000000003", meta, opts)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	return enc
}

func TestRoundTrip(t *testing.T) {
	inputs := map[string][]byte{
		"empty":  {},
		"byte":   {42},
		"wal":    walLike(1<<20+17, 1),
		"random": randomBytes(300<<10, 2),
	}
	options := map[string]object.EncodeOptions{
		"none":             {Compression: object.None},
		"zstd":             {Compression: object.Zstd},
		"zstd-1":           {Compression: object.Zstd, Level: 1},
		"zstd-7":           {Compression: object.Zstd, Level: 7},
		"zstd-19":          {Compression: object.Zstd, Level: 19},
		"zstd-sequential":  {Compression: object.Zstd, Concurrency: 1},
		"zstd-concurrent4": {Compression: object.Zstd, Concurrency: 4},
	}
	for iname, raw := range inputs {
		for oname, opts := range options {
			t.Run(iname+"/"+oname, func(t *testing.T) {
				enc := encode(t, raw, opts)
				h := enc.Header
				sum := sha256.Sum256(raw)
				if h.Version != object.Version || h.Kind != object.KindWAL || h.Compression != opts.Compression ||
					h.Name != "000000010000000000000003" || h.RawSize != int64(len(raw)) || h.RawSHA256 != sum ||
					h.Meta["system_id"] != "7301234567890123456" || len(h.Meta) != 3 {
					t.Fatalf("header %+v", h)
				}
				if h.ChecksumHex() != hex.EncodeToString(sum[:]) {
					t.Errorf("ChecksumHex %s", h.ChecksumHex())
				}
				if enc.Size() != int64(len(enc.Bytes())) || enc.Reader().Size() != enc.Size() {
					t.Errorf("Size %d, len(Bytes) %d", enc.Size(), len(enc.Bytes()))
				}

				got, err := object.ReadHeader(enc.Reader())
				if err != nil {
					t.Fatalf("ReadHeader: %v", err)
				}
				if !equalHeaders(got, h) {
					t.Fatalf("ReadHeader = %+v, want %+v", got, h)
				}
				if hsize := enc.Size() - h.BodySize; hsize <= 0 || hsize > object.MaxHeaderSize {
					t.Fatalf("header size %d", hsize)
				}

				rd, err := object.NewReader(enc.Reader())
				if err != nil {
					t.Fatalf("NewReader: %v", err)
				}
				out, err := io.ReadAll(rd)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if !bytes.Equal(out, raw) {
					t.Fatalf("decoded %d bytes differ from %d raw", len(out), len(raw))
				}
				if err := rd.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := rd.Read(make([]byte, 1)); err == nil || err == io.EOF {
					t.Errorf("read after close: %v", err)
				}
				if vh, err := object.Verify(enc.Reader()); err != nil || !equalHeaders(vh, h) {
					t.Fatalf("Verify = %+v, %v", vh, err)
				}
			})
		}
	}
}

// TestReaderContract runs the standard io.Reader checks over readers that
// return short reads and data together with io.EOF.
func TestReaderContract(t *testing.T) {
	raw := walLike(200<<10, 3)
	for _, c := range []object.Compression{object.None, object.Zstd} {
		enc := encode(t, raw, object.EncodeOptions{Compression: c})
		wrappers := map[string]func(io.Reader) io.Reader{
			"half":    iotest.HalfReader,
			"onebyte": iotest.OneByteReader,
			"dataerr": iotest.DataErrReader,
		}
		for wname, wrap := range wrappers {
			t.Run(c.String()+"/"+wname, func(t *testing.T) {
				rd, err := object.NewReader(wrap(enc.Reader()))
				if err != nil {
					t.Fatal(err)
				}
				defer rd.Close()
				if err := iotest.TestReader(rd, raw); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestEncodeDeterministic(t *testing.T) {
	raw := walLike(9<<20, 4) // more than one parallel job
	for _, opts := range []object.EncodeOptions{{Compression: object.Zstd}, {Compression: object.Zstd, Level: 1, Concurrency: 2}} {
		a, b := encode(t, raw, opts), encode(t, raw, opts)
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%+v: two encodes differ", opts)
		}
		if ratio := float64(len(raw)) / float64(a.Header.BodySize); ratio < 5 {
			t.Errorf("%+v: ratio %.1f, WAL-like input should compress better", opts, ratio)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	readErr := errors.New("disk on fire")
	tests := []struct {
		name    string
		src     io.Reader
		kind    object.Kind
		objName string
		meta    map[string]string
		opts    object.EncodeOptions
		want    error
	}{
		{name: "long name", objName: strings.Repeat("n", 256), want: object.ErrHeaderTooLarge},
		{name: "big meta", meta: bigMeta(), want: object.ErrHeaderTooLarge},
		{name: "empty meta key", meta: map[string]string{"": "x"}, want: object.ErrHeaderTooLarge},
		{name: "unknown kind", kind: 9},
		{name: "unknown compression", opts: object.EncodeOptions{Compression: 7}},
		{name: "level too high", opts: object.EncodeOptions{Compression: object.Zstd, Level: 23}},
		{name: "negative level", opts: object.EncodeOptions{Compression: object.Zstd, Level: -1}},
		{name: "negative concurrency", opts: object.EncodeOptions{Compression: object.Zstd, Concurrency: -1}},
		{name: "source fails zstd", src: io.MultiReader(bytes.NewReader(walLike(20<<20, 5)), iotest.ErrReader(readErr)),
			opts: object.EncodeOptions{Compression: object.Zstd}, want: readErr},
		{name: "source fails none", src: iotest.ErrReader(readErr), want: readErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.src == nil {
				tt.src = strings.NewReader("x")
			}
			if tt.kind == 0 {
				tt.kind = object.KindMeta
			}
			_, err := object.Encode(tt.src, tt.kind, tt.objName, tt.meta, tt.opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// A failed encode must leave the pooled encoders usable.
	raw := walLike(1<<20, 6)
	enc := encode(t, raw, object.EncodeOptions{Compression: object.Zstd})
	if _, err := object.Verify(enc.Reader()); err != nil {
		t.Fatalf("encode after failure: %v", err)
	}
}

func bigMeta() map[string]string {
	m := make(map[string]string)
	for i := range 20 {
		m[strings.Repeat("k", i+1)] = strings.Repeat("v", 4000)
	}
	return m
}

func TestNames(t *testing.T) {
	for c, s := range map[object.Compression]string{object.None: "none", object.Zstd: "zstd"} {
		if c.String() != s {
			t.Errorf("%d.String() = %s", c, c)
		}
		if got, err := object.ParseCompression(strings.ToUpper(s)); err != nil || got != c {
			t.Errorf("ParseCompression(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := object.ParseCompression("gzip"); err == nil {
		t.Error("ParseCompression(gzip) succeeded")
	}
	kinds := map[object.Kind]string{object.KindWAL: "wal", object.KindHistory: "history",
		object.KindBackupLabel: "backup-label", object.KindBackupPart: "backup-part", object.KindMeta: "meta", 9: "kind(9)"}
	for k, s := range kinds {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %s, want %s", k, k, s)
		}
	}
}

func equalHeaders(a, b object.Header) bool {
	return a.Version == b.Version && a.Kind == b.Kind && a.Compression == b.Compression && a.Name == b.Name &&
		a.RawSize == b.RawSize && a.RawSHA256 == b.RawSHA256 && a.BodySize == b.BodySize && maps.Equal(a.Meta, b.Meta)
}
