package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg/server"
)

// TestStartWaitStop runs a data directory that pgtest made through the
// package alone: start, wait for a state, read the log of a start that
// failed, read pg_controldata, stop.
func TestStartWaitStop(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})
	c.Stop(t)
	srv := c.Server()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	args := []string{"-p", strconv.Itoa(c.Port), "-k", c.SocketDir, "-c", "listen_addresses="}
	proc, err := srv.Start(c.LogFile, args...)
	if err != nil {
		t.Fatal(err)
	}
	// Stopped in any case: the cleanup of c stops only what pg_ctl sees.
	defer srv.Stop(context.WithoutCancel(ctx), "immediate")
	var pid server.PIDFile
	ready := func() bool {
		pid, err = server.ReadPIDFile(srv.DataDir)
		return err == nil && pid.Ready()
	}
	if got := proc.Wait(ctx, time.Minute, 20*time.Millisecond, ready); got != server.Reached {
		t.Fatalf("Wait = %v (exit %v):\n%s", got, proc.ExitErr(), proc.Log())
	}
	if pid.PID != proc.PID || pid.Port != c.Port || pid.SocketDir != c.SocketDir {
		t.Errorf("pid file %+v, started pid %d on port %d", pid, proc.PID, c.Port)
	}
	if p, ok := server.RunningPID(srv.DataDir); !ok || p != proc.PID {
		t.Errorf("RunningPID = %d, %v", p, ok)
	}
	if !srv.Running(ctx) {
		t.Error("pg_ctl status says the server is not running")
	}

	// A second server on the same directory stops at once, and says why.
	second, err := srv.Start(c.LogFile, args...)
	if err != nil {
		t.Fatal(err)
	}
	if got := second.Wait(ctx, time.Minute, 20*time.Millisecond, func() bool { return false }); got != server.Exited || second.ExitErr() == nil {
		t.Fatalf("second server: Wait = %v, exit %v", got, second.ExitErr())
	}
	if fatal := server.FatalLine(second.Log()); !strings.Contains(fatal, `FATAL:  lock file "postmaster.pid" already exists`) {
		t.Errorf("FatalLine = %q", fatal)
	}

	if err := srv.Stop(ctx, "fast"); err != nil {
		t.Fatal(err)
	}
	if got := proc.Wait(ctx, time.Minute, 20*time.Millisecond, func() bool { return false }); got != server.Exited || proc.ExitErr() != nil {
		t.Errorf("after Stop: Wait = %v, exit %v", got, proc.ExitErr())
	}
	if srv.Running(ctx) {
		t.Error("running after Stop")
	}
	if err := srv.Stop(ctx, "fast"); err != nil {
		t.Errorf("stopping a stopped server: %v", err)
	}
	control, err := srv.ControlData(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := control["Database cluster state"]; got != "shut down" {
		t.Errorf("cluster state %q", got)
	}
	if _, err := os.Stat(filepath.Join(srv.DataDir, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
}

// TestCancelledWait leaves the server running when the caller gives up.
func TestCancelledWait(t *testing.T) {
	t.Parallel()
	c := pgtest.Start(t, pgtest.Options{})
	c.Stop(t)
	srv := c.Server()
	proc, err := srv.Start(c.LogFile, "-p", strconv.Itoa(c.Port), "-k", c.SocketDir, "-c", "listen_addresses=")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background(), "immediate")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := proc.Wait(ctx, time.Minute, time.Hour, func() bool { return true }); got != server.Cancelled {
		t.Errorf("Wait with a cancelled context = %v", got)
	}
	if got := proc.Wait(context.Background(), time.Millisecond, time.Hour, func() bool { return true }); got != server.TimedOut {
		t.Errorf("Wait past its timeout = %v", got)
	}
}
