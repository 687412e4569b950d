package standby

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg/server"
	"github.com/logship/logship/restore"
)

// Member is one standby: a source and the data directory that follows it.
type Member struct {
	Cat *catalog.Catalog
	Dir string
	// Port is the server's port, set when the directory is restored; 0
	// keeps the source's.
	Port int
	// RestoreCommand is the restore_command written at the restore.
	RestoreCommand string
}

// Options tune steps and failovers.
type Options struct {
	PGBin string
	// StartTimeout bounds each wait for a server to reach its mark; 0
	// means one hour.
	StartTimeout time.Duration
	User         string // database user for the checks; "" is psql's default
	Logger       *slog.Logger
}

func (o Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) startOptions(port int) restore.StartOptions {
	return restore.StartOptions{PGBin: o.PGBin, Port: port, Timeout: o.StartTimeout, User: o.User, Logger: o.Logger}
}

// Action says what a step did to a member.
const (
	ActionRestored  = "restored"  // restored from the store and started at the mark
	ActionAdvanced  = "advanced"  // restarted at a newer mark
	ActionRestarted = "restarted" // was not running paused at its mark; is again
	ActionUnchanged = "unchanged" // already paused at the mark
	ActionHeld      = "held"      // did not move: the mark cannot be reached by every member
	ActionFailed    = "failed"
)

// MemberStatus is where a member stands after a step.
type MemberStatus struct {
	Source   string    `json:"source"`
	Dir      string    `json:"dir"`
	Mark     string    `json:"mark,omitempty"` // the mark it stands on
	LSN      string    `json:"lsn,omitempty"`
	MarkTime time.Time `json:"mark_time,omitzero"`
	// Newest is the source's newest mark, the primary's position.
	Newest     string    `json:"newest_mark,omitempty"`
	NewestLSN  string    `json:"newest_lsn,omitempty"`
	NewestTime time.Time `json:"newest_time,omitzero"`
	Action     string    `json:"action"`
	// Reason says why a member was held or failed.
	Reason string `json:"reason,omitempty"`
	PID    int    `json:"pid,omitempty"`
	Port   int    `json:"port,omitempty"`
}

// Report is one step of a standby or a group of them.
type Report struct {
	Target   string         `json:"target,omitempty"` // the mark aimed at
	Members  []MemberStatus `json:"members"`
	Duration time.Duration  `json:"duration_ns"`
}

var (
	// ErrHeld means the standby did not advance: a member cannot reach the
	// mark (its WAL is not all shipped, or it has no backup before it).
	ErrHeld = errors.New("standby held back")
	// ErrNoMark means there is no mark (common to every member) to stand on.
	ErrNoMark = errors.New("no mark to stand on")
)

// Step moves every member to the newest mark they all have: restored from
// the store when its directory is empty, restarted at the new target when
// a newer mark was shipped, left alone when already paused at it. When
// one member cannot reach that mark, none moves (each stays at, or is
// restarted at, the mark it stands on) and the error wraps ErrHeld.
func Step(ctx context.Context, members []Member, opts Options) (Report, error) {
	return stepTo(ctx, members, "latest", opts)
}

// stepTo is Step to the mark name, or the newest common one for "latest".
func stepTo(ctx context.Context, members []Member, name string, opts Options) (Report, error) {
	began := time.Now()
	rep := Report{Members: make([]MemberStatus, len(members))}
	marks, err := memberMarks(ctx, members)
	if err != nil {
		return rep, err
	}
	for i, m := range members {
		rep.Members[i] = MemberStatus{Source: m.Cat.SourceName(), Dir: m.Dir}
		if newest, ok := catalog.LatestMark(marks[i]); ok {
			s := &rep.Members[i]
			s.Newest, s.NewestLSN, s.NewestTime = newest.Name, newest.LSN.String(), newest.Time
		}
	}
	target, err := chooseMark(members, marks, name)
	if err != nil {
		return rep, err
	}
	rep.Target = target[0].Name
	moves, err := prepareMoves(ctx, members, target, rep.Members)
	if err != nil {
		// Held: each member stays where it stands, running.
		for i, m := range members {
			keepRunning(ctx, m, &rep.Members[i], opts)
		}
		rep.Duration = time.Since(began)
		return rep, err
	}
	var errs []error
	for i, mv := range moves {
		if err := mv.apply(ctx, &rep.Members[i], opts); err != nil {
			rep.Members[i].Action, rep.Members[i].Reason = ActionFailed, err.Error()
			errs = append(errs, fmt.Errorf("member %s: %w", rep.Members[i].Source, err))
		}
	}
	rep.Duration = time.Since(began)
	return rep, errors.Join(errs...)
}

