package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// Deleting the last object of a folder removes the folder and its empty
// parents up to the root: purge leaves no empty backups/<id>/ behind.
func TestDeleteRemovesEmptyFolders(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := file.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"src/backups/b1/part-000001", "src/backups/b1/part-000002", "src/catalog/source"} {
		if err := s.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"src/backups/b1/part-000001", "src/backups/b1/part-000002"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "src", "backups")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("empty folders left behind: stat src/backups: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "src", "catalog", "source")); err != nil {
		t.Fatalf("a sibling object went too: %v", err)
	}
	if err := s.Delete(ctx, "src/catalog/source"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(root); err != nil {
		t.Fatalf("the store root itself went: %v", err)
	}
}

// A Put into a folder that a concurrent Delete is removing still succeeds.
func TestPutRacesFolderRemoval(t *testing.T) {
	ctx := context.Background()
	s, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				k := fmt.Sprintf("src/backups/b%d/part-%d-%d", i%3, w, i)
				if err := s.Put(ctx, k, strings.NewReader("x"), 1); err != nil {
					errs <- err
					return
				}
				if err := s.Delete(ctx, k); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
