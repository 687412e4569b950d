package restore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/restore"
)

type tarEntry struct {
	name     string
	typ      byte
	body     string
	linkname string
	mode     int64
}

func buildTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: mode, Linkname: e.linkname, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("write header %q: %v", e.name, err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractTar(t *testing.T) {
	dir := t.TempDir()
	data := buildTar(t,
		tarEntry{name: "./", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "PG_VERSION", typ: tar.TypeReg, body: "15\n", mode: 0o644},
		tarEntry{name: "base/", typ: tar.TypeDir, mode: 0o755},
		tarEntry{name: "base/1/1259", typ: tar.TypeReg, body: strings.Repeat("x", 3<<20)},
		tarEntry{name: "./global//pg_control", typ: tar.TypeReg, body: "control"},
		tarEntry{name: "pg_wal/", typ: tar.TypeDir},
		tarEntry{name: "empty", typ: tar.TypeReg},
	)
	files, err := restore.ExtractTar(context.Background(), bytes.NewReader(data), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"PG_VERSION":        "15\n",
		"base/1/1259":       strings.Repeat("x", 3<<20),
		"global/pg_control": "control",
		"empty":             "",
	}
	if len(files) != len(want) {
		t.Fatalf("got %d files %v, want %d", len(files), files, len(want))
	}
	table := crc32.MakeTable(crc32.Castagnoli)
	for _, f := range files {
		body, ok := want[f.Path]
		if !ok {
			t.Fatalf("unexpected file %q", f.Path)
		}
		if f.Size != int64(len(body)) || f.CRC32C != crc32.Checksum([]byte(body), table) {
			t.Errorf("%s: size %d crc %08x, want %d %08x", f.Path, f.Size, f.CRC32C, len(body), crc32.Checksum([]byte(body), table))
		}
		got, err := os.ReadFile(filepath.Join(dir, f.Path))
		if err != nil || string(got) != body {
			t.Errorf("%s: content differs (err %v)", f.Path, err)
		}
		fi, err := os.Stat(filepath.Join(dir, f.Path))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v (err %v), want 0600", f.Path, fi.Mode(), err)
		}
	}
	for _, d := range []string{"base", "base/1", "global", "pg_wal"} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("dir %s: %v (err %v), want directory 0700", d, fi.Mode(), err)
		}
	}
	if err := restore.SyncTree(context.Background(), dir); err != nil {
		t.Fatalf("sync tree: %v", err)
	}
}

func TestExtractTarRefusesHostileEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		// pre prepares the extraction dir (the canary is its sibling).
		pre     func(t *testing.T, dir, canary string)
		wantErr string
	}{
		{name: "parent", entries: []tarEntry{{name: "../evil", typ: tar.TypeReg, body: "x"}}, wantErr: `"../evil"`},
		{name: "absolute", entries: []tarEntry{{name: "/etc/x", typ: tar.TypeReg, body: "x"}}, wantErr: "absolute"},
		{name: "climb through subdir", entries: []tarEntry{{name: "a/../../x", typ: tar.TypeReg, body: "x"}}, wantErr: `".."`},
		{name: "dot dot dir", entries: []tarEntry{{name: "a/../../canary/", typ: tar.TypeDir}}, wantErr: `".."`},
		{name: "symlink then through it", entries: []tarEntry{
			{name: "l", typ: tar.TypeSymlink, linkname: "/tmp"},
			{name: "l/x", typ: tar.TypeReg, body: "x"},
		}, wantErr: "symlink"},
		{name: "relative symlink out", entries: []tarEntry{
			{name: "l", typ: tar.TypeSymlink, linkname: "../canary"},
			{name: "l/x", typ: tar.TypeReg, body: "x"},
		}, wantErr: `"l"`},
		{name: "hard link outside", entries: []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "../x"}}, wantErr: "hard link"},
		{name: "hard link inside", entries: []tarEntry{
			{name: "f", typ: tar.TypeReg, body: "x"},
			{name: "h", typ: tar.TypeLink, linkname: "f"},
		}, wantErr: "hard link"},
		{name: "char device", entries: []tarEntry{{name: "null", typ: tar.TypeChar}}, wantErr: "device"},
		{name: "block device", entries: []tarEntry{{name: "sda", typ: tar.TypeBlock}}, wantErr: "device"},
		{name: "fifo", entries: []tarEntry{{name: "p", typ: tar.TypeFifo}}, wantErr: "fifo"},
		{name: "duplicate file", entries: []tarEntry{
			{name: "f", typ: tar.TypeReg, body: "first"},
			{name: "./f", typ: tar.TypeReg, body: "second"},
		}, wantErr: `"./f"`},
		{name: "existing symlink in dir", entries: []tarEntry{{name: "pre/x", typ: tar.TypeReg, body: "x"}},
			pre: func(t *testing.T, dir, canary string) {
				if err := os.Symlink(canary, filepath.Join(dir, "pre")); err != nil {
					t.Fatal(err)
				}
			}, wantErr: "symlink pre"},
		{name: "existing inner symlink to file", entries: []tarEntry{{name: "f", typ: tar.TypeReg, body: "x"}},
			pre: func(t *testing.T, dir, canary string) {
				if err := os.Symlink("g", filepath.Join(dir, "f")); err != nil {
					t.Fatal(err)
				}
			}, wantErr: `"f"`},
		{name: "file where a dir is needed", entries: []tarEntry{
			{name: "a", typ: tar.TypeReg, body: "x"},
			{name: "a/b", typ: tar.TypeReg, body: "x"},
		}, wantErr: "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			dir := filepath.Join(top, "dest")
			canary := filepath.Join(top, "canary")
			for _, d := range []string{dir, canary} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			if tt.pre != nil {
				tt.pre(t, dir, canary)
			}
			_, err := restore.ExtractTar(context.Background(), bytes.NewReader(buildTar(t, tt.entries...)), dir)
			if err == nil {
				t.Fatal("extraction succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
			t.Logf("refused: %v", err)

			top2, _ := os.ReadDir(top)
			if len(top2) != 2 {
				t.Errorf("something was written beside the extraction dir: %v", top2)
			}
			if c, _ := os.ReadDir(canary); len(c) != 0 {
				t.Errorf("canary dir was written: %v", c)
			}
			if _, err := os.Lstat("/tmp/x"); err == nil {
				t.Errorf("/tmp/x exists")
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Type()&os.ModeSymlink != 0 && tt.pre == nil {
					t.Errorf("symlink %s was created", e.Name())
				}
			}
			if tt.name == "duplicate file" {
				if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "first" {
					t.Errorf("duplicate entry replaced the first: %q", b)
				}
			}
		})
	}
}

func TestExtractTarTruncated(t *testing.T) {
	data := buildTar(t, tarEntry{name: "f", typ: tar.TypeReg, body: strings.Repeat("y", 10000)})
	_, err := restore.ExtractTar(context.Background(), bytes.NewReader(data[:5000]), t.TempDir())
	if err == nil {
		t.Fatal("truncated archive extracted without error")
	}
}

func TestExtractTarCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := buildTar(t, tarEntry{name: "f", typ: tar.TypeReg, body: "x"})
	if _, err := restore.ExtractTar(ctx, bytes.NewReader(data), t.TempDir()); err == nil {
		t.Fatal("cancelled extraction succeeded")
	}
}
