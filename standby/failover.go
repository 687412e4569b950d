package standby

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/restore"
)

// ErrNotReady means a member does not stand exactly on the mark to fail
// over at; no member was promoted.
var ErrNotReady = errors.New("standby not ready for failover")

// Promoted is one member after failover.
type Promoted struct {
	Source   string `json:"source"`
	Dir      string `json:"dir"`
	Mark     string `json:"mark"`
	LSN      string `json:"lsn"`      // where the new timeline branched off: the mark's LSN, checked
	Timeline uint32 `json:"timeline"` // the new timeline
	PID      int    `json:"pid,omitempty"`
	Port     int    `json:"port,omitempty"`
	// SocketDir is where the server's Unix socket is, for --on-promote.
	SocketDir string `json:"socket_dir,omitempty"`
	// Took is this member's promotion, from pg_promote to the check.
	Took time.Duration `json:"took_ns"`
}

// FailoverReport says what failover reached.
type FailoverReport struct {
	Mark    string     `json:"mark"`
	Step    *Report    `json:"step,omitempty"` // the advance to the asked mark, if any
	Members []Promoted `json:"members"`
	// RTO is from the start of the failover until every member was
	// promoted and checked.
	RTO time.Duration `json:"rto_ns"`
}

// Failover promotes every member at the mark it stands on, after first
// advancing them to mark when one is named ("latest": the newest common
// mark). Every member must be paused exactly at the same mark before any
// is promoted; each is then checked to have branched off exactly at its
// mark's LSN. A member that cannot reach the mark fails the failover with
// no member promoted.
func Failover(ctx context.Context, members []Member, mark string, opts Options) (FailoverReport, error) {
	began := time.Now()
	rep := FailoverReport{Members: []Promoted{}} // [], not null, in --json
	if mark != "" {
		step, err := stepTo(ctx, members, mark, opts)
		rep.Step = &step
		if err != nil {
			return rep, fmt.Errorf("%w: advancing to mark %s: %w; no member was promoted", ErrNotReady, mark, err)
		}
	}
	states, err := readyStates(ctx, members, opts)
	if err != nil {
		return rep, err
	}
	rep.Mark = states[0].Mark
	for i, m := range members {
		dir := absDir(m.Dir)
		r, err := restore.PromoteAt(ctx, dir, states[i].LSN, opts.startOptions(0))
		if err != nil {
			return rep, fmt.Errorf("member %s: %w (promoted before it: %d of %d)", m.Cat.SourceName(), err, i, len(members))
		}
		st := states[i]
		st.Promoted = true
		if err := writeState(dir, st); err != nil {
			return rep, err
		}
		rep.Members = append(rep.Members, Promoted{Source: m.Cat.SourceName(), Dir: dir, Mark: st.Mark, LSN: r.LSN,
			Timeline: r.Timeline, PID: r.PID, Port: r.Port, SocketDir: r.SocketDir, Took: r.Duration})
		opts.log().Info("promoted", "source", m.Cat.SourceName(), "mark", st.Mark, "lsn", r.LSN, "timeline", r.Timeline)
	}
	rep.RTO = time.Since(began)
	return rep, nil
}

// readyStates checks, before any promotion, that every member is a
// standby paused exactly at its recorded mark, and all at the same mark.
func readyStates(ctx context.Context, members []Member, opts Options) ([]State, error) {
	states := make([]State, len(members))
	var errs []error
	for i, m := range members {
		st, err := ReadState(m.Dir)
		switch {
		case err != nil:
		case st.Promoted:
			err = fmt.Errorf("%s was promoted already", m.Dir)
		case st.Mark == "":
			err = fmt.Errorf("%s was restored but never reached a mark; run logship standby first", m.Dir)
		case st.Mark != states[0].Mark && i > 0:
			err = fmt.Errorf("stands on mark %s, member %s on %s", st.Mark, members[0].Cat.SourceName(), states[0].Mark)
		default:
			mk := catalog.Mark{Name: st.Mark, LSN: st.LSN}
			if ss, ok := pausedAt(ctx, absDir(m.Dir), mk, opts); !ok {
				err = fmt.Errorf("its server is not paused at mark %s (LSN %s): running %v, in recovery %v, paused %v, at %s; run logship standby --once first",
					st.Mark, st.LSN, ss.Running, ss.InRecovery, ss.Paused, ss.LSN)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("member %s: %w", m.Cat.SourceName(), err))
		}
		states[i] = st
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w; no member was promoted: %w", ErrNotReady, errors.Join(errs...))
	}
	return states, nil
}
