// Package schedule is the daemon behind `logship schedule`: it runs the
// backup, mark, purge and verify jobs on their cron schedules, never two
// runs of one job at once, keeps Prometheus metrics of the jobs and of the
// catalog, and serves them on /metrics with a health summary on /healthz.
//
// It sits above shipper, restore and catalog and may use them; none of
// them imports it, so the daemon's HTTP server and metrics stay out of the
// code that puts things into the store. cmd/logship only turns flags and
// the config file's jobs: section into the jobs and options given here.
package schedule
