package restore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/restore"
	"github.com/logship/logship/store/file"
)

// F3: an untargeted restore promoted with a quarter of the rows and no
// error. Replay must end inside (or at the end of) the newest segment the
// plan holds, or the restore fails.
func TestF3_CheckReachedEndOfUntargetedRestore(t *testing.T) {
	const seg = 16 << 20
	untargeted := restore.Plan{LastWAL: "000000010000000000000009", SegmentSize: seg,
		Recovery: restore.RecoveryTarget{Timeline: "latest"}}
	start9 := pg.SegmentStart(9, seg)
	tests := []struct {
		name      string
		plan      restore.Plan
		replayEnd string
		short     bool
	}{
		{"ended in the newest segment", untargeted, (start9 + 0x1234).String(), false},
		{"ended at its switch record", untargeted, pg.SegmentStart(10, seg).String(), false},
		{"ended at the start of the newest segment", untargeted, start9.String(), true},
		{"ended three segments short", untargeted, (pg.SegmentStart(6, seg) + 0x28).String(), true},
		{"no replay position", untargeted, "", true},
		{"a target: PostgreSQL checks it", restore.Plan{LastWAL: untargeted.LastWAL, SegmentSize: seg,
			Recovery: restore.RecoveryTarget{Name: "m1"}}, "0/1000000", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := restore.CheckReachedEnd(tt.plan, tt.replayEnd)
			if short := errors.Is(err, restore.ErrShortReplay); short != tt.short || (err != nil && !short) {
				t.Fatalf("CheckReachedEnd(%s) = %v, want short=%v", tt.replayEnd, err, tt.short)
			}
			if tt.short && !strings.Contains(err.Error(), tt.plan.LastWAL) {
				t.Errorf("error does not name the newest segment: %v", err)
			}
		})
	}
}

// F3: a store with no source record (an unmounted mount, a misspelt source
// or prefix) is no "end of the archive": FetchWAL must not answer ErrAbsent.
func TestF3_FetchWALWithoutSourceIsNotAbsent(t *testing.T) {
	st, err := file.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "RECOVERYXLOG")
	cat := catalog.New(st, "main")
	for _, name := range []string{"000000010000000000000003", "00000002.history"} {
		_, err := restore.FetchWAL(ctx, cat, name, dest)
		if err == nil || errors.Is(err, restore.ErrAbsent) || !errors.Is(err, catalog.ErrNoSource) {
			t.Fatalf("fetch %s without a source record: %v, want ErrNoSource and not ErrAbsent", name, err)
		}
	}
	// Once the source exists, an unrecorded file is absent.
	if _, err := cat.ClaimSource(ctx, catalog.Source{SystemID: 1, SegmentSize: 16 << 20, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := restore.FetchWAL(ctx, cat, "00000002.history", dest); !errors.Is(err, restore.ErrAbsent) {
		t.Fatalf("fetch of an unrecorded history file: %v, want ErrAbsent", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatal("a failed fetch wrote DEST")
	}
}
