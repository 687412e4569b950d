package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// ErrJobRunning means a run was skipped because the previous run of the same
// job had not finished.
var ErrJobRunning = errors.New("previous run still running")

// ErrUnknownJob is a Trigger of a job the scheduler does not have.
var ErrUnknownJob = errors.New("no such job")

// cronParser accepts the five crontab fields with an optional leading
// seconds field, and descriptors such as @daily or @every 30s.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a cron expression: "*/15 * * * *", with seconds
// "*/2 * * * * *", "@daily", "@every 10m", optionally prefixed by
// "CRON_TZ=Europe/Paris ". Fields without a time zone use local time.
func ParseSchedule(spec string) (cron.Schedule, error) {
	// robfig/cron v3.0.1 slices up to the first space after a time zone
	// prefix without checking there is one: "CRON_TZ=UTC" alone panics.
	if (strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=")) && !strings.Contains(spec, " ") {
		return nil, fmt.Errorf("cron expression %q: a time zone must be followed by a space and the schedule", spec)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("cron expression %q: %w", spec, err)
	}
	return s, nil
}

// Job is one kind of scheduled work.
type Job struct {
	Name string
	// Schedule is a cron expression (see ParseSchedule); empty means the
	// job runs only when triggered.
	Schedule string
	// Run does the work. It must return soon after ctx is cancelled and
	// leave nothing half-written behind (the store's create-only writes and
	// record-last order make that natural).
	Run func(ctx context.Context, log *slog.Logger) error
}

// SchedulerOptions tune a Scheduler.
type SchedulerOptions struct {
	Logger  *slog.Logger
	Metrics *Metrics // nil: no metrics
	// Now is the clock; nil means time.Now. Tests inject their own.
	Now func() time.Time
	// StopGrace is how long running jobs may go on after the scheduler is
	// asked to stop before their context is cancelled. 0 cancels at once.
	StopGrace time.Duration
	// StopTimeout bounds how long Run waits, after cancelling them, for
	// jobs to return. 0 means 30 s.
	StopTimeout time.Duration
	// Refresh, if set, runs after every job and every RefreshEvery
	// (default 30 s) while Run runs, to keep catalog figures current.
	Refresh      func(ctx context.Context) error
	RefreshEvery time.Duration
}

// Scheduler runs jobs on their cron schedules. A job never overlaps itself:
// a run that comes due while the previous one still runs is skipped and
// logged. Jobs run independently: one failing changes nothing for the others.
type Scheduler struct {
	opts     SchedulerOptions
	log      *slog.Logger
	jobs     map[string]*jobState
	order    []string
	jobCtx   context.Context
	stopJobs context.CancelFunc
	wg       sync.WaitGroup
}

type jobState struct {
	job      Job
	schedule cron.Schedule

	mu          sync.Mutex
	running     bool
	runs        int
	failures    int
	skipped     int
	lastStart   time.Time
	lastEnd     time.Time
	lastSuccess time.Time
	lastErr     error
}

// NewScheduler checks the jobs' schedules and returns a scheduler that is
// not running yet.
func NewScheduler(jobs []Job, opts SchedulerOptions) (*Scheduler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 30 * time.Second
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = 30 * time.Second
	}
	s := &Scheduler{opts: opts, log: opts.Logger, jobs: map[string]*jobState{}}
	s.jobCtx, s.stopJobs = context.WithCancel(context.Background())
	for _, j := range jobs {
		if j.Name == "" || j.Run == nil {
			return nil, fmt.Errorf("job %q: needs a name and a function", j.Name)
		}
		if _, dup := s.jobs[j.Name]; dup {
			return nil, fmt.Errorf("job %q defined twice", j.Name)
		}
		st := &jobState{job: j}
		if j.Schedule != "" {
			sched, err := ParseSchedule(j.Schedule)
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", j.Name, err)
			}
			st.schedule = sched
		}
		s.jobs[j.Name] = st
		s.order = append(s.order, j.Name)
		opts.Metrics.registerJob(j.Name)
	}
	return s, nil
}

// Run fires the jobs on their schedules until ctx is done, then stops:
// no new runs start, running jobs get StopGrace to finish, then their
// context is cancelled and Run waits up to StopTimeout for them to return.
// It returns an error only when a job failed to stop in time.
func (s *Scheduler) Run(ctx context.Context) error {
	var loops sync.WaitGroup
	for _, name := range s.order {
		st := s.jobs[name]
		if st.schedule == nil {
			continue
		}
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.loop(ctx, st)
		}()
		s.log.Info("job scheduled", "job", name, "schedule", st.job.Schedule, "next", st.schedule.Next(s.opts.Now()))
	}
	if s.opts.Refresh != nil {
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.refreshLoop(ctx)
		}()
	}
	<-ctx.Done()
	loops.Wait()
	return s.stop()
}

