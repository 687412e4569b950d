package main

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/schedule"
)

// jobsKey is the config-file section of the schedule daemon and purge.
const jobsKey = "jobs"

// Defaults of the jobs section. Cron expressions use local time unless
// prefixed with CRON_TZ=.
const (
	defaultMarkSchedule   = "*/15 * * * *" // bounds the RPO on a quiet database
	defaultBackupSchedule = "0 1 * * *"
	defaultPurgeSchedule  = "0 2 * * *" // only when a retention rule is set
	defaultVerifySchedule = "30 2 * * *"
	defaultMetricsListen  = "127.0.0.1:9847"
	defaultOrphanGrace    = 24 * time.Hour
)

// JobsConfig is the jobs: section of the config file:
//
//	jobs:
//	  backup: "0 1 * * *"        # cron, seconds optional; "off" disables
//	  backup-fast: false         # immediate checkpoint for scheduled backups
//	  incremental: "off"         # e.g. "0 1 * * 1-6" with backup: "0 1 * * 0" (PostgreSQL 17+)
//	  mark: "*/15 * * * *"
//	  purge: "0 2 * * *"
//	  verify: "30 2 * * *"
//	  verify-deep: false
//	  keep-backups: 7
//	  recovery-window-days: 14
//	  orphan-grace: 24h
//	  metrics-listen: "127.0.0.1:9847"   # "off" disables
//	  stop-grace: 0s
//	  drill: "off"               # e.g. "0 4 * * 0": logship drill weekly
//	  drill-check-sql: /etc/logship/drill.sql
//	  drill-amcheck: false
//	  receive: "off"             # "on" or "synchronous": logship receive beside the jobs
type JobsConfig struct {
	Backup             *string `yaml:"backup"`
	BackupFast         bool    `yaml:"backup-fast"`
	Incremental        *string `yaml:"incremental"`
	Mark               *string `yaml:"mark"`
	Purge              *string `yaml:"purge"`
	Verify             *string `yaml:"verify"`
	VerifyDeep         bool    `yaml:"verify-deep"`
	KeepBackups        int     `yaml:"keep-backups"`
	RecoveryWindowDays float64 `yaml:"recovery-window-days"`
	OrphanGrace        *string `yaml:"orphan-grace"`
	MetricsListen      *string `yaml:"metrics-listen"`
	StopGrace          *string `yaml:"stop-grace"`
	Drill              *string `yaml:"drill"`           // restore drill of the latest mark; off by default
	DrillCheckSQL      string  `yaml:"drill-check-sql"` // as drill --check-sql
	DrillAmcheck       bool    `yaml:"drill-amcheck"`
	Receive            string  `yaml:"receive"` // off (default), on, synchronous

	orphanGrace, stopGrace time.Duration // parsed from the strings above
}

// jobSetting returns a job's cron expression or the metrics address: the
// configured one, or def when the key is absent; "" when it is off.
func jobSetting(v *string, def string) string {
	switch {
	case v == nil:
		return def
	case *v == "off" || *v == "":
		return ""
	}
	return *v
}

func (j JobsConfig) backupSchedule() string { return jobSetting(j.Backup, defaultBackupSchedule) }
func (j JobsConfig) markSchedule() string   { return jobSetting(j.Mark, defaultMarkSchedule) }

// incrementalSchedule is off unless configured: incremental backups need
// PostgreSQL 17+ with summarize_wal = on.
func (j JobsConfig) incrementalSchedule() string { return jobSetting(j.Incremental, "") }
func (j JobsConfig) verifySchedule() string      { return jobSetting(j.Verify, defaultVerifySchedule) }
func (j JobsConfig) purgeSchedule() string {
	if j.KeepBackups == 0 && j.RecoveryWindowDays == 0 {
		if j.Purge != nil && jobSetting(j.Purge, "") != "" {
			return *j.Purge // validate reports the missing policy
		}
		return ""
	}
	return jobSetting(j.Purge, defaultPurgeSchedule)
}

func (j JobsConfig) metricsListen() string { return jobSetting(j.MetricsListen, defaultMetricsListen) }

// policy is the retention policy of the section.
func (j JobsConfig) policy() catalog.RetentionPolicy {
	return catalog.RetentionPolicy{KeepBackups: j.KeepBackups, OrphanGrace: j.orphanGrace,
		RecoveryWindow: time.Duration(j.RecoveryWindowDays * 24 * float64(time.Hour))}
}

func (j *JobsConfig) validate() error {
	for _, s := range []struct{ key, spec string }{
		{"backup", j.backupSchedule()}, {"incremental", j.incrementalSchedule()}, {"mark", j.markSchedule()}, {"purge", j.purgeSchedule()}, {"verify", j.verifySchedule()},
		{"drill", jobSetting(j.Drill, "")},
	} {
		if s.spec == "" {
			continue
		}
		if _, err := schedule.ParseSchedule(s.spec); err != nil {
			return fmt.Errorf("jobs.%s: %w", s.key, err)
		}
	}
	if j.KeepBackups < 0 {
		return fmt.Errorf("jobs.keep-backups %d: want 1 or more (or leave it out)", j.KeepBackups)
	}
	if j.RecoveryWindowDays < 0 || math.IsNaN(j.RecoveryWindowDays) || math.IsInf(j.RecoveryWindowDays, 0) {
		return fmt.Errorf("jobs.recovery-window-days %v: want a positive number of days", j.RecoveryWindowDays)
	}
	if j.Purge != nil && jobSetting(j.Purge, "") != "" && j.KeepBackups == 0 && j.RecoveryWindowDays == 0 {
		return errors.New("jobs.purge is scheduled but no retention is set: add jobs.keep-backups and/or jobs.recovery-window-days")
	}
	switch j.Receive {
	case "", "off", "on", "synchronous":
	default:
		return fmt.Errorf("jobs.receive %q: want off, on or synchronous", j.Receive)
	}
	var err error
	if j.orphanGrace, err = parseDurationKey("orphan-grace", j.OrphanGrace, defaultOrphanGrace); err != nil {
		return err
	}
	if j.stopGrace, err = parseDurationKey("stop-grace", j.StopGrace, 0); err != nil {
		return err
	}
	return nil
}

func parseDurationKey(key string, v *string, def time.Duration) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("jobs.%s %q: want a duration such as 30s, 10m or 24h", key, *v)
	}
	return d, nil
}

// setupJobs starts a command that takes no arguments and runs by the jobs:
// section (purge, schedule): setup, then the section, whose errors are
// usage errors.
func setupJobs(c *cli.Context) (*runtime, JobsConfig, error) {
	if err := needArgs(c); err != nil {
		return nil, JobsConfig{}, err
	}
	rt, err := setup(c)
	if err != nil {
		return nil, JobsConfig{}, err
	}
	jc, err := loadJobsConfig(c)
	if err != nil {
		return nil, JobsConfig{}, usageErr(err)
	}
	return rt, jc, nil
}

// loadJobsConfig reads the jobs section of the config file that c names
// (or the default file when it exists); absent, every job has its default.
func loadJobsConfig(c *cli.Context) (JobsConfig, error) {
	var j JobsConfig
	found, path, err := configSection(c, "jobs", &j)
	if err != nil {
		return j, err
	}
	if err := j.validate(); err != nil {
		if found {
			return j, fmt.Errorf("config file %s: %w", path, err)
		}
		return j, err
	}
	return j, nil
}
