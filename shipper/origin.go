package shipper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
)

// recordOrigin records, on the push of a timeline's history file, which
// host (and data directory) ships the new timeline: the server that was
// just promoted. It only informs (status, catalog list), so a failure is
// logged, not returned: it must never fail archiving.
func recordOrigin(ctx context.Context, cat *catalog.Catalog, path string, wf pg.WALFile, opts PushOptions) {
	if wf.Kind != pg.History {
		return
	}
	host, _ := os.Hostname()
	o := catalog.TimelineOrigin{Timeline: uint32(wf.Timeline), Host: host, DataDir: dataDirOf(path), Time: time.Now().UTC()}
	if err := cat.RecordTimelineOrigin(ctx, o); err != nil && opts.Logger != nil {
		opts.Logger.Warn("could not record which server ships the new timeline", "timeline", o.Timeline, "err", err.Error())
	}
}

// dataDirOf is the data directory of a file PostgreSQL archives from
// pg_wal (archive_command runs in the data directory, %p is relative to
// it), or "" when path is elsewhere.
func dataDirOf(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil || filepath.Base(filepath.Dir(abs)) != "pg_wal" {
		return ""
	}
	return filepath.Dir(filepath.Dir(abs))
}

// recordSwitchPoints stores in clear the switch points of a history file
// that is stored encrypted, before its WAL record, so that the chain
// (catalog list, status, verify) follows timelines without an identity.
// Unlike the origin it fails the push: without it those commands would.
func recordSwitchPoints(ctx context.Context, cat *catalog.Catalog, wf pg.WALFile, data []byte, opts PushOptions) error {
	if wf.Kind != pg.History || opts.Encode.Encrypt == nil {
		return nil
	}
	h, err := pg.CheckHistoryFile(wf.Timeline, data)
	if err != nil {
		return err
	}
	if err := cat.RecordSwitchPoints(ctx, wf.Timeline, h); err != nil {
		return fmt.Errorf("record the switch points of %s: %w", wf.Name, err)
	}
	return nil
}
