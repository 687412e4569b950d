package shipper

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/sqlsource"
)

// GroupMember is one source of a group and how to reach its server.
type GroupMember struct {
	Source     string
	ConnString string
}

// GroupMarkOptions tune a group mark.
type GroupMarkOptions struct {
	// QuiesceTimeout is how long to wait for the members' prepared
	// transactions to finish before marking; 0 = 10 s.
	QuiesceTimeout time.Duration
	// NoSwitch and Wait are as for MarkOptions, per member.
	NoSwitch bool
	Wait     time.Duration
	// Notice is as for MarkOptions, per member.
	Notice func(string)
}

// GroupMark is the record of a mark made on every member of a group at once.
type GroupMark struct {
	Group string `json:"group"`
	Name  string `json:"name"`
	// Time is the earliest of the members' restore point times.
	Time time.Time `json:"time"`
	// Skew is the spread of the members' restore point times, each read
	// from its own server's clock.
	Skew    time.Duration  `json:"skew_ns"`
	Members []catalog.Mark `json:"members"`
}

var (
	// ErrInvalidGroup is a group that cannot be marked as given: a bad
	// name, no members, a member twice, a member without a server.
	ErrInvalidGroup = errors.New("invalid group")
	// ErrPreparedTransactions means a member still had prepared (two-phase)
	// transactions when the quiesce timeout passed; nothing was marked.
	ErrPreparedTransactions = errors.New("prepared transactions did not finish")
	// ErrGroupMarkIncomplete means restore points were created, and are
	// recorded as single-source marks, but they do not form a group mark.
	ErrGroupMarkIncomplete = errors.New("group mark incomplete")
)

var groupNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// groupPoll is how often prepared transactions are looked for.
const groupPoll = 100 * time.Millisecond

type groupMember struct {
	GroupMember
	cat      *catalog.Catalog
	conn     *sqlsource.Source
	reserved bool
	// filled by the restore point
	mark     catalog.Mark
	segSize  uint64 // the source's WAL segment size
	prepared int64
	err      error
}

// MarkGroup creates a restore point called name on every member of group,
// all at once, records each as the member's mark, and records the group
// mark beside the sources. catalogOf opens the catalog of a source; every
// member's source must be in that store and its server must be that
// source's cluster. The name is reserved on every member
// first; if any member has it already, nothing is marked and the
// reservations of this call are released.
//
// It then waits (up to QuiesceTimeout) until no member has a prepared
// transaction, creates the restore points from one goroutine per member,
// started together, and checks for prepared transactions again in the
// restore point's own statement and once every point exists.
//
// What a group mark guarantees, restored with the same --mark on every
// member:
//   - each member is exactly at its own mark (as for Mark);
//   - across members, no two-phase transaction is in doubt at the mark:
//     none was prepared on any member just before the marks, at any
//     member's restore point, or just after the last one. PostgreSQL has
//     no way to stall PREPARE TRANSACTION from outside, so one that both
//     prepares and resolves inside those few milliseconds is not seen;
//   - a transaction of the application that commits on several clusters
//     without two-phase commit may be on the marked side on one member
//     and not on another only if its commits fall within the skew (the
//     spread of the members' restore point times, reported as Skew).
//
// If a restore point fails, or a prepared transaction is found at or after
// the marks, the points that were created are real: they are recorded as
// single-source marks, their names stay taken, no group mark is recorded,
// and the error (ErrGroupMarkIncomplete) says so.
func MarkGroup(ctx context.Context, catalogOf func(source string) *catalog.Catalog, group string, members []GroupMember, name string, opts GroupMarkOptions) (GroupMark, error) {
	gm := GroupMark{Group: group, Name: name}
	if err := catalog.ValidMarkName(name); err != nil {
		return gm, err
	}
	if err := validGroup(group, members); err != nil {
		return gm, err
	}
	if opts.QuiesceTimeout <= 0 {
		opts.QuiesceTimeout = 10 * time.Second
	}
	if opts.Wait <= 0 {
		opts.Wait = 60 * time.Second
	}
	ms := make([]*groupMember, len(members))
	for i, m := range members {
		ms[i] = &groupMember{GroupMember: m, cat: catalogOf(m.Source)}
	}
	defer func() {
		for _, m := range ms {
			if m.conn != nil {
				m.conn.Close(context.WithoutCancel(ctx))
			}
		}
	}()
	if err := checkMembers(ctx, group, name, ms); err != nil {
		return gm, err
	}
	if err := reserveAll(ctx, group, name, ms, opts.Notice); err != nil {
		return gm, err
	}
	if err := quiesce(ctx, group, ms, opts.QuiesceTimeout); err != nil {
		return gm, errors.Join(err, releaseAll(context.WithoutCancel(ctx), name, ms))
	}
	for _, m := range ms {
		// Prepared now, so that starting the points costs one round trip.
		if err := m.conn.PrepareRestorePoint(ctx); err != nil {
			return gm, errors.Join(fmt.Errorf("group %s: prepare restore point on %s: %w", group, m.Source, err),
				releaseAll(context.WithoutCancel(ctx), name, ms))
		}
	}
	createPoints(ctx, name, ms)
	after := afterCheck(ctx, ms)
	if err := recordPoints(ctx, group, name, ms, after); err != nil {
		return gm, err
	}

	first, last := ms[0].mark.Time, ms[0].mark.Time
	for _, m := range ms {
		gm.Members = append(gm.Members, m.mark)
		if m.mark.Time.Before(first) {
			first = m.mark.Time
		}
		if m.mark.Time.After(last) {
			last = m.mark.Time
		}
	}
	gm.Time, gm.Skew = first, last.Sub(first)
	// Recorded before the wait, as a single mark is: the points exist and
	// are consistent whatever happens next, and their names stay taken.
	// Any member's catalog can store it: group marks live beside the
	// sources in the same store.
	if err := ms[0].cat.PutGroupMark(ctx, gm.Group, gm.Name, gm); err != nil {
		return gm, err
	}
	if opts.NoSwitch {
		return gm, nil
	}
	for _, m := range ms {
		if err := m.conn.SwitchWAL(ctx); err != nil {
			return gm, fmt.Errorf("switch WAL on %s after group mark %q: %w", m.Source, name, err)
		}
	}
	for _, m := range ms {
		if err := WaitForMarkWAL(ctx, m.cat, m.mark, m.nextSegment(), opts.Wait); err != nil {
			return gm, fmt.Errorf("%w: member %s: %w", ErrMarkNotShipped, m.Source, err)
		}
	}
	return gm, nil
}

