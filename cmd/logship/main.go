// Command logship ships PostgreSQL WAL and base backups to object storage
// and restores them to an exact mark. This package holds the command line
// only: flags, configuration, wiring and exit codes.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

func main() {
	ctx, stop := interruptible(os.Stderr)
	code := run(ctx, os.Args, os.Stdout, os.Stderr)
	stop()
	exit(code)
}

// run executes one command line. ctx is cancelled only by SIGTERM or
// SIGINT, so a command that fails once it is cancelled was interrupted,
// whatever its error says (a killed child, a closed connection), unless
// the command chose the code itself (schedule, whose normal stop is
// SIGTERM).
func run(ctx context.Context, args []string, stdout, stderr *os.File) int {
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, interspersed(app, args))
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var explicit *exitError
	if ctx.Err() != nil && !errors.As(err, &explicit) {
		code = exitCancelled
	}
	if code == exitCancelled {
		err = fmt.Errorf("interrupted: %w", err)
	}
	fmt.Fprintf(stderr, "logship: %s\n", oneLine(err))
	return code
}
