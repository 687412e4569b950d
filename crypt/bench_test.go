package crypt_test

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/crypt"
	"github.com/logship/logship/object"
)

// walLikeSegment is 16 MiB that compresses about as WAL does: runs of
// repeated records with a varying counter, and some random bytes.
func walLikeSegment() []byte {
	b := make([]byte, 16<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+64 <= len(b); i += 64 {
		binary.LittleEndian.PutUint64(b[i:], uint64(i/64))
		copy(b[i+8:], "INSERT INTO pgbench_history VALUES (1, 2, 3, now(), ")
		if i%4096 == 0 {
			for j := i + 8; j < i+64; j++ {
				b[j] = byte(r.Uint32())
			}
		}
	}
	return b
}

// BenchmarkEncryptedVsClear measures, in one run, the two steps that
// encryption adds to: encoding a WAL segment (wal-push, backup parts) and
// decoding it (wal-fetch, restore), clear and sealed for two recipients.
func BenchmarkEncryptedVsClear(b *testing.B) {
	raw := walLikeSegment()
	content, rcp, err := crypt.Generate()
	if err != nil {
		b.Fatal(err)
	}
	_, rcp2, _ := crypt.Generate()
	idFile := filepath.Join(b.TempDir(), "id")
	if err := os.WriteFile(idFile, []byte(content), 0o600); err != nil {
		b.Fatal(err)
	}
	rcps, err := crypt.ParseRecipients([]string{rcp, rcp2}, "")
	if err != nil {
		b.Fatal(err)
	}
	ids, err := crypt.LoadIdentities(idFile)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts object.EncodeOptions
	}{
		{"clear", object.EncodeOptions{Compression: object.Zstd, Level: 1}},
		{"encrypted", object.EncodeOptions{Compression: object.Zstd, Level: 1, Encrypt: rcps}},
	} {
		b.Run("push/"+bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := object.EncodeBytes(raw, object.KindWAL, "000000010000000000000001", nil, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		enc, err := object.EncodeBytes(raw, object.KindWAL, "000000010000000000000001", nil, bc.opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("restore/"+bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			buf := make([]byte, 256<<10)
			for b.Loop() {
				rd, err := object.NewReaderOpts(enc.Reader(), object.ReadOptions{Decrypt: ids})
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
