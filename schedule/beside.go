package schedule

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A Task runs beside the jobs for as long as the daemon runs, such as
// logship receive: cmd hands it in as a function, so schedule knows
// nothing of what it does. It returns when its context is done; returning
// before that means it gave up.
type Task struct {
	Name string
	Run  func(context.Context) error
}

// runWithTasks runs the scheduler and the tasks together. A task that ends
// on its own stops the daemon with its error: a receiver that gave up must
// not go unnoticed behind cron jobs that still succeed.
func (d *Daemon) runWithTasks(ctx context.Context) error {
	if len(d.tasks) == 0 {
		return d.sched.Run(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var taskErr error
	for _, t := range d.tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := t.Run(ctx)
			if ctx.Err() != nil {
				return // stopped with the daemon
			}
			if err == nil {
				err = errors.New("it ended")
			}
			d.log.Error("a task beside the jobs ended; stopping", "task", t.Name, "err", err.Error())
			mu.Lock()
			taskErr = errors.Join(taskErr, fmt.Errorf("%s: %w", t.Name, err))
			mu.Unlock()
			cancel()
		}()
	}
	err := d.sched.Run(ctx)
	cancel()
	wg.Wait()
	return errors.Join(taskErr, err)
}
