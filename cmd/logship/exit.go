package main

import (
	"context"
	"errors"
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
	case errors.Is(err, store.ErrConfig), errors.Is(err, catalog.ErrWrongSystem):
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
