package restore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/object"
	"github.com/logship/logship/restore"
)

// storeBackupSizes is storeBackup with parts of the given sizes, the last
// one taking what is left, so that a test can make a part follow a smaller
// or a larger one.
func storeBackupSizes(t *testing.T, tarBytes []byte, sizes []int, manifest []byte) fakeBackup {
	t.Helper()
	// storeBackup with one part holding everything, then the parts redone.
	fb := storeBackup(t, tarBytes, len(tarBytes), manifest)
	fb.b.Parts, fb.b.RawSize = nil, 0
	for i := 0; len(tarBytes) > 0; i++ {
		n := len(tarBytes)
		if i < len(sizes) {
			n = min(sizes[i], n)
		}
		name := fmt.Sprintf("part-%06d", i+1)
		obj, err := object.Encode(bytes.NewReader(tarBytes[:n]), object.KindBackupPart, name, nil, object.EncodeOptions{Compression: object.Zstd})
		if err != nil {
			t.Fatal(err)
		}
		part, err := fb.cat.PutPart(context.Background(), fb.b.ID+"-sized", obj)
		if err != nil {
			t.Fatal(err)
		}
		fb.b.Parts = append(fb.b.Parts, part)
		fb.b.RawSize += int64(n)
		tarBytes = tarBytes[n:]
	}
	return fb
}

// The buffers of parts fetched ahead are reused: a part that follows a
// larger one must not carry the larger one's tail, nor a part that follows
// a smaller one lose its own. Every file is checked against the manifest,
// so any byte out of place fails the restore.
func TestRunReusesPartBuffers(t *testing.T) {
	t.Parallel()
	tarBytes, manifest := dataDirTar(t)
	sizes := []int{40 << 10, 9 << 10, 70 << 10, 3 << 10, 100 << 10, 512, 60 << 10}
	fb := storeBackupSizes(t, tarBytes, sizes, manifest)
	if len(fb.b.Parts) < len(sizes) {
		t.Fatalf("want at least %d parts, got %d", len(sizes), len(fb.b.Parts))
	}
	for _, parallel := range []int{1, 2, 3} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "pgdata")
			res, err := restore.Run(context.Background(), fb.cat, planOf(fb.b), restore.Options{TargetDir: dir, RestoreCommand: testFetchCommand, Parallel: parallel})
			if err != nil {
				t.Fatal(err)
			}
			if res.Files != 44 || res.RawBytes == 0 {
				t.Errorf("files %d (want 44), %d bytes", res.Files, res.RawBytes)
			}
			got, err := os.ReadFile(filepath.Join(dir, "base/1/16420"))
			if err != nil || !strings.HasPrefix(string(got), "relation 36 ") {
				t.Errorf("base/1/16420: %v %.20q", err, got)
			}
		})
	}
}

// A damaged part still fails the restore when the part before it left its
// buffer for reuse.
func TestRunReusedBufferCorruptPart(t *testing.T) {
	t.Parallel()
	tarBytes, manifest := dataDirTar(t)
	fb := storeBackupSizes(t, tarBytes, []int{60 << 10, 20 << 10, 60 << 10}, manifest)
	p := filepath.Join(fb.storeDir, fb.b.Parts[2].Key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-10] ^= 0xff
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pgdata")
	_, err = restore.Run(context.Background(), fb.cat, planOf(fb.b), restore.Options{TargetDir: dir, RestoreCommand: testFetchCommand, Parallel: 1})
	if !errors.Is(err, restore.ErrIncomplete) || !strings.Contains(err.Error(), "part-000003") {
		t.Fatalf("got %v, want an incomplete-restore error naming part-000003", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "recovery.signal")); err == nil {
		t.Error("recovery.signal written into an incomplete directory")
	}
}
