package restore_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/restore"
)

// fuzzTar builds a tar from a compact description, so that the fuzzer
// varies names, types and contents instead of breaking header checksums:
// per entry a type byte, a name length and name, a content length and
// content.
func fuzzTar(spec []byte) []byte {
	types := []byte{tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo, tar.TypeChar, tar.TypeReg}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for len(spec) >= 2 {
		typ, n := types[int(spec[0])%len(types)], min(int(spec[1])%64, len(spec)-2)
		name := string(spec[2 : 2+n])
		spec = spec[2+n:]
		var content []byte
		if len(spec) > 0 {
			c := min(int(spec[0])%128, len(spec)-1)
			content, spec = spec[1:1+c], spec[1+c:]
		}
		h := &tar.Header{Name: name, Typeflag: typ, Mode: 0o644, Linkname: "../outside/x"}
		if typ == tar.TypeReg {
			h.Size = int64(len(content))
		}
		if tw.WriteHeader(h) != nil {
			break
		}
		if typ == tar.TypeReg {
			_, _ = tw.Write(content)
		}
	}
	_ = tw.Close()
	return b.Bytes()
}

// sparseTarSeed is a PAX GNU sparse 1.0 entry: a 512-byte map saying the file is
// one hole of realSize bytes, which archive/tar expands into that many
// zeros. tar.Writer writes no GNU.sparse records, so the PAX header is made
// by hand: a regular entry retyped to 'x' with its checksum redone.
func sparseTarSeed(realSize string) []byte {
	rec := ""
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "big"}, {"GNU.sparse.realsize", realSize}} {
		s := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(s)
		for len(strconv.Itoa(n)+s) != n {
			n = len(strconv.Itoa(n) + s)
		}
		rec += strconv.Itoa(n) + s
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: "PaxHeaders/big", Typeflag: tar.TypeReg, Size: int64(len(rec)), Format: tar.FormatUSTAR})
	_, _ = tw.Write([]byte(rec))
	_ = tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Size: 512, Mode: 0o600, Format: tar.FormatUSTAR})
	_, _ = tw.Write(append([]byte("0\n"), make([]byte, 510)...))
	_ = tw.Close()
	raw := b.Bytes()
	raw[156] = tar.TypeXHeader
	copy(raw[148:156], "        ")
	sum := 0
	for _, c := range raw[:512] {
		sum += int(c)
	}
	copy(raw[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return raw
}

// FuzzExtractTar extracts arbitrary tar streams next to a folder that must
// stay empty, through a symlink planted in the extraction folder. Nothing
// may land outside; the files written may not hold more bytes than the
// stream; and what ExtractTar reports is exactly what is on disk.
func FuzzExtractTar(f *testing.F) {
	f.Add([]byte{0, 10, 'P', 'G', '_', 'V', 'E', 'R', 'S', 'I', 'O', 'N', 3, '1', '5', '\n'}, true)
	f.Add(append([]byte{1, 4}, "base"...), true)
	f.Add(append([]byte{0, 11}, "link/escape"...), true)
	f.Add(append([]byte{0, 10}, "../outside"...), true)
	f.Add(append([]byte{2, 4}, "link"...), true)
	f.Add(append(append([]byte{0, 1, 'a', 1, 'x'}, 0, 3), "a/b"...), true)
	f.Add([]byte{0, 1, 'a', 1, 'x', 0, 1, 'a'}, true)
	f.Add(sparseTarSeed("1000000"), false)
	f.Add(fuzzTar(append([]byte{1, 5}, "a/./b"...)), false)
	f.Add([]byte("not a tar at all"), false)
	f.Fuzz(func(t *testing.T, data []byte, build bool) {
		if build {
			data = fuzzTar(data)
		}
		base := t.TempDir()
		dir, outside := filepath.Join(base, "out"), filepath.Join(base, "outside")
		for _, d := range []string{dir, outside} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink("../outside", filepath.Join(dir, "link")); err != nil {
			t.Fatal(err)
		}
		files, err := restore.ExtractTar(context.Background(), bytes.NewReader(data), dir)

		if ents, _ := os.ReadDir(outside); len(ents) > 0 {
			t.Fatalf("extraction wrote %s outside its folder", ents[0].Name())
		}
		if ents, _ := os.ReadDir(base); len(ents) != 2 {
			t.Fatalf("extraction left %d entries beside its folder", len(ents))
		}
		var total int64
		onDisk := map[string]int64{}
		werr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			switch {
			case fi.Mode().IsRegular():
				onDisk[filepath.ToSlash(rel)] = fi.Size()
				total += fi.Size()
			case fi.IsDir():
			case rel == "link":
			default:
				t.Errorf("extraction made %s, of mode %v", rel, fi.Mode())
			}
			return nil
		})
		if werr != nil {
			t.Fatal(werr)
		}
		if total > int64(len(data)) {
			t.Fatalf("a %d-byte tar stream wrote %d bytes", len(data), total)
		}
		table := crc32.MakeTable(crc32.Castagnoli)
		for _, ef := range files {
			if ef.Path != path.Clean(ef.Path) || path.IsAbs(ef.Path) || ef.Path == ".." || strings.HasPrefix(ef.Path, "../") {
				t.Fatalf("reported path %q", ef.Path)
			}
			b, rerr := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ef.Path)))
			if rerr != nil || int64(len(b)) != ef.Size || crc32.Checksum(b, table) != ef.CRC32C {
				t.Fatalf("reported %+v; on disk %d bytes (%v)", ef, len(b), rerr)
			}
		}
		if err == nil && len(files) != len(onDisk) {
			t.Fatalf("reported %d files, %d on disk", len(files), len(onDisk))
		}
	})
}
