package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/logship/logship/hook"
	"github.com/logship/logship/standby"
)

// errPromoteHook fails a failover whose promotions stand but whose
// --on-promote hook failed for a member: clients may still point at the
// old primary, which is worth exit 1.
var errPromoteHook = errors.New("on-promote hook failed")

// promoteEvent is what --on-promote is told about one promoted member.
func promoteEvent(m standby.Promoted, host string) hook.Event {
	return hook.Event{Job: "promote", Source: m.Source, Vars: map[string]string{
		"MARK":       m.Mark,
		"LSN":        m.LSN,
		"TIMELINE":   strconv.FormatUint(uint64(m.Timeline), 10),
		"HOST":       host,
		"PORT":       strconv.Itoa(m.Port),
		"SOCKET_DIR": m.SocketDir,
		"DATA_DIR":   m.Dir,
	}}
}

// runPromoteHooks runs command once per promoted member, in order, each
// after the member was checked to accept writes (standby.Failover returns
// only promoted, checked members). Every member's hook runs even when an
// earlier one failed; the error names those that failed.
func runPromoteHooks(ctx context.Context, rt *runtime, command string, members []standby.Promoted) error {
	if command == "" {
		return nil
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	var errs []error
	for _, m := range members {
		ev := promoteEvent(m, host)
		out, err := hook.Run(ctx, command, ev, hook.DefaultTimeout)
		if err != nil {
			rt.log.Warn("on-promote hook failed", "source", m.Source, "err", err.Error(), "output", hook.OneLine(out))
			errs = append(errs, fmt.Errorf("member %s: %w", m.Source, err))
			continue
		}
		rt.log.Info("on-promote hook ran", "source", m.Source, "output", hook.OneLine(out))
	}
	if len(errs) > 0 {
		return withCode(exitFailure, fmt.Errorf("%w (the promotions stand; re-point clients by hand): %w", errPromoteHook, errors.Join(errs...)))
	}
	return nil
}
