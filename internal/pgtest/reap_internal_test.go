package pgtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

func TestReapOrphans(t *testing.T) {
	t.Parallel()
	c := Start(t, Options{})

	// Pretend the cluster belongs to a test process that was killed.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	owner := strconv.Itoa(dead.Process.Pid) + "\n" + c.DataDir + "\n"
	if err := os.WriteFile(filepath.Join(c.SocketDir, ownerFile), []byte(owner), 0o644); err != nil {
		t.Fatal(err)
	}
	// A dir without an owner file is not ours to judge.
	bystander := TempDir(t, clusterDirPattern)

	reapOrphans(c.BinDir)
	if c.Running() {
		t.Fatal("orphaned server still runs")
	}
	if _, err := os.Stat(c.SocketDir); !os.IsNotExist(err) {
		t.Fatalf("orphan dir %s not removed: %v", c.SocketDir, err)
	}
	if _, err := os.Stat(bystander); err != nil {
		t.Fatalf("dir without owner file was touched: %v", err)
	}
}