// nextSegment is the segment a restore to the member's mark must read
// last: the one the record after the mark's starts in (see Mark).
func (m *groupMember) nextSegment() string {
	return pg.SegmentName(m.mark.Timeline, pg.SegmentOf(m.mark.LSN, m.segSize), m.segSize)
}

func validGroup(group string, members []GroupMember) error {
	if !groupNameRE.MatchString(group) {
		return fmt.Errorf("%w name %q: use 1-63 letters, digits, '_', '.', '-', starting with a letter or digit", ErrInvalidGroup, group)
	}
	if len(members) == 0 {
		return fmt.Errorf("%w %s: no members", ErrInvalidGroup, group)
	}
	seen := map[string]bool{}
	for _, m := range members {
		if err := catalog.ValidSourceName(m.Source); err != nil {
			return fmt.Errorf("%w %s: %w", ErrInvalidGroup, group, err)
		}
		if seen[m.Source] {
			return fmt.Errorf("%w %s: source %s is a member twice", ErrInvalidGroup, group, m.Source)
		}
		seen[m.Source] = true
		if m.ConnString == "" {
			return fmt.Errorf("%w %s: member %s has no connection string", ErrInvalidGroup, group, m.Source)
		}
	}
	return nil
}

// checkMembers checks everything that can be checked before anything is
// written: the group mark is new, every source exists, and every server
// is its source's cluster (each a different one).
func checkMembers(ctx context.Context, group, name string, ms []*groupMember) error {
	taken, err := ms[0].cat.HasGroupMark(ctx, group, name)
	switch {
	case err != nil:
		return err
	case taken:
		return fmt.Errorf("%w: group %s already has a mark %q; choose another name", catalog.ErrDuplicateMark, group, name)
	}
	sources := make([]catalog.Source, len(ms))
	for i, m := range ms {
		if sources[i], err = m.cat.Source(ctx); err != nil {
			return fmt.Errorf("group %s member %s: %w: marks need a source that archives its WAL here", group, m.Source, err)
		}
		m.segSize = sources[i].SegmentSize
	}
	systems := map[uint64]string{}
	for i, m := range ms {
		if m.conn, err = sqlsource.Connect(ctx, m.ConnString); err != nil {
			return fmt.Errorf("group %s: connect to member %s: %w", group, m.Source, err)
		}
		ident, err := m.conn.Identity(ctx)
		if err != nil {
			return fmt.Errorf("group %s: read the system identifier of member %s: %w", group, m.Source, err)
		}
		id := ident.SystemID
		if err := sources[i].Check(id); err != nil {
			return fmt.Errorf("group %s member %s: %w", group, m.Source, err)
		}
		if other, ok := systems[id]; ok {
			return fmt.Errorf("%w %s: members %s and %s are the same cluster", ErrInvalidGroup, group, other, m.Source)
		}
		systems[id] = m.Source
	}
	return nil
}

