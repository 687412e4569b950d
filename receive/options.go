// Package receive streams a PostgreSQL cluster's WAL into the store over
// the replication protocol, as a physical standby would receive it: the
// open segment as create-only pieces (catalog.PutWALPiece), each finished
// segment as the object wal-push stores (shipper.PushWALBytes). Its
// feedback reports as flushed only what is durable in the store, so that,
// named in synchronous_standby_names, it makes commits wait for the store.
package receive

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/logship/logship/object"
)

// Options tune a receiver.
type Options struct {
	// ConnString is the libpq connection string of the source; replication
	// and application_name are added to it.
	ConnString string
	// Slot is the physical replication slot, created when missing.
	Slot string
	// ApplicationName is what synchronous_standby_names matches.
	ApplicationName string
	// PartialInterval and PartialBytes bound how long and how many bytes the
	// open segment's newest bytes wait before they are stored as a piece.
	PartialInterval time.Duration
	PartialBytes    int
	// Synchronous stores every message as it arrives (one upload at a
	// time; what arrives meanwhile goes in the next).
	Synchronous bool
	// StatusInterval is the longest time between two status updates.
	StatusInterval time.Duration
	// MaxBackoff caps the wait between two reconnects.
	MaxBackoff     time.Duration
	Encode         object.EncodeOptions
	AllowPlaintext bool
	Logger         *slog.Logger
}

// Defaults of Options.
const (
	DefaultPartialInterval = time.Second
	DefaultPartialBytes    = 1 << 20
	DefaultStatusInterval  = 10 * time.Second
	DefaultMaxBackoff      = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if o.PartialInterval <= 0 {
		o.PartialInterval = DefaultPartialInterval
	}
	if o.PartialBytes <= 0 {
		o.PartialBytes = DefaultPartialBytes
	}
	if o.StatusInterval <= 0 {
		o.StatusInterval = DefaultStatusInterval
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// maxNameLen is PostgreSQL's NAMEDATALEN - 1.
const maxNameLen = 63

// DefaultSlot is the slot name of a source: logship_<source>, sanitised to
// what PostgreSQL accepts as a slot name (lowercase letters, digits and
// underscores, at most 63 characters).
func DefaultSlot(source string) string {
	var b strings.Builder
	b.WriteString("logship_")
	for _, r := range strings.ToLower(source) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	return s
}

// DefaultApplicationName is the application_name of a source's receiver:
// the slot's default name, which needs no quoting in
// synchronous_standby_names.
func DefaultApplicationName(source string) string { return DefaultSlot(source) }

// CheckSlotName refuses a name PostgreSQL would refuse as a slot name (or
// would need quoting for in the replication commands).
func CheckSlotName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("slot name %q: want 1 to %d characters", name, maxNameLen)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return fmt.Errorf("slot name %q: only lowercase letters, digits and _ are allowed", name)
		}
	}
	return nil
}
