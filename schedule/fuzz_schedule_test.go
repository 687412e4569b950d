package schedule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/schedule"
)

// FuzzParseSchedule checks cron expressions as the jobs: section and
// --schedule give them: parsing never panics, and an accepted schedule
// only ever moves forward (or says never, as for 30 February).
//
// ParseSchedule is due to move to a schedule package; this target moves
// with it.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{
		"*/15 * * * *", "0 1 * * *", "*/2 * * * * *", "@daily", "@every 10m", "@every 0s", "@every -1s",
		"CRON_TZ=Europe/Paris 30 2 * * *", "TZ=UTC @hourly", "CRON_TZ=UTC", "TZ=", "0 0 30 2 *",
		"1-5/2 0 * JAN-MAR MON,FRI", "? * * * *", "*/0 * * * *", "60 * * * *", "@every 1000000h",
	} {
		f.Add(s)
	}
	starts := []time.Time{
		time.Date(2026, 11, 27, 4, 33, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 1, 59, 59, 999, time.FixedZone("x", 3600)),
		time.Date(2028, 2, 29, 23, 59, 59, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := schedule.ParseSchedule(spec)
		if err != nil {
			if !strings.Contains(err.Error(), "cron expression") {
				t.Fatalf("error %q does not say what it parsed", err)
			}
			return
		}
		for _, at := range starts {
			next := s.Next(at)
			if next.IsZero() {
				continue
			}
			if !next.After(at) {
				t.Fatalf("%q: next run after %s is %s", spec, at, next)
			}
			if again := s.Next(next); !again.IsZero() && !again.After(next) {
				t.Fatalf("%q: next run after %s is %s", spec, next, again)
			}
		}
	})
}
