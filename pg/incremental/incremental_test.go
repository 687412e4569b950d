package incremental_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/logship/logship/pg/incremental"
)

// incFile lays out an incremental file as basebackup.c sends it.
func incFile(trunc uint32, blocks map[uint32]byte, order ...uint32) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write(le.AppendUint32(nil, incremental.Magic))
	b.Write(le.AppendUint32(nil, uint32(len(order))))
	b.Write(le.AppendUint32(nil, trunc))
	for _, n := range order {
		b.Write(le.AppendUint32(nil, n))
	}
	if len(order) > 0 {
		b.Write(make([]byte, incremental.BlockSize-b.Len()%incremental.BlockSize))
	}
	for _, n := range order {
		b.Write(bytes.Repeat([]byte{blocks[n]}, incremental.BlockSize))
	}
	return b.Bytes()
}

// memFile is a File in memory.
type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(f.b)) {
		f.b = append(f.b, make([]byte, end-int64(len(f.b)))...)
	}
	return copy(f.b[off:], p), nil
}

func (f *memFile) Truncate(n int64) error {
	if n <= int64(len(f.b)) {
		f.b = f.b[:n]
	} else {
		f.b = append(f.b, make([]byte, n-int64(len(f.b)))...)
	}
	return nil
}

// blocks lists a file's blocks by their fill byte.
func (f *memFile) blocks() []byte {
	var out []byte
	for i := 0; i < len(f.b); i += incremental.BlockSize {
		out = append(out, f.b[i])
	}
	return out
}

func fullFile(fills ...byte) *memFile {
	f := &memFile{}
	for _, c := range fills {
		f.b = append(f.b, bytes.Repeat([]byte{c}, incremental.BlockSize)...)
	}
	return f
}

func TestReadHeader(t *testing.T) {
	raw := incFile(7, map[uint32]byte{2: 'x', 9: 'y'}, 2, 9)
	r := bytes.NewReader(raw)
	h, err := incremental.ReadHeader(r)
	if err != nil {
		t.Fatal(err)
	}
	if h.TruncationBlocks != 7 || len(h.Blocks) != 2 || h.Blocks[1] != 9 || h.Size() != incremental.BlockSize || h.Length() != 10 {
		t.Fatalf("header %+v, size %d, length %d", h, h.Size(), h.Length())
	}
	if h.FileSize() != int64(len(raw)) || r.Len() != 2*incremental.BlockSize {
		t.Fatalf("file size %d of %d, %d bytes left", h.FileSize(), len(raw), r.Len())
	}
	// No block: 12 bytes, no padding (what global/INCREMENTAL.1261 is in
	// the testdata manifest).
	h, err = incremental.ReadHeader(bytes.NewReader(incFile(1, nil)))
	if err != nil || h.Size() != 12 || h.FileSize() != 12 || h.Length() != 1 {
		t.Fatalf("empty: %+v, %v", h, err)
	}

	le := binary.LittleEndian
	bad := func(words ...uint32) []byte {
		var b []byte
		for _, w := range words {
			b = le.AppendUint32(b, w)
		}
		return b
	}
	for name, tt := range map[string]struct {
		raw  []byte
		want string
	}{
		"magic":         {bad(0xd3ae1f0e, 0, 0), "magic"},
		"too many":      {bad(incremental.Magic, incremental.RelSegBlocks+1, 0), "more than a segment"},
		"long trunc":    {bad(incremental.Magic, 0, incremental.RelSegBlocks+1), "truncation length"},
		"block too far": {bad(incremental.Magic, 1, 0, incremental.RelSegBlocks), "beyond a segment"},
		"short":         {bad(incremental.Magic)[:3], "unexpected EOF"},
		"short numbers": {bad(incremental.Magic, 2, 0, 1), "block numbers"},
		"short padding": {bad(incremental.Magic, 1, 0, 1), "padding"},
		"big-endian":    {append(binary.BigEndian.AppendUint32(nil, incremental.Magic), make([]byte, 8)...), "magic"},
	} {
		_, err := incremental.ReadHeader(bytes.NewReader(tt.raw))
		if err == nil || !errors.Is(err, incremental.ErrBadIncremental) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one with %q", name, err, tt.want)
		}
	}
}

