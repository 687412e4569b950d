package shipper_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/shipper"
	"github.com/logship/logship/store/mem"
)

// A timeline history file larger than PostgreSQL ever writes is refused as
// no WAL file when pushed from memory (logship receive's path), and nothing
// is stored: a create-only object could never be replaced. (Both the size
// check before reading and the content check refuse it.)
func TestOversizedHistoryFileIsRefused(t *testing.T) {
	st := mem.New()
	cat := catalog.New(st, "limit")
	// Well-formed lines (timelines and switch points increasing), only too
	// many of them.
	var b bytes.Buffer
	for tli := 1; int64(b.Len()) <= pg.MaxHistorySize; tli++ {
		fmt.Fprintf(&b, "%d\t%X/0\tno recovery target specified\n", tli, tli)
	}
	data := b.Bytes()
	_, err := shipper.PushWALBytes(context.Background(), cat, "FFFFFFFF.history", data, shipper.PushOptions{AllowPlaintext: true})
	if !errors.Is(err, shipper.ErrNotWALFile) {
		t.Fatalf("push of a %d-byte history file: %v, want ErrNotWALFile", len(data), err)
	}
	if has, _ := cat.HasWAL(context.Background(), "FFFFFFFF.history"); has {
		t.Fatal("the oversized history file was stored")
	}
}