func (s *Scheduler) loop(ctx context.Context, st *jobState) {
	for {
		now := s.opts.Now()
		next := st.schedule.Next(now)
		if next.IsZero() {
			return // a schedule that never fires again
		}
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := s.start(st); err != nil {
			s.log.Warn("job run skipped", "job", st.job.Name, "reason", err.Error())
		}
	}
}

func (s *Scheduler) refreshLoop(ctx context.Context) {
	s.refresh()
	t := time.NewTicker(s.opts.RefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.refresh()
		}
	}
}

func (s *Scheduler) refresh() {
	if s.opts.Refresh == nil || s.jobCtx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.jobCtx, time.Minute)
	defer cancel()
	if err := s.opts.Refresh(ctx); err != nil {
		s.log.Warn("catalog refresh failed", "err", err.Error())
	}
}

// stop cancels the running jobs after the grace period and waits for them.
func (s *Scheduler) stop() error {
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	if running := s.Running(); len(running) > 0 {
		s.log.Info("stopping: waiting for running jobs", "jobs", running, "grace", s.opts.StopGrace)
	}
	if s.opts.StopGrace > 0 {
		select {
		case <-done:
		case <-time.After(s.opts.StopGrace):
		}
	}
	s.stopJobs()
	select {
	case <-done:
		s.log.Info("scheduler stopped")
		return nil
	case <-time.After(s.opts.StopTimeout):
		return fmt.Errorf("jobs %v did not stop within %s of being cancelled", s.Running(), s.opts.StopTimeout)
	}
}

// Trigger starts a run of the job now, as its schedule would, and returns a
// channel that yields the run's result. A job that is still running is not
// started again: Trigger answers ErrJobRunning (and counts a skipped run).
func (s *Scheduler) Trigger(name string) (<-chan error, error) {
	st, ok := s.jobs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownJob, name)
	}
	return s.start(st)
}

func (s *Scheduler) start(st *jobState) (<-chan error, error) {
	if s.jobCtx.Err() != nil {
		return nil, errors.New("scheduler is stopping")
	}
	st.mu.Lock()
	if st.running {
		st.skipped++
		started := st.lastStart
		st.mu.Unlock()
		s.opts.Metrics.jobSkipped(st.job.Name)
		return nil, fmt.Errorf("%w (job %s, started %s)", ErrJobRunning, st.job.Name, started.Format(time.RFC3339))
	}
	st.running = true
	st.lastStart = s.opts.Now()
	st.mu.Unlock()
	s.opts.Metrics.jobStarted(st.job.Name)

	result := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.runJob(st)
		result <- err
		close(result)
	}()
	return result, nil
}

func (s *Scheduler) runJob(st *jobState) (err error) {
	name := st.job.Name
	log := s.log.With("job", name)
	log.Info("job started")
	start := time.Now()
	defer func() {
		// A panicking job must not take the daemon and the other jobs down.
		if p := recover(); p != nil {
			err = fmt.Errorf("job %s panicked: %v", name, p)
		}
		d := time.Since(start)
		st.mu.Lock()
		st.running = false
		st.runs++
		st.lastEnd = s.opts.Now()
		st.lastErr = err
		if err == nil {
			st.lastSuccess = st.lastEnd
		} else {
			st.failures++
		}
		end := st.lastEnd
		st.mu.Unlock()
		s.opts.Metrics.jobFinished(name, d, err, end)
		if err != nil {
			log.Error("job failed", "duration", d, "err", err.Error())
		} else {
			log.Info("job succeeded", "duration", d)
		}
		s.refresh()
	}()
	return st.job.Run(s.jobCtx, log)
}

// Running names the jobs that are running now.
func (s *Scheduler) Running() []string {
	var out []string
	for _, name := range s.order {
		st := s.jobs[name]
		st.mu.Lock()
		if st.running {
			out = append(out, name)
		}
		st.mu.Unlock()
	}
	return out
}

// JobStatus is what the scheduler knows of one job.
type JobStatus struct {
	Name        string     `json:"name"`
	Schedule    string     `json:"schedule,omitempty"`
	Running     bool       `json:"running"`
	Runs        int        `json:"runs"`
	Failures    int        `json:"failures"`
	Skipped     int        `json:"skipped"`
	LastStart   *time.Time `json:"last_start,omitempty"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	Next        *time.Time `json:"next,omitempty"`
}

// Jobs reports every job, in the order they were given.
func (s *Scheduler) Jobs() []JobStatus {
	out := make([]JobStatus, 0, len(s.order))
	for _, name := range s.order {
		st := s.jobs[name]
		st.mu.Lock()
		js := JobStatus{Name: name, Schedule: st.job.Schedule, Running: st.running, Runs: st.runs,
			Failures: st.failures, Skipped: st.skipped, LastStart: timePtr(st.lastStart), LastSuccess: timePtr(st.lastSuccess)}
		if st.lastErr != nil {
			js.LastError = st.lastErr.Error()
		}
		st.mu.Unlock()
		if st.schedule != nil {
			js.Next = timePtr(st.schedule.Next(s.opts.Now()))
		}
		out = append(out, js)
	}
	return out
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