// memberMarks reads every member's marks.
func memberMarks(ctx context.Context, members []Member) ([][]catalog.Mark, error) {
	out := make([][]catalog.Mark, len(members))
	for i, m := range members {
		ms, err := m.Cat.Marks(ctx)
		if err != nil {
			return nil, fmt.Errorf("marks of %s: %w", m.Cat.SourceName(), err)
		}
		out[i] = ms
	}
	return out, nil
}

// chooseMark picks, per member, the mark of one name: name itself, or for
// "latest" the newest name every member has (newest by the first member's
// mark time, as catalog.LatestMark orders marks).
func chooseMark(members []Member, marks [][]catalog.Mark, name string) ([]catalog.Mark, error) {
	byName := make([]map[string]catalog.Mark, len(marks))
	for i, ms := range marks {
		byName[i] = map[string]catalog.Mark{}
		for _, m := range ms {
			byName[i][m.Name] = m
		}
	}
	if name == "latest" {
		var common []catalog.Mark
		for _, m := range marks[0] {
			if inAll(byName, m.Name) {
				common = append(common, m)
			}
		}
		latest, ok := catalog.LatestMark(common)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrNoMark, noMarkWhy(members))
		}
		name = latest.Name
	}
	out := make([]catalog.Mark, len(members))
	for i := range members {
		m, ok := byName[i][name]
		if !ok {
			return nil, fmt.Errorf("%w: source %s has no mark %q", ErrNoMark, members[i].Cat.SourceName(), name)
		}
		out[i] = m
	}
	return out, nil
}

func inAll(byName []map[string]catalog.Mark, name string) bool {
	for _, b := range byName {
		if _, ok := b[name]; !ok {
			return false
		}
	}
	return true
}

func noMarkWhy(members []Member) string {
	if len(members) == 1 {
		return fmt.Sprintf("source %s has no marks yet; create one with logship mark NAME", members[0].Cat.SourceName())
	}
	return "the members have no mark in common yet; create one with logship mark NAME --group GROUP"
}

// keepRunning restarts a held member at the mark it stands on if its server
// is not running paused there; a failure only adds to the member's reason.
func keepRunning(ctx context.Context, m Member, s *MemberStatus, opts Options) {
	st, ok, err := readState(m.Dir)
	if err != nil || !ok || st.Mark == "" || st.Promoted {
		return
	}
	s.Mark, s.LSN, s.MarkTime = st.Mark, st.LSN.String(), st.MarkTime
	mk := catalog.Mark{Name: st.Mark, LSN: st.LSN, Timeline: st.Timeline, Time: st.MarkTime}
	plan, err := restore.NewPlan(ctx, m.Cat, restore.Target{Mark: st.Mark})
	if err != nil {
		return
	}
	mv := move{m: m, st: st, has: true, mark: mk, plan: plan}
	if err := mv.apply(ctx, s, opts); err != nil {
		s.Reason += "; restarting at " + st.Mark + " failed too: " + err.Error()
	}
	s.Action = ActionHeld
}

// absDir is dir made absolute, as the state and the server see it.
func absDir(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		return abs
	}
	return dir
}

// pausedAt says whether the server on dir runs in recovery, paused exactly
// at the mark.
func pausedAt(ctx context.Context, dir string, mk catalog.Mark, opts Options) (restore.ServerStatus, bool) {
	if _, ok := server.RunningPID(dir); !ok {
		return restore.ServerStatus{}, false
	}
	ss, err := restore.Status(ctx, dir, opts.startOptions(0))
	return ss, err == nil && ss.Running && ss.InRecovery && ss.Paused && ss.LSN == mk.LSN
}
