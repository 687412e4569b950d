package object

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

// TestHeaderLayout pins the byte layout documented in docs/FORMAT.md: if this
// test has to change, so does the format version and the document.
func TestHeaderLayout(t *testing.T) {
	h := Header{
		Version:     Version,
		Kind:        KindHistory,
		Compression: Zstd,
		Name:        "00000002.history",
		RawSize:     0x0102,
		BodySize:    0x03,
		BodyCRC32C:  0xa1b2c3d4,
		Meta:        map[string]string{"timeline": "2", "a": ""},
	}
	for i := range h.RawSHA256 {
		h.RawSHA256[i] = byte(i)
	}
	size, err := h.encodedSize()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	h.put(b)

	want := strings.Join([]string{
		"89 4c 53 4f 0d 0a 1a 0a", // magic
		"01 02 01 00",             // version, kind, compression, flags
		"6b 00 00 00",             // header size 107
		"02 01 00 00 00 00 00 00", // raw size
		"03 00 00 00 00 00 00 00", // body size
		"d4 c3 b2 a1",             // body crc32c
		"00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f", // raw sha256
		"10", hex.EncodeToString([]byte("00000002.history")), // name
		"02 00",                        // meta count
		"01 61 00 00",                  // "a" = ""
		"08 74696d656c696e65 01 00 32", // "timeline" = "2"
	}, "")
	wantBytes, err := hex.DecodeString(strings.ReplaceAll(want, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b[:len(b)-crcSize], wantBytes) {
		t.Fatalf("header\n got %x\nwant %x", b[:len(b)-crcSize], wantBytes)
	}
	got, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != h.Name || got.RawSize != h.RawSize || got.BodyCRC32C != h.BodyCRC32C || got.Meta["timeline"] != "2" || len(got.Meta) != 2 {
		t.Fatalf("read back %+v", got)
	}
}

func TestEncoderLevels(t *testing.T) {
	for level := -1; level <= 23; level++ {
		_, err := encoderLevel(level)
		if valid := level >= 0 && level <= 22; valid != (err == nil) {
			t.Errorf("level %d: err %v", level, err)
		}
	}
}
