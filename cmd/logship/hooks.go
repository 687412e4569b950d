package main

import (
	"context"
	"log/slog"

	"github.com/logship/logship/hook"
	"github.com/logship/logship/schedule"
)

// hooks is the --on-failure / --on-success runner of rt's settings.
func (r *runtime) hooks() hook.Runner {
	return hook.Runner{OnFailure: r.cfg.OnFailure, OnSuccess: r.cfg.OnSuccess, Logger: r.log}
}

// notify tells the hooks how job ended; err is what the command returns
// (its exit code is the one the hook sees). The hook's own failure is
// logged by the runner and changes nothing here.
func (r *runtime) notify(ctx context.Context, job string, err error) {
	code := exitOK
	if err != nil {
		code = exitCode(err)
	}
	_ = r.hooks().Notify(ctx, hook.Event{Job: job, Source: r.cfg.Source, Err: err, ExitCode: code})
}

// withHooks makes every job tell the hooks how each run ended, before
// the run counts as finished.
func withHooks(rt *runtime, jobs []schedule.Job) []schedule.Job {
	if rt.cfg.OnFailure == "" && rt.cfg.OnSuccess == "" {
		return jobs
	}
	out := make([]schedule.Job, len(jobs))
	for i, j := range jobs {
		run := j.Run
		j.Run = func(ctx context.Context, log *slog.Logger) error {
			err := run(ctx, log)
			rt.notify(ctx, j.Name, err)
			return err
		}
		out[i] = j
	}
	return out
}