func TestApply(t *testing.T) {
	// Full: a b c d e f. Incremental 1 (truncated to 3 blocks, then block 4
	// rewritten beyond): 1 at block 1, 4 at block 4. Newest (truncation 5
	// blocks): N at block 0, M at block 6.
	f := fullFile('a', 'b', 'c', 'd', 'e', 'f')
	if _, err := incremental.Apply(f, bytes.NewReader(incFile(3, map[uint32]byte{1: '1', 4: '4'}, 1, 4)), false); err != nil {
		t.Fatal(err)
	}
	if got := string(f.blocks()); got != "a1cd4f" {
		t.Fatalf("after an older incremental: %q, want the file kept whole", got)
	}
	if _, err := incremental.Apply(f, bytes.NewReader(incFile(5, map[uint32]byte{0: 'N', 6: 'M'}, 0, 6)), true); err != nil {
		t.Fatal(err)
	}
	// pg_combinebackup: blocks below 5 from the newest backup having them,
	// block 5 (between truncation and length, not in the newest) zero,
	// block 6 from the newest.
	if got := string(f.blocks()); got != "N1cd4\x00M" {
		t.Fatalf("rebuilt %q", got)
	}

	// The newest cuts a longer file and extends a shorter one with zeros.
	f = fullFile('a', 'b', 'c')
	if _, err := incremental.Apply(f, bytes.NewReader(incFile(1, nil)), true); err != nil || string(f.blocks()) != "a" {
		t.Fatalf("cut: %q, %v", f.blocks(), err)
	}
	f = fullFile('a')
	if _, err := incremental.Apply(f, bytes.NewReader(incFile(3, map[uint32]byte{2: 'z'}, 2)), true); err != nil || string(f.blocks()) != "a\x00z" {
		t.Fatalf("extend: %q, %v", f.blocks(), err)
	}

	// Damaged input.
	raw := incFile(2, map[uint32]byte{1: 'q'}, 1)
	if _, err := incremental.Apply(fullFile('a'), bytes.NewReader(raw[:len(raw)-1]), true); err == nil || !strings.Contains(err.Error(), "block 1 of 1") {
		t.Errorf("short block: %v", err)
	}
	if _, err := incremental.Apply(fullFile('a'), io.MultiReader(bytes.NewReader(raw), strings.NewReader("x")), true); err == nil || !strings.Contains(err.Error(), "data after the last block") {
		t.Errorf("trailing data: %v", err)
	}
}

func TestApplyOSFile(t *testing.T) {
	p := t.TempDir() + "/16384"
	if err := os.WriteFile(p, fullFile('a', 'b').b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := incremental.Apply(f, bytes.NewReader(incFile(4, map[uint32]byte{3: 'd'}, 3)), true); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got, _ := os.ReadFile(p)
	if want := (&memFile{}); true {
		want.b = append(fullFile('a', 'b').b, make([]byte, incremental.BlockSize)...)
		want.b = append(want.b, bytes.Repeat([]byte{'d'}, incremental.BlockSize)...)
		if !bytes.Equal(got, want.b) {
			t.Fatalf("file has %d bytes, not the rebuilt %d", len(got), len(want.b))
		}
	}
}

func TestTarget(t *testing.T) {
	for _, tt := range []struct {
		in         string
		tablespace bool
		want       string
		ok         bool
	}{
		{"base/5/INCREMENTAL.16384", false, "base/5/16384", true},
		{"base/5/INCREMENTAL.16384.1", false, "base/5/16384.1", true},
		{"global/INCREMENTAL.1261", false, "global/1261", true},
		{"pg_tblspc/16390/PG_18_202506291/5/INCREMENTAL.16391", false, "pg_tblspc/16390/PG_18_202506291/5/16391", true},
		{"PG_18_202506291/5/INCREMENTAL.16391", true, "PG_18_202506291/5/16391", true},
		{"INCREMENTAL.config", false, "INCREMENTAL.config", false},
		{"pg_stat/INCREMENTAL.x", false, "pg_stat/INCREMENTAL.x", false},
		{"base/5/16384", false, "base/5/16384", false},
		{"base/5/INCREMENTAL.", false, "base/5/INCREMENTAL.", false},
	} {
		got, ok := incremental.Target(tt.in, tt.tablespace)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Target(%q, %v) = %q, %v; want %q, %v", tt.in, tt.tablespace, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLabel(t *testing.T) {
	raw, err := os.ReadFile("../testdata/pg18-incremental.backup_label")
	if err != nil {
		t.Fatal(err)
	}
	l, err := incremental.ParseLabel(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Incremental() || l.StartLSN != 0xC00028 || l.StartTimeline != 1 || l.FromLSN != 0x900028 || l.FromTimeline != 1 {
		t.Errorf("label %+v", l)
	}
	stripped := incremental.StripLabel(raw)
	want := strings.Replace(string(raw), "INCREMENTAL FROM LSN: 0/900028\nINCREMENTAL FROM TLI: 1\n", "", 1)
	if string(stripped) != want || strings.Contains(want, "INCREMENTAL") {
		t.Errorf("stripped:\n%s", stripped)
	}
	full, err := incremental.ParseLabel(stripped)
	if err != nil || full.Incremental() {
		t.Errorf("stripped label %+v, %v", full, err)
	}
	if got := incremental.StripLabel([]byte("A\nINCREMENTAL FROM TLI: 1")); string(got) != "A\n" {
		t.Errorf("last line without newline: %q", got)
	}
	if _, err := incremental.ParseLabel([]byte("START WAL LOCATION: 0/C00028 (file x)\nSTART TIMELINE: 1\nINCREMENTAL FROM LSN: 0/1\n")); err == nil {
		t.Error("LSN without TLI accepted")
	}
	if _, err := incremental.ParseLabel([]byte("START TIMELINE: 1\n")); err == nil {
		t.Error("label without start accepted")
	}
	chain := []incremental.Label{{StartLSN: 0x900028, StartTimeline: 1}, l}
	if err := incremental.CheckChain(chain); err != nil {
		t.Error(err)
	}
	if err := incremental.CheckChain(chain[1:]); err == nil || !strings.Contains(err.Error(), "want a full one") {
		t.Errorf("chain starting incremental: %v", err)
	}
	if err := incremental.CheckChain([]incremental.Label{chain[0], chain[0]}); err == nil || !strings.Contains(err.Error(), "is a full backup") {
		t.Errorf("two fulls: %v", err)
	}
}
