package catalog

import (
	"errors"
	"testing"
)

func TestAncestry(t *testing.T) {
	full := Backup{ID: "a", SystemID: 7, StartLSN: 0x1000028}
	inc1 := Backup{ID: "b", SystemID: 7, StartLSN: 0x3000028, Kind: KindIncremental, Parent: "a", ParentStartLSN: 0x1000028}
	inc2 := Backup{ID: "c", SystemID: 7, StartLSN: 0x5000028, Kind: KindIncremental, Parent: "b", ParentStartLSN: 0x3000028}
	ch := NewChain(nil, nil, []Backup{full, inc1, inc2}, nil, nil)
	got, err := ch.Ancestry(inc2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "a" || got[1].ID != "b" || got[2].ID != "c" {
		t.Fatalf("ancestry %v", got)
	}
	if got, err := ch.Ancestry(full); err != nil || len(got) != 1 {
		t.Fatalf("full backup: %v %v", got, err)
	}

	keep := []string{"", "", "newest"}
	keepAncestors(ch, keep)
	if keep[0] == "" || keep[1] == "" {
		t.Fatalf("ancestors not kept: %q", keep)
	}

	broken := NewChain(nil, nil, []Backup{full, inc2}, nil, nil)
	if _, err := broken.Ancestry(inc2); !errors.Is(err, ErrBrokenAncestry) {
		t.Fatalf("missing parent: %v", err)
	}
	if broken.ancestryWhole(inc2) {
		t.Fatal("a chain without its middle is whole")
	}
	wrong := inc1
	wrong.ParentStartLSN = 0x2000000
	if _, err := NewChain(nil, nil, []Backup{full, wrong}, nil, nil).Ancestry(wrong); !errors.Is(err, ErrBrokenAncestry) {
		t.Fatalf("parent start mismatch: %v", err)
	}
}
