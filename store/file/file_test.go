package file_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
	"github.com/logship/logship/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := file.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, want, errPart string
	}{
		{url: "file:///var/lib/logship", want: "/var/lib/logship"},
		{url: "/var/lib/logship/", want: "/var/lib/logship"},
		{url: "file://localhost/x", want: "/x"},
		{url: "file://relative/x", errPart: "has no host"},
		{url: "file:relative", errPart: "must be absolute"},
		{url: "ftp://x/y", errPart: "bad store URL"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			got, err := file.ParseURL(tt.url)
			if tt.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errPart) || !errors.Is(err, store.ErrConfig) {
					t.Fatalf("ParseURL(%q) = %q, %v; want error with %q", tt.url, got, err, tt.errPart)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseURL(%q) = %q, %v; want %q", tt.url, got, err, tt.want)
			}
		})
	}
}

func TestOpenRefusesMissingAndUnwritable(t *testing.T) {
	dir := t.TempDir()
	if _, err := file.Open(filepath.Join(dir, "missing")); !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing folder: %v", err)
	}
	f := filepath.Join(dir, "afile")
	os.WriteFile(f, nil, 0o644)
	if _, err := file.Open(f); !errors.Is(err, store.ErrConfig) {
		t.Fatalf("a file as store: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere; the unwritable case is covered by the CLI test as the postgres user")
	}
	// A read-only folder opens (reading commands work on it); a write
	// says it is not writable.
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o555)
	st, err := file.Open(ro)
	if err != nil {
		t.Fatalf("read-only folder: %v", err)
	}
	if err := st.Put(context.Background(), "a/b", strings.NewReader("x"), 1); !errors.Is(err, store.ErrConfig) || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("put into a read-only folder: %v", err)
	}
}
