package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// defaultWindDown is how long a command may take to stop after SIGTERM or
// SIGINT before the process exits anyway: long enough to remove a temp
// file or close a connection, short enough that a command stuck where no
// context reaches (an open(2) of a FIFO, a read from a silent peer) still
// ends promptly.
const defaultWindDown = 5 * time.Second

// windDown is the current command's allowance, in nanoseconds; schedule
// raises it to its own stop grace and timeout.
var windDown atomic.Int64

func init() { windDown.Store(int64(defaultWindDown)) }

// setWindDown gives the command d to stop after a signal, plus a margin
// for the process to print and exit.
func setWindDown(d time.Duration) { windDown.Store(int64(d + time.Second)) }

// exitMu makes the process exit once, whether the command returns or the
// wind-down runs out first.
var exitMu sync.Mutex

func exit(code int) {
	exitMu.Lock()
	os.Exit(code)
}

// interruptible returns a context that SIGTERM and SIGINT cancel. After
// the first signal the command has its wind-down to return; a second
// signal, or the end of the wind-down, exits at once with 130.
func interruptible(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		var sig os.Signal
		select {
		case sig = <-sigs:
		case <-done:
			return
		}
		cancel()
		limit := time.Duration(windDown.Load())
		timer := time.NewTimer(limit)
		why := fmt.Sprintf("did not stop within %s", limit)
		select {
		case <-timer.C:
		case sig = <-sigs:
			why = "second signal"
		case <-done:
			return
		}
		exitMu.Lock()
		fmt.Fprintf(stderr, "logship: interrupted (%s): %s; exiting\n", sig, why)
		os.Exit(exitCancelled)
	}()
	return ctx, func() {
		close(done)
		signal.Stop(sigs)
		cancel()
	}
}
