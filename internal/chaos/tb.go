package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
)

// tb lets a program use internal/pgtest, whose API takes a testing.TB.
// The embedded interface is nil: it only supplies TB's unexported method,
// and every exported one is implemented here, so nothing reaches it.
// Fatal and Skip panic with tbStop, which pg (below) turns back into an
// error; Cleanup functions run, last first, when cleanup is called.
type tb struct {
	testing.TB
	cleanups []func()
	failed   bool
	log      io.Writer
}

// tbStop is what Fatal and Skip panic with.
type tbStop struct{ msg string }

func (t *tb) ArtifactDir() string          { return os.TempDir() }
func (t *tb) Attr(string, string)          {}
func (t *tb) Cleanup(f func())             { t.cleanups = append(t.cleanups, f) }
func (t *tb) Error(args ...any)            { t.failed = true; t.Log(args...) }
func (t *tb) Errorf(f string, args ...any) { t.failed = true; t.Logf(f, args...) }
func (t *tb) Fail()                        { t.failed = true }
func (t *tb) FailNow()                     { t.failed = true; panic(tbStop{"FailNow"}) }
func (t *tb) Failed() bool                 { return t.failed }
func (t *tb) Fatal(args ...any)            { t.failed = true; panic(tbStop{fmt.Sprint(args...)}) }
func (t *tb) Fatalf(f string, args ...any) { t.failed = true; panic(tbStop{fmt.Sprintf(f, args...)}) }
func (t *tb) Helper()                      {}
func (t *tb) Log(args ...any)              { fmt.Fprintln(t.log, args...) }
func (t *tb) Logf(f string, args ...any)   { fmt.Fprintf(t.log, f+"\n", args...) }
func (t *tb) Name() string                 { return "chaos" }
func (t *tb) Setenv(k, v string)           { _ = os.Setenv(k, v) }
func (t *tb) Chdir(dir string)             { _ = os.Chdir(dir) }
func (t *tb) Skip(args ...any)             { panic(tbStop{"skip: " + fmt.Sprint(args...)}) }
func (t *tb) SkipNow()                     { panic(tbStop{"skip"}) }
func (t *tb) Skipf(f string, args ...any)  { panic(tbStop{"skip: " + fmt.Sprintf(f, args...)}) }
func (t *tb) Skipped() bool                { return false }
func (t *tb) Context() context.Context     { return context.Background() }
func (t *tb) Output() io.Writer            { return t.log }

func (t *tb) TempDir() string {
	dir, err := os.MkdirTemp("", "chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// cleanup runs the registered cleanups, newest first.
func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() { _ = recover() }()
			t.cleanups[i]()
		}()
	}
	t.cleanups = nil
}

// pg runs f, which calls pgtest with t, and returns what would have failed
// a test as an error.
func (t *tb) pg(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s, ok := r.(tbStop)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", s.msg)
		}
	}()
	f()
	return nil
}
