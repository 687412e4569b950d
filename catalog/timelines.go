package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// TimelineOrigin says which server started shipping a timeline: after a
// failover, the promoted one, so that status and catalog list can say
// which server is now the source.
type TimelineOrigin struct {
	Timeline uint32    `json:"timeline"`
	Host     string    `json:"host"`
	DataDir  string    `json:"data_dir,omitempty"`
	Time     time.Time `json:"time"`
}

// maxTimelineOrigin bounds the record read back: a host name and a path.
const maxTimelineOrigin = 64 << 10

func (c *Catalog) timelineKey(tli pg.TimelineID) string {
	return c.key(fmt.Sprintf("catalog/timelines/%08X.json", uint32(tli)))
}

// RecordTimelineOrigin records who ships o.Timeline, create-only: the
// first writer (the server that pushed the timeline's history file) wins,
// and a retry or a later push changes nothing.
func (c *Catalog) RecordTimelineOrigin(ctx context.Context, o TimelineOrigin) error {
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	err = c.st.Put(ctx, c.timelineKey(pg.TimelineID(o.Timeline)), bytes.NewReader(b), int64(len(b)))
	if errors.Is(err, store.ErrExist) {
		return nil
	}
	return err
}

// TimelineOrigins reads every timeline origin record, by timeline. A
// record that cannot be read is skipped: it only informs.
func (c *Catalog) TimelineOrigins(ctx context.Context) (map[uint32]TimelineOrigin, error) {
	out := map[uint32]TimelineOrigin{}
	prefix := c.key("catalog/timelines/")
	var keys []string
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		name := strings.TrimPrefix(oi.Key, prefix)
		if hex, ok := strings.CutSuffix(name, ".json"); ok && len(hex) == 8 {
			if _, err := strconv.ParseUint(hex, 16, 32); err == nil {
				keys = append(keys, oi.Key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		var o TimelineOrigin
		if err := c.getJSON(ctx, k, &o, maxTimelineOrigin); err == nil && o.Timeline != 0 {
			out[o.Timeline] = o
		}
	}
	return out, nil
}

// addOrigins fills in the origin of each summarized timeline that has one.
func (c *Catalog) addOrigins(ctx context.Context, ts []TimelineSummary) error {
	origins, err := c.TimelineOrigins(ctx)
	if err != nil {
		return err
	}
	for i := range ts {
		if o, ok := origins[ts[i].Timeline]; ok {
			ts[i].Origin = &o
		}
	}
	return nil
}