// reserveAll reserves name on every member, or on none. A member's
// reservation left by an interrupted mark is taken over (notice says so);
// one whose interrupted mark is completed (catalog.ClaimMark) makes the
// name taken there, as any recorded mark does.
func reserveAll(ctx context.Context, group, name string, ms []*groupMember, notice func(string)) error {
	for _, m := range ms {
		claim, err := m.cat.ClaimMark(ctx, name)
		if err == nil && claim.Completed != nil {
			err = fmt.Errorf("%w: %s; choose another name", catalog.ErrDuplicateMark, claim.Notice(name))
		}
		if err != nil {
			err = fmt.Errorf("group %s member %s: %w", group, m.Source, err)
			return errors.Join(err, releaseAll(context.WithoutCancel(ctx), name, ms))
		}
		m.reserved = true
		if n := claim.Notice(name); n != "" && notice != nil {
			notice(fmt.Sprintf("group %s member %s: %s", group, m.Source, n))
		}
	}
	return nil
}

// releaseAll gives back the names this call reserved and did not use.
func releaseAll(ctx context.Context, name string, ms []*groupMember) error {
	var errs []error
	for _, m := range ms {
		if !m.reserved {
			continue
		}
		if err := m.cat.ReleaseMark(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("release mark name %s on %s: %w", name, m.Source, err))
			continue
		}
		m.reserved = false
	}
	return errors.Join(errs...)
}

// quiesce waits until no member has a prepared transaction, which is what
// could be committed on one member and still in doubt on another.
func quiesce(ctx context.Context, group string, ms []*groupMember, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for {
		var busy []string
		for _, m := range ms {
			n, gids, err := m.conn.PreparedXacts(ctx)
			if err != nil {
				return fmt.Errorf("group %s: list prepared transactions on %s: %w", group, m.Source, err)
			}
			if n > 0 {
				busy = append(busy, fmt.Sprintf("%s has %d (%s)", m.Source, n, gids))
			}
		}
		if len(busy) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %s: %w within %s: %s: finish them (COMMIT PREPARED or ROLLBACK PREPARED) or raise --quiesce-timeout; nothing was marked",
				group, ErrPreparedTransactions, timeout, strings.Join(busy, "; "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// createPoints creates the restore points, one goroutine per member, all
// released at once so that the skew is a round trip, not a sum of them.
func createPoints(ctx context.Context, name string, ms []*groupMember) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rp, err := m.conn.CreateRestorePoint(ctx, name)
			if err != nil {
				m.err = err
				return
			}
			m.prepared = rp.Prepared
			m.mark = catalog.Mark{Name: name, LSN: rp.LSN, Timeline: rp.Timeline,
				Time: rp.Time.UTC(), Source: m.Source}
		}()
	}
	close(start)
	wg.Wait()
}

// afterCheck looks for prepared transactions once every point exists: one
// prepared on a member after its own point but before another member's
// could be committed there and in doubt here.
func afterCheck(ctx context.Context, ms []*groupMember) []string {
	var busy []string
	for _, m := range ms {
		n, gids, err := m.conn.PreparedXacts(ctx)
		if err != nil {
			busy = append(busy, fmt.Sprintf("%s could not be checked (%v)", m.Source, err))
			continue
		}
		if n > 0 {
			busy = append(busy, fmt.Sprintf("%s had %s after the marks", m.Source, gids))
		}
	}
	return busy
}

// recordPoints records every restore point that exists as its member's
// mark, and fails unless they form a group mark.
func recordPoints(ctx context.Context, group, name string, ms []*groupMember, after []string) error {
	var failed, made, unsure []string
	var errs []error
	for _, m := range ms {
		if m.err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", m.Source, m.err))
			// Only a statement the server refused surely made no point;
			// otherwise the name stays taken, as the point may exist.
			var pgErr *pgconn.PgError
			if errors.As(m.err, &pgErr) {
				if err := m.cat.ReleaseMark(context.WithoutCancel(ctx), name); err != nil {
					errs = append(errs, fmt.Errorf("release mark name %s on %s: %w", name, m.Source, err))
				}
			} else {
				unsure = append(unsure, m.Source)
			}
			continue
		}
		made = append(made, m.Source)
		if m.prepared > 0 {
			after = append(after, fmt.Sprintf("%s had %d at its restore point", m.Source, m.prepared))
		}
		if err := m.cat.AddMark(context.WithoutCancel(ctx), m.mark); err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", m.Source, err))
		}
	}
	if len(failed) == 0 && len(after) == 0 {
		return errors.Join(errs...)
	}
	msg := ""
	if len(failed) > 0 {
		msg += "restore point failed on " + strings.Join(failed, "; ") + "; "
	}
	if len(after) > 0 {
		msg += "prepared transactions appeared while marking (" + strings.Join(after, "; ") + "); "
	}
	if len(made) > 0 {
		msg += fmt.Sprintf("the restore points %q on %s are real and recorded as single-source marks, not a group mark; ", name, strings.Join(made, ", "))
	}
	if len(unsure) > 0 {
		msg += fmt.Sprintf("the name stays taken on %s, where a point may exist; ", strings.Join(unsure, ", "))
	}
	msg += "mark the group again with another name"
	return errors.Join(append([]error{fmt.Errorf("group %s mark %q: %w: %s", group, name, ErrGroupMarkIncomplete, msg)}, errs...)...)
}
