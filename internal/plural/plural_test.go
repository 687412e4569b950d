package plural

import "testing"

func TestN(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{N(0, "segment"), "0 segments"},
		{N(1, "segment"), "1 segment"},
		{N(2, "segment"), "2 segments"},
		{N(int64(1), "entry", "entries"), "1 entry"},
		{N(uint64(3), "entry", "entries"), "3 entries"},
		{Word(1, "file"), "file"},
		{Word(-1, "file"), "files"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
