package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/logship/logship/store"
)

// Steps of ProbeWritable, as a ProbeError names them.
const (
	ProbeWrite   = "write"   // the probe could not be written
	ProbeRead    = "read"    // it was written but could not be read back
	ProbeCompare = "compare" // what was read back differs
	ProbeDelete  = "delete"  // it could not be deleted
	ProbeGone    = "gone"    // it is still there after the delete
)

// ProbeError says which step of ProbeWritable failed.
type ProbeError struct {
	Step string
	Key  string
	Err  error // nil for ProbeCompare and ProbeGone when the store answered
}

func (e *ProbeError) Error() string {
	return fmt.Sprintf("store probe %s: %s: %v", e.Key, e.Step, e.Err)
}

func (e *ProbeError) Unwrap() error { return e.Err }

// ProbeWritable writes, reads back and deletes a probe object under
// <source>/check/, the way wal-push writes, and returns its key. The probe
// is deleted whatever step fails. A source without a source record (new,
// or mistyped) is probed at .check-probe-<hex> in the store's top instead:
// a file store would otherwise be left with a folder for it, which then
// looks like a source.
func (c *Catalog) ProbeWritable(ctx context.Context) (key string, err error) {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	key = c.key("check/probe-" + hex.EncodeToString(rnd[:]))
	if _, err := c.Source(ctx); errors.Is(err, ErrNoSource) {
		key = ".check-probe-" + hex.EncodeToString(rnd[:])
	}
	body := []byte("logship check probe " + time.Now().UTC().Format(time.RFC3339Nano) + "\n")
	fail := func(step string, err error) (string, error) { return key, &ProbeError{Step: step, Key: key, Err: err} }
	if err := c.st.Put(ctx, key, bytes.NewReader(body), int64(len(body))); err != nil {
		return fail(ProbeWrite, err)
	}
	deleted := false
	defer func() {
		if !deleted {
			_ = c.st.Delete(context.WithoutCancel(ctx), key)
		}
	}()
	rc, err := c.st.Get(ctx, key)
	if err != nil {
		return fail(ProbeRead, err)
	}
	got, err := io.ReadAll(io.LimitReader(rc, int64(len(body))+1))
	rc.Close()
	if err != nil || !bytes.Equal(got, body) {
		return fail(ProbeCompare, err)
	}
	if err := c.st.Delete(ctx, key); err != nil {
		return fail(ProbeDelete, err)
	}
	if _, err := c.st.Stat(ctx, key); !errors.Is(err, store.ErrNotExist) {
		return fail(ProbeGone, err)
	}
	deleted = true
	return key, nil
}
