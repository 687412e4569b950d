package catalog_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store/file"
)

// A purge on a file store leaves no empty backups/<id>/ folder behind.
func TestPurgeLeavesNoEmptyBackupFolders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := fourBackups(t)
	p, err := ps.cat.PlanPurge(ctx, catalog.RetentionPolicy{KeepBackups: 2}, ps.at(20))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.cat.Purge(ctx, p); err != nil {
		t.Fatal(err)
	}
	root := ps.st.(*file.Store).Root
	for _, id := range []string{"b1", "b2"} {
		dir := filepath.Join(root, filepath.FromSlash(ps.cat.BackupPrefix(id)))
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("purged backup %s left its folder %s (%v)", id, dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(ps.cat.BackupPrefix("b3")))); err != nil {
		t.Errorf("kept backup b3 lost its folder: %v", err)
	}
}
