// Command logship ships PostgreSQL WAL and base backups to object storage
// and restores them to an exact mark. This package holds the command line
// only: flags, configuration, wiring and exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	fmt.Fprintf(stderr, "logship: %s\n", oneLine(err))
	return code
}
