package standby

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/pg/server"
	"github.com/logship/logship/restore"
)

// move is one member's way to its target mark, planned before any member
// is touched.
type move struct {
	m    Member
	st   State
	has  bool // the directory holds a standby already
	mark catalog.Mark
	plan restore.Plan
}

// prepareMoves checks that every member can reach its target mark: its
// directory is empty or a standby behind the mark, and the store holds a
// backup and every segment up to the mark. If one cannot, nothing moves:
// the error wraps ErrHeld and every member's status says why.
func prepareMoves(ctx context.Context, members []Member, target []catalog.Mark, statuses []MemberStatus) ([]move, error) {
	moves := make([]move, len(members))
	var held []string
	for i, m := range members {
		mv, err := prepareMove(ctx, m, target[i])
		moves[i] = mv
		if mv.has {
			s := &statuses[i]
			s.Mark, s.LSN, s.MarkTime = mv.st.Mark, mv.st.LSN.String(), mv.st.MarkTime
		}
		if err != nil {
			statuses[i].Action, statuses[i].Reason = ActionHeld, err.Error()
			held = append(held, fmt.Sprintf("%s: %v", m.Cat.SourceName(), err))
		}
	}
	if len(held) == 0 {
		return moves, nil
	}
	for i := range statuses {
		if statuses[i].Action == "" {
			statuses[i].Action = ActionHeld
			statuses[i].Reason = "held back by another member that cannot reach mark " + target[i].Name
		}
	}
	return nil, fmt.Errorf("%w at its current mark: mark %s cannot be reached by every member: %s", ErrHeld, target[0].Name, strings.Join(held, "; "))
}

func prepareMove(ctx context.Context, m Member, mark catalog.Mark) (move, error) {
	mv := move{m: m, mark: mark}
	st, has, err := readState(m.Dir)
	if err != nil {
		return mv, err
	}
	mv.st, mv.has = st, has
	switch {
	case has && st.Promoted:
		return mv, fmt.Errorf("%s was promoted by failover: it is no standby any more", m.Dir)
	case has && st.Mark != "" && st.Timeline == mark.Timeline && mark.LSN < st.LSN:
		return mv, fmt.Errorf("the standby stands on mark %s (LSN %s); mark %s (LSN %s) is behind it and recovery cannot go back",
			st.Mark, st.LSN, mark.Name, mark.LSN)
	case !has:
		empty, err := isEmptyDir(m.Dir)
		if err != nil {
			return mv, err
		}
		if !empty {
			return mv, fmt.Errorf("%w: %s holds files but no %s; give an empty directory", ErrNotStandby, m.Dir, StateFile)
		}
	}
	if mv.plan, err = restore.NewPlan(ctx, m.Cat, restore.Target{Mark: mark.Name}); err != nil {
		return mv, err
	}
	return mv, nil
}

// apply moves the member: restore or retarget, start, wait for the pause
// at the mark (restore.Start checks it is exactly the mark's LSN), record.
func (mv move) apply(ctx context.Context, s *MemberStatus, opts Options) error {
	dir := absDir(mv.m.Dir)
	log := opts.log().With("source", mv.m.Cat.SourceName(), "dir", dir)
	if mv.has && mv.st.Mark == mv.mark.Name && mv.st.LSN == mv.mark.LSN {
		if ss, ok := pausedAt(ctx, dir, mv.mark, opts); ok {
			s.Action, s.PID, s.Port = ActionUnchanged, ss.PID, ss.Port
			return nil
		}
	}
	port := 0
	switch {
	case !mv.has:
		if err := mv.restore(ctx, dir, opts); err != nil {
			return err
		}
		port, s.Action = mv.m.Port, ActionRestored
	default:
		s.Action = ActionAdvanced
		if mv.st.Mark == mv.mark.Name {
			s.Action = ActionRestarted
		}
		if err := restore.StopServer(ctx, dir, opts.startOptions(0)); err != nil {
			return fmt.Errorf("stop the standby: %w", err)
		}
		if err := restore.Retarget(dir, mv.plan.Recovery); err != nil {
			return err
		}
	}
	log.Info("starting standby at mark", "mark", mv.mark.Name, "lsn", mv.mark.LSN, "action", s.Action)
	reached, err := restore.Start(ctx, dir, opts.startOptions(port))
	if err != nil {
		return err
	}
	if reached.State != "paused" {
		return fmt.Errorf("the standby on %s %s at %s instead of pausing at mark %s", dir, reached.State, reached.LSN, mv.mark.Name)
	}
	st := mv.st
	st.Mark, st.LSN, st.Timeline, st.MarkTime = mv.mark.Name, mv.mark.LSN, mv.mark.Timeline, mv.mark.Time
	if err := writeState(dir, st); err != nil {
		return err
	}
	s.Mark, s.LSN, s.MarkTime, s.PID, s.Port = st.Mark, st.LSN.String(), st.MarkTime, reached.PID, reached.Port
	log.Info("standby paused at mark", "mark", st.Mark, "lsn", st.LSN, "took", reached.Duration)
	return nil
}

// restore fills an empty directory from the store, set to pause at the
// mark with hot_standby on, and records whose standby it is.
func (mv *move) restore(ctx context.Context, dir string, opts Options) error {
	if mv.m.RestoreCommand == "" {
		return errors.New("no restore command given")
	}
	_, err := restore.Run(ctx, mv.m.Cat, mv.plan, restore.Options{
		TargetDir: dir, Action: "pause", RestoreCommand: mv.m.RestoreCommand, Logger: opts.Logger,
	})
	if err != nil {
		return err
	}
	// Pausing needs hot_standby; without it PostgreSQL shuts down at the
	// target instead, and nobody could read the standby.
	if err := server.AppendConf(dir, "postgresql.auto.conf", "# written by logship standby\nhot_standby = on\n"); err != nil {
		return err
	}
	mv.st = State{Source: mv.m.Cat.SourceName(), Store: mv.m.Cat.StoreURL()}
	mv.has = true
	return writeState(dir, mv.st)
}
