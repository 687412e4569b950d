package restore_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg/basebackup"
	"github.com/logship/logship/restore"
)

// backupInto streams a base backup of c straight into ExtractTar in dir, as a
// restore does, and returns the manifest and the extracted files.
func backupInto(t *testing.T, c *pgtest.Cluster, dir string) (basebackup.Result, []restore.ExtractedFile) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pr, pw := io.Pipe()
	type result struct {
		res basebackup.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		open := func(basebackup.Archive) (io.WriteCloser, error) { return nopWriteCloser{pw}, nil } // no tablespaces here
		res, err := basebackup.RunArchives(ctx, c.ConnString(), basebackup.Options{Label: "restore test", FastCheckpoint: true}, open, nil)
		pw.CloseWithError(err)
		done <- result{res, err}
	}()
	files, err := restore.ExtractTar(ctx, pr, dir)
	if err != nil {
		pr.CloseWithError(err)
		t.Fatalf("extract: %v", err)
	}
	// Drain the end-of-archive padding the tar reader leaves unread.
	if _, err := io.Copy(io.Discard, pr); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("base backup: %v", r.err)
	}
	return r.res, files
}

func TestVerifyManifestRealBackup(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{DataChecksums: true})
	c.Pgbench(t, "-i", "-s", "1")
	res, files := backupInto(t, c, t.TempDir())

	// Also proves the CRC-32C byte order: a wrong order would fail every file.
	if err := restore.VerifyManifest(res.Manifest, files); err != nil {
		t.Fatalf("real backup does not verify: %v", err)
	}
	if !strings.Contains(string(res.Manifest), `"Checksum-Algorithm": "CRC32C"`) {
		t.Fatal("manifest has no CRC32C checksums")
	}

	at := func(fs []restore.ExtractedFile, path string) int {
		for i, f := range fs {
			if f.Path == path {
				return i
			}
		}
		t.Fatalf("%s not extracted", path)
		return -1
	}
	damaged := []struct {
		name   string
		change func([]restore.ExtractedFile) []restore.ExtractedFile
	}{
		{"checksum", func(fs []restore.ExtractedFile) []restore.ExtractedFile {
			fs[at(fs, "global/pg_control")].CRC32C ^= 0x100
			return fs
		}},
		{"size", func(fs []restore.ExtractedFile) []restore.ExtractedFile {
			fs[at(fs, "PG_VERSION")].Size--
			return fs
		}},
		{"path", func(fs []restore.ExtractedFile) []restore.ExtractedFile {
			fs[at(fs, "backup_label")].Path = "backup_labe1"
			return fs
		}},
		{"missing", func(fs []restore.ExtractedFile) []restore.ExtractedFile {
			i := at(fs, "global/pg_control")
			return append(fs[:i], fs[i+1:]...)
		}},
	}
	for _, d := range damaged {
		t.Run(d.name, func(t *testing.T) {
			err := restore.VerifyManifest(res.Manifest, d.change(append([]restore.ExtractedFile{}, files...)))
			if err == nil {
				t.Fatal("damaged file list verified")
			}
			t.Log(err)
		})
	}
	t.Run("manifest byte flipped", func(t *testing.T) {
		m := append([]byte{}, res.Manifest...)
		i := strings.Index(string(m), `"Size": `) + len(`"Size": `)
		m[i] ^= 1
		if err := restore.VerifyManifest(m, files); err == nil {
			t.Fatal("tampered manifest verified")
		}
	})
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
