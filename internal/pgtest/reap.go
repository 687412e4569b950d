package pgtest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/logship/logship/pg/server"
)

// A test binary killed by a timeout or ^C never runs its cleanups, and its
// servers would live on, eating memory on a shared machine. So each cluster
// dir records its owner's pid and data dir in ownerFile, and the first
// cluster a test process starts stops the servers of owners that are gone.

const (
	clusterDirPattern = "logship-pg-"
	ownerFile         = "owner"
)

var reapOnce sync.Once

func (c *Cluster) writeOwner() error {
	content := strconv.Itoa(os.Getpid()) + "\n" + c.DataDir + "\n"
	return os.WriteFile(filepath.Join(c.SocketDir, ownerFile), []byte(content), 0o644)
}

// reapOrphans stops the servers of dead test processes and removes their
// cluster dirs. Dirs without an owner file are left alone: they may be
// being made right now, or not be ours at all.
func reapOrphans(binDir string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), clusterDirPattern+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pidText, dataDir, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || server.Alive(pid) {
			continue
		}
		if dataDir != "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			// Fails harmlessly when no server runs there.
			u, _ := serverUser()
			srv := &server.Server{BinDir: binDir, DataDir: dataDir, Env: serverEnv(dir, nil), User: u, WorkDir: os.TempDir()}
			_, _ = run(srv.PgCtl(ctx, "stop", "-m", "immediate", "-w"))
			cancel()
		}
		_ = os.RemoveAll(dir)
	}
}
