package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/store"
)

// Exit codes. Each command's --help documents which it uses.
const (
	exitOK      = 0
	exitFailure = 1 // the operation itself failed (or, for wal-fetch: the file is absent)
	exitUsage   = 2 // bad arguments, bad configuration, bad input: fix the command and retry
	// exitFetchFatal is above 125 because PostgreSQL aborts recovery only on
	// such codes (or a signal); any lower code would read as "end of
	// archive" and silently end recovery early.
	exitFetchFatal = 200
	exitCancelled  = 130
)

// exitError carries an explicit exit code through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// usageErr marks bad input: arguments, configuration, names.
func usageErr(err error) error { return withCode(exitUsage, err) }

// exitCode maps an error to the process exit code, in one place.
func exitCode(err error) int {
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, store.ErrConfig), errors.Is(err, catalog.ErrWrongSystem), errors.Is(err, catalog.ErrPlaintextRefused):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitCancelled
	case errors.As(err, new(cli.ExitCoder)):
		// The framework's own refusals, such as help for an unknown topic.
		return exitUsage
	default:
		return exitFailure
	}
}

// oneLine keeps an error message on one line, as scripts and PostgreSQL's
// log expect.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// loggerKey is where setup leaves the command's logger in the app's
// Metadata, so that run can print the final error in the log format.
const loggerKey = "logship.logger"

// printError prints the error a command ended with, once: "logship: …" on
// one line, or with --log-format json a JSON record (level ERROR, the
// message and exit_code), so that a JSON log stays JSON to its last line.
func printError(stderr io.Writer, app *cli.App, args []string, err error, code int) {
	msg := oneLine(err)
	log, _ := app.Metadata[loggerKey].(*slog.Logger)
	if log == nil && jsonLogAsked(args) {
		// The command failed before its configuration was read (a
		// usage error): the flag or the environment is all there is.
		log = slog.New(slog.NewJSONHandler(stderr, nil))
	}
	if log != nil && log.Handler() != nil {
		if _, isJSON := log.Handler().(*slog.JSONHandler); isJSON {
			log.Error(msg, "exit_code", code)
			return
		}
	}
	fmt.Fprintf(stderr, "logship: %s\n", msg)
}

// jsonLogAsked tells whether the command line or the environment asks for
// JSON logs: "--log-format json", "--log-format=json" or
// LOGSHIP_LOG_FORMAT=json.
func jsonLogAsked(args []string) bool {
	asked := os.Getenv("LOGSHIP_LOG_FORMAT") == "json"
	for i, a := range args {
		a = strings.TrimPrefix(a, "-")
		switch {
		case a == "-log-format" && i+1 < len(args):
			asked = args[i+1] == "json"
		case strings.HasPrefix(a, "-log-format="):
			asked = strings.TrimPrefix(a, "-log-format=") == "json"
		}
	}
	return asked
}
