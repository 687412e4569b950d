package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Restored on the source's own host, a backup keeps the source's port
// and socket directory, which the running source holds: restore picks the
// next free port with the socket in the data directory, and the start and
// stop commands it prints work as printed (as root too). With --start,
// the printed stop command works as printed.
func TestRestoreOnTheSourcesHostPrintsWorkingCommands(t *testing.T) {
	t.Parallel()
	c, _, flags := archivingCluster(t, defaultPG, "rsport")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "ALTER SYSTEM SET port = "+itoa(c.Port))
	c.Exec(t, "ALTER SYSTEM SET unix_socket_directories = '"+c.SocketDir+"'")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(pgFlags, "backup", "--fast")...)
	waitArchived(t, c, switchWAL(t, c))

	dir := newTargetDir(t)
	t.Cleanup(func() { stopServer(t, dir) })
	out := mustLogship(t, nil, append(flags, "restore", "--target-dir", dir, "--no-archive", "--immediate")...)
	if !strings.Contains(out, "the backup's port "+itoa(c.Port)+" is in use on this host") {
		t.Fatalf("restore does not say the port is taken:\n%s", out)
	}
	m := regexp.MustCompile(`start it with:\n   (.*)\nit listens on port (\d+), socket in (.*); stop it with:\n   (.*)\n`).FindStringSubmatch(out)
	if m == nil || m[2] == itoa(c.Port) || m[3] != dir {
		t.Fatalf("restore output:\n%s", out)
	}
	sh(t, m[1])
	waitQuery(t, "host="+m[3]+" port="+m[2]+" user=postgres dbname=postgres sslmode=disable")
	sh(t, m[4])
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err == nil {
		t.Error("the printed stop command left the server running")
	}

	dir2 := newTargetDir(t)
	t.Cleanup(func() { stopServer(t, dir2) })
	out = mustLogship(t, nil, append(flags, "restore", "--target-dir", dir2, "--no-archive", "--immediate",
		"--action", "pause", "--start", "--start-timeout", "50s")...)
	stop := regexp.MustCompile(`stop it with: (.*)\n`).FindStringSubmatch(out)
	if stop == nil || !strings.Contains(out, "is in use on this host") {
		t.Fatalf("restore --start output:\n%s", out)
	}
	sh(t, stop[1])
	if _, err := os.Stat(filepath.Join(dir2, "postmaster.pid")); err == nil {
		t.Error("the printed stop command left the server running")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// sh runs a printed command line as a user would paste it.
func sh(t *testing.T, line string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", line)
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
}

// waitQuery polls until a server answers on connString.
func waitQuery(t *testing.T, connString string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, connString)
		if err == nil {
			var one int
			err = conn.QueryRow(ctx, "SELECT 1").Scan(&one)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no server answers on %s: %v", connString, err)
		}
		time.Sleep(200 * time.Millisecond) // polling, with a deadline
	}
}
