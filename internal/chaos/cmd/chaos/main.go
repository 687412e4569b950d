// Command chaos runs logship's fault campaign (package internal/chaos)
// against a logship binary: $CHAOS_BIN, else one built from ./cmd/logship
// (run it from the repository root). It exits 1 on any loss, corruption,
// silent short restore, panic or hang, 2 when the campaign could not run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/logship/logship/internal/chaos"
)

func main() {
	os.Exit(run())
}

func run() int {
	cfg, err := chaos.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		return 2
	}
	cfg.Bin = os.Getenv("CHAOS_BIN")
	if cfg.Bin == "" {
		dir, err := os.MkdirTemp("", "chaos-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
		defer os.RemoveAll(dir)
		// PostgreSQL runs the binary as the postgres OS user.
		os.Chmod(dir, 0o755)
		cfg.Bin = filepath.Join(dir, "logship")
		build := exec.Command("go", "build", "-o", cfg.Bin, "./cmd/logship")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "chaos: build logship (run from the repository root, or set CHAOS_BIN):", err)
			return 2
		}
	}
	// An interrupt ends the campaign early but still stops its servers and
	// unmounts its tmpfs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg.Stop = func() bool { return ctx.Err() != nil }
	fig, findings, err := chaos.Run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos: campaign stopped:", err)
		return 2
	}
	if fig.Bad() > 0 || len(findings) > 0 {
		fmt.Fprintf(os.Stderr, "chaos: FAILED: %d findings\n", len(findings))
		return 1
	}
	fmt.Println("chaos: no loss")
	return 0
}
