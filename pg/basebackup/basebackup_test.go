package basebackup_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg/basebackup"
)

func TestRun(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	c.Pgbench(t, "-i", "-s", "2")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tarPath := filepath.Join(t.TempDir(), "base.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	var lastDone, lastTotal int64
	res, err := runMain(ctx, c.ConnString(), basebackup.Options{Label: "logship 'test'", FastCheckpoint: true}, f,
		func(done, total int64) {
			calls++
			if done < lastDone {
				t.Errorf("progress went back from %d to %d", lastDone, done)
			}
			lastDone, lastTotal = done, total
		})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	if want := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()"); strconv.FormatUint(res.SystemID, 10) != want {
		t.Errorf("system id %d, want %s", res.SystemID, want)
	}
	if res.ServerVersion < 150000 || res.SegmentSize != 16<<20 || res.Timeline != 1 {
		t.Errorf("server version %d, segment size %d, timeline %d", res.ServerVersion, res.SegmentSize, res.Timeline)
	}
	if res.StartLSN == 0 || res.EndLSN <= res.StartLSN {
		t.Errorf("start %s end %s", res.StartLSN, res.EndLSN)
	}
	if calls == 0 || lastDone != res.TarBytes || lastTotal < res.TarBytes/2 {
		t.Errorf("progress: %d calls, last %d/%d, tar bytes %d", calls, lastDone, lastTotal, res.TarBytes)
	}

	// The archive: backup_label inside, no WAL, no manifest.
	tf, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer tf.Close()
	if fi, _ := tf.Stat(); fi.Size() != res.TarBytes {
		t.Errorf("tar file has %d bytes, result says %d", fi.Size(), res.TarBytes)
	}
	tr := tar.NewReader(tf)
	files := map[string]int64{}
	var label []byte
	hasBase := false
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		switch hdr.Typeflag {
		case tar.TypeReg:
			files[name] = hdr.Size
			if name == "backup_label" {
				label, _ = io.ReadAll(tr)
			}
			if strings.HasPrefix(name, "pg_wal/") {
				t.Errorf("WAL in the archive: %s", name)
			}
		case tar.TypeDir:
			if strings.TrimSuffix(name, "/") == "base" {
				hasBase = true
			}
		default:
			t.Errorf("unexpected entry %s type %q", name, hdr.Typeflag)
		}
	}
	for _, want := range []string{"backup_label", "PG_VERSION", "global/pg_control"} {
		if _, ok := files[want]; !ok {
			t.Errorf("%s missing from the archive", want)
		}
	}
	if !hasBase {
		t.Error("base/ missing from the archive")
	}
	if _, ok := files["backup_manifest"]; ok {
		t.Error("backup_manifest inside the archive")
	}
	for _, want := range []string{"START WAL LOCATION: " + res.StartLSN.String(), "LABEL: logship 'test'", "START TIMELINE: 1"} {
		if !bytes.Contains(label, []byte(want)) {
			t.Errorf("backup_label lacks %q:\n%s", want, label)
		}
	}

	// The manifest lists exactly the archive's files, with their sizes.
	var m struct {
		Version int `json:"PostgreSQL-Backup-Manifest-Version"`
		Files   []struct {
			Path      string
			Size      int64
			Algorithm string `json:"Checksum-Algorithm"`
		}
		WALRanges []struct {
			Timeline int
			Start    string `json:"Start-LSN"`
			End      string `json:"End-LSN"`
		} `json:"WAL-Ranges"`
	}
	if err := json.Unmarshal(res.Manifest, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	if m.Version != 1 || len(m.Files) != len(files) {
		t.Errorf("manifest version %d with %d files, archive has %d files", m.Version, len(m.Files), len(files))
	}
	for _, mf := range m.Files {
		size, ok := files[mf.Path]
		if !ok || size != mf.Size || mf.Algorithm != "CRC32C" {
			t.Errorf("manifest file %s (%d bytes, %s): archive has %v %d", mf.Path, mf.Size, mf.Algorithm, ok, size)
		}
	}
	if len(m.WALRanges) != 1 || m.WALRanges[0].Start != res.StartLSN.String() || m.WALRanges[0].End != res.EndLSN.String() {
		t.Errorf("manifest WAL ranges %+v, result %s..%s", m.WALRanges, res.StartLSN, res.EndLSN)
	}
}

func TestRunBadInput(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	tests := []struct {
		name    string
		conn    string
		opts    basebackup.Options
		wantErr string
	}{
		{"max rate too low", c.ConnString(), basebackup.Options{MaxRateKBps: 8}, "max rate"},
		{"bad conn string", "host=", basebackup.Options{}, "connect"},
		{"no server", "host=127.0.0.1 port=1 user=postgres connect_timeout=5", basebackup.Options{}, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sink bytes.Buffer
			_, err := runMain(context.Background(), tt.conn, tt.opts, &sink, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	c := pgtest.Start(t, pgtest.Options{})
	c.Pgbench(t, "-i", "-s", "2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink := &cancelAfter{n: 1 << 20, cancel: cancel}
	_, err := runMain(ctx, c.ConnString(), basebackup.Options{FastCheckpoint: true}, sink, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	// The server must have dropped the backup: a new one starts and finishes.
	if _, err := runMain(context.Background(), c.ConnString(), basebackup.Options{FastCheckpoint: true}, io.Discard, nil); err != nil {
		t.Fatalf("backup after a cancelled one: %v", err)
	}
}

// cancelAfter cancels once n bytes went through.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
}

func (w *cancelAfter) Write(p []byte) (int, error) {
	w.n -= len(p)
	if w.n <= 0 {
		w.cancel()
	}
	return len(p), nil
}

func BenchmarkRun(b *testing.B) {
	c := pgtest.Start(b, pgtest.Options{})
	c.Pgbench(b, "-i", "-s", "10")
	b.ResetTimer()
	for b.Loop() {
		res, err := runMain(context.Background(), c.ConnString(), basebackup.Options{FastCheckpoint: true}, io.Discard, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(res.TarBytes)
	}
}

// runMain is RunArchives for a server without tablespaces: the main
// archive goes to sink.
func runMain(ctx context.Context, conn string, opts basebackup.Options, sink io.Writer, progress func(done, total int64)) (basebackup.Result, error) {
	open := func(a basebackup.Archive) (io.WriteCloser, error) {
		if a.TablespaceOID != 0 {
			return nil, fmt.Errorf("unexpected tablespace archive %s", a.Name)
		}
		return nopWriteCloser{sink}, nil
	}
	return basebackup.RunArchives(ctx, conn, opts, open, progress)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
