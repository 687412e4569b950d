package file_test

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/logship/logship/store/file"
)

// Whoever writes, new files and folders get the store folder's owner and
// mode: root writing into a postgres-owned store leaves postgres-owned
// objects, files without x and never writable by others.
func TestPutTakesTheStoresOwnerAndMode(t *testing.T) {
	root := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("no postgres user to own the store")
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(root, 0o757|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	st, err := file.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("hello")
	if err := st.Put(context.Background(), "src/wal/x", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rel  string
		mode os.FileMode
	}{
		{"src", 0o757 | os.ModeSetgid | os.ModeDir},
		{"src/wal", 0o757 | os.ModeSetgid | os.ModeDir},
		{"src/wal/x", 0o644},
	} {
		fi, err := os.Stat(filepath.Join(root, c.rel))
		if err != nil {
			t.Fatal(err)
		}
		sys := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.rel, fi.Mode(), c.mode)
		}
		if os.Geteuid() == 0 && (int(sys.Uid) != uid || int(sys.Gid) != gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", c.rel, sys.Uid, sys.Gid, uid, gid)
		}
	}
}
