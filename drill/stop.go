package drill

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/logship/logship/pg/server"
)

// stopServers ends every postmaster of dataDir: the one postmaster.pid
// names and, on Linux, any whose command line names dataDir (one cancelled
// before it wrote postmaster.pid). SIGQUIT is PostgreSQL's immediate
// shutdown, which also ends its children; SIGKILL follows if it lingers.
// Bounded, since it also runs after a signal, within the wind-down.
func stopServers(dataDir string) {
	pids := serverPIDs(dataDir)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGQUIT)
	}
	if waitGone(pids, 2*time.Second) {
		return
	}
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitGone(pids, time.Second)
}

func serverPIDs(dataDir string) []int {
	var pids []int
	if pid, ok := server.RunningPID(dataDir); ok {
		pids = append(pids, pid)
	}
	return append(pids, ProcessesNaming(dataDir)...)
}

// ProcessesNaming lists the processes with arg among their command-line
// arguments, from /proc (none where there is no /proc).
func ProcessesNaming(arg string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// waitGone polls until no pid is alive, or within passes.
func waitGone(pids []int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		alive := false
		for _, pid := range pids {
			alive = alive || server.Alive(pid)
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}
