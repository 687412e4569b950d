package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/logship/logship/store"
)

// Pin kinds.
const (
	PinMark   = "mark"
	PinBackup = "backup"
)

// ErrNotFound means a pin names neither a mark nor a backup of the source.
var ErrNotFound = errors.New("no such mark or backup")

// Pin keeps a mark or a backup from purge, whatever the retention policy:
// a pinned mark stays restorable (its backup, that backup's ancestors and
// the WAL up to the mark stay), a pinned backup stays with all it needs.
type Pin struct {
	Kind string `json:"kind"` // "mark" or "backup"
	Name string `json:"name"` // the mark's name or the backup's ID
}

func (p Pin) String() string { return p.Kind + " " + p.Name }

func (c *Catalog) pinPrefix() string { return c.key("catalog/pins/") }

// pinKey is catalog/pins/KIND~NAME: an empty object whose key is the whole
// record. keep creates it, unkeep deletes it; neither names nor IDs hold '~'.
func (c *Catalog) pinKey(p Pin) string { return c.pinPrefix() + p.Kind + recordSep + p.Name }

// ResolvePin says what name is: a mark of the source (tried first, since
// marks are what people name) or a backup ID.
func (c *Catalog) ResolvePin(ctx context.Context, name string) (Pin, error) {
	marks, err := c.Marks(ctx)
	if err != nil {
		return Pin{}, err
	}
	for _, m := range marks {
		if m.Name == name {
			return Pin{Kind: PinMark, Name: name}, nil
		}
	}
	backups, err := c.Backups(ctx)
	if err != nil {
		return Pin{}, err
	}
	for _, b := range backups {
		if b.ID == name {
			return Pin{Kind: PinBackup, Name: name}, nil
		}
	}
	return Pin{}, fmt.Errorf("%w named %q in source %s (logship catalog list shows them)", ErrNotFound, name, c.source)
}

// Keep pins p. Pinning what is pinned already is not an error.
func (c *Catalog) Keep(ctx context.Context, p Pin) error {
	if strings.Contains(p.Name, recordSep) || p.Name == "" {
		return fmt.Errorf("%w: %q", ErrNotFound, p.Name)
	}
	err := c.st.Put(ctx, c.pinKey(p), bytes.NewReader(nil), 0)
	if err != nil && !errors.Is(err, store.ErrExist) {
		return fmt.Errorf("pin %s: %w", p, err)
	}
	return nil
}

// Unkeep removes the pin, if there is one: purge judges p by the policy
// again.
func (c *Catalog) Unkeep(ctx context.Context, p Pin) error {
	if err := c.st.Delete(ctx, c.pinKey(p)); err != nil {
		return fmt.Errorf("unpin %s: %w", p, err)
	}
	return nil
}

// Pins lists the pins, sorted by kind and name. Keys that are not pins are
// remembered for StrayKeys.
func (c *Catalog) Pins(ctx context.Context) ([]Pin, error) {
	pins := []Pin{}
	prefix := c.pinPrefix()
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		kind, name, ok := strings.Cut(strings.TrimPrefix(oi.Key, prefix), recordSep)
		if !ok || name == "" || (kind != PinMark && kind != PinBackup) {
			c.stray.add(oi.Key)
			return nil
		}
		pins = append(pins, Pin{Kind: kind, Name: name})
		return nil
	})
	sort.Slice(pins, func(i, j int) bool {
		if pins[i].Kind != pins[j].Kind {
			return pins[i].Kind < pins[j].Kind
		}
		return pins[i].Name < pins[j].Name
	})
	return pins, err
}

// pinSet is the pins by kind, for purge.
type pinSet struct{ marks, backups map[string]bool }

func (c *Catalog) pinSet(ctx context.Context) (pinSet, error) {
	s := pinSet{marks: map[string]bool{}, backups: map[string]bool{}}
	pins, err := c.Pins(ctx)
	if err != nil {
		return s, fmt.Errorf("list pins: %w", err)
	}
	for _, p := range pins {
		if p.Kind == PinMark {
			s.marks[p.Name] = true
		} else {
			s.backups[p.Name] = true
		}
	}
	return s, nil
}

// keepPinned keeps every pinned backup and, for every pinned mark, the
// backup a restore to it starts from; keepAncestors then keeps what those
// build on, and the cutoff (the oldest kept backup's start) keeps the
// marks and WAL after them.
func keepPinned(ch *Chain, keep []string, pins pinSet) {
	index := make(map[string]int, len(ch.Backups))
	for i, b := range ch.Backups {
		index[b.ID] = i
		if pins.backups[b.ID] {
			keep[i] = joinReason(keep[i], "pinned (logship catalog keep)")
		}
	}
	for _, m := range ch.Marks {
		if !pins.marks[m.Name] {
			continue
		}
		if r, err := ch.ReachMark(m, nil); err == nil {
			i := index[r.Backup.ID]
			keep[i] = joinReason(keep[i], "needed by pinned mark "+m.Name)
		}
	}
}

func joinReason(have, why string) string {
	if have == "" {
		return why
	}
	return have + "; " + why
}
