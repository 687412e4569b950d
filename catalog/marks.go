package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/store"
)

// ErrDuplicateMark means the source already has a mark with that name.
// PostgreSQL recovers to the first restore point of a name, so a second one
// could never be reached.
var ErrDuplicateMark = errors.New("mark name already used")

// ErrInvalidMarkName is a name that cannot be a mark.
var ErrInvalidMarkName = errors.New("invalid mark name")

// Mark is a named restore point of the source.
type Mark struct {
	Name     string        `json:"name"`
	LSN      pg.LSN        `json:"lsn"` // as PostgreSQL prints it, e.g. 0/3000090
	Timeline pg.TimelineID `json:"timeline"`
	Time     time.Time     `json:"time"`
	Source   string        `json:"source"`
}

var markNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,62}$`)

// ValidMarkName checks a mark name; "latest" is reserved for restore.
func ValidMarkName(name string) error {
	if !markNameRE.MatchString(name) || name == "latest" {
		return fmt.Errorf("%w %q: use 1-63 letters, digits, '_', '.', ':', '-', starting with a letter or digit (\"latest\" is reserved)", ErrInvalidMarkName, name)
	}
	return nil
}

func (c *Catalog) markNameKey(name string) string { return c.key("catalog/marknames/" + name) }
func (c *Catalog) markPrefix() string             { return c.key("catalog/marks/") }

// ReserveMark claims name for a new mark before the restore point exists,
// create-only, so that two concurrent marks of one name cannot both win.
// It is ClaimMark without the report: a reservation left by an interrupted
// mark is taken over or completed the same way.
func (c *Catalog) ReserveMark(ctx context.Context, name string) error {
	_, err := c.ClaimMark(ctx, name)
	return err
}

// ReleaseMark gives a reserved name back when the restore point failed.
func (c *Catalog) ReleaseMark(ctx context.Context, name string) error {
	return c.st.Delete(ctx, c.markNameKey(name))
}

// AddMark stores a mark whose name was reserved: its object, then its
// record. Like WAL records, the record's key holds every fact: name ~ LSN
// (16 hex digits) ~ timeline ~ unix nanoseconds.
func (c *Catalog) AddMark(ctx context.Context, m Mark) error {
	err := c.putDoc(ctx, c.markObjectKey(m.Name), m.Name, markDoc{Mark: m, LSNValue: uint64(m.LSN)})
	if err != nil && !errors.Is(err, store.ErrExist) {
		return fmt.Errorf("store mark %s: %w", m.Name, err)
	}
	if err := c.markNameUsed(ctx, m.Name); err != nil {
		return err
	}
	return c.addMarkRecord(ctx, m)
}

// markNameUsed leaves a key beside the reservation that says the name was
// recorded: purge deletes a mark's object and record but not this, so a
// reservation without a record is told from a purged mark's (ClaimMark).
func (c *Catalog) markNameUsed(ctx context.Context, name string) error {
	err := c.st.Put(ctx, c.markNameKey(name)+recordSep+"recorded", bytes.NewReader(nil), 0)
	if err != nil && !errors.Is(err, store.ErrExist) {
		return fmt.Errorf("mark %s: %w", name, err)
	}
	return nil
}

// markDoc is a mark as its object holds it: the LSN also as a number,
// which is what catalog rebuild reads.
type markDoc struct {
	Mark
	LSNValue uint64 `json:"lsn_value"`
}

func (c *Catalog) addMarkRecord(ctx context.Context, m Mark) error {
	key := c.markPrefix() + strings.Join([]string{
		m.Name, fmt.Sprintf("%016X", uint64(m.LSN)), strconv.FormatUint(uint64(m.Timeline), 10), strconv.FormatInt(m.Time.UnixNano(), 10),
	}, recordSep)
	err := c.st.Put(ctx, key, bytes.NewReader(nil), 0)
	if err != nil && !errors.Is(err, store.ErrExist) {
		return fmt.Errorf("record mark %s: %w", m.Name, err)
	}
	return nil
}

// Marks lists every mark, oldest (lowest LSN) first. A key that is not a
// mark record is skipped and remembered for StrayKeys. Two records of one
// name (which ReserveMark prevents, but a copied store may hold) are both
// listed: verify names them.
func (c *Catalog) Marks(ctx context.Context) ([]Mark, error) {
	var marks []Mark
	prefix := c.markPrefix()
	err := c.st.List(ctx, prefix, func(oi store.ObjectInfo) error {
		m, ok := parseMarkKey(strings.TrimPrefix(oi.Key, prefix))
		if !ok {
			c.stray.add(oi.Key)
			return nil
		}
		m.Source = c.source
		marks = append(marks, m)
		return nil
	})
	sortMarks(marks)
	return marks, err
}

// parseMarkKey reads a mark record key (relative to the prefix): name ~
// LSN ~ timeline ~ unix nanoseconds. A name no mark could have (mark
// refuses it) makes the key no record: a stray key.
func parseMarkKey(rel string) (Mark, bool) {
	f := strings.Split(rel, recordSep)
	if len(f) != 4 || !markNameRE.MatchString(f[0]) {
		return Mark{}, false
	}
	lsn, err1 := strconv.ParseUint(f[1], 16, 64)
	tli, err2 := strconv.ParseUint(f[2], 10, 32)
	ns, err3 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return Mark{}, false
	}
	return Mark{Name: f[0], LSN: pg.LSN(lsn), Timeline: pg.TimelineID(tli), Time: time.Unix(0, ns).UTC()}, true
}

// LatestMark is the mark made last: by time, not LSN, because after a
// failover the newest mark lies on the new timeline, whose LSNs may be
// below those of marks on the old one. Restore's --mark latest, status and
// the daemon all mean this one.
func LatestMark(marks []Mark) (Mark, bool) {
	if len(marks) == 0 {
		return Mark{}, false
	}
	latest := marks[0]
	for _, m := range marks[1:] {
		if m.Time.After(latest.Time) || (m.Time.Equal(latest.Time) && m.LSN > latest.LSN) {
			latest = m
		}
	}
	return latest, true
}
