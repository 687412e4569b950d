package pg_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

func TestParseLSN(t *testing.T) {
	tests := []struct {
		in   string
		want pg.LSN
		text string // String() of the result
	}{
		{"0/0", 0, "0/0"},
		{"16/B374D848", 0x16_B374D848, "16/B374D848"},
		{"0/3012998", 0x3012998, "0/3012998"},
		{"0/03012998", 0x3012998, "0/3012998"}, // PostgreSQL 18 pads
		{"16/b374d848", 0x16_B374D848, "16/B374D848"},
		{"FFFFFFFF/FFFFFFFF", 0xFFFFFFFF_FFFFFFFF, "FFFFFFFF/FFFFFFFF"},
		{"00000001/00000000", 1 << 32, "1/0"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := pg.ParseLSN(tt.in)
			if err != nil {
				t.Fatalf("ParseLSN(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseLSN(%q) = %#x, want %#x", tt.in, uint64(got), uint64(tt.want))
			}
			if s := got.String(); s != tt.text {
				t.Fatalf("String() = %q, want %q", s, tt.text)
			}
		})
	}
}

func TestParseLSNInvalid(t *testing.T) {
	for _, in := range []string{
		"", "/", "0/", "/0", "0", "0/0/0", "123456789/0", "0/123456789",
		"0x1/0", "-1/0", "+1/0", " 0/0", "0/0 ", "G/0", "0/1.5", "１/0",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := pg.ParseLSN(in)
			if !errors.Is(err, pg.ErrInvalidLSN) {
				t.Fatalf("ParseLSN(%q) err = %v, want ErrInvalidLSN", in, err)
			}
			if !strings.Contains(err.Error(), `"`+in+`"`) {
				t.Fatalf("error %q doesn't name the input", err)
			}
		})
	}
}

func TestLSNJSON(t *testing.T) {
	type rec struct {
		LSN pg.LSN `json:"lsn"`
	}
	b, err := json.Marshal(rec{0x16_B374D848})
	if err != nil || string(b) != `{"lsn":"16/B374D848"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var r rec
	if err := json.Unmarshal(b, &r); err != nil || r.LSN != 0x16_B374D848 {
		t.Fatalf("Unmarshal = %v, %v", r.LSN, err)
	}
	if err := json.Unmarshal([]byte(`{"lsn":"nope"}`), &r); !errors.Is(err, pg.ErrInvalidLSN) {
		t.Fatalf("Unmarshal of a bad LSN: %v", err)
	}
}
