package schedule_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/logship/logship/schedule"
	"github.com/logship/logship/shipper"
)

const schedulingDoc = "../docs/SCHEDULING.md"

// Every metric the daemon exposes is in docs/SCHEDULING.md's table, and
// every logship_ metric the table names exists: a renamed or new metric
// cannot leave the alerts people copy from it behind.
func TestEveryMetricIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(schedulingDoc)
	if err != nil {
		t.Fatal(err)
	}
	m := schedule.NewMetrics(nil)
	m.SetBuildInfo("test")
	m.Update(shipper.Status{StoreReachable: true})
	// A scheduler registers its jobs' series, which exist only then.
	job := schedule.Job{Name: "backup", Run: func(context.Context, *slog.Logger) error { return nil }}
	if _, err := schedule.NewScheduler([]schedule.Job{job}, schedule.SchedulerOptions{Metrics: m}); err != nil {
		t.Fatal(err)
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	table := metricsTable(string(doc))
	exposed := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		exposed[name] = true
		if !strings.HasPrefix(name, "logship_") {
			// The Go runtime's and the process's standard metrics.
			name = name[:strings.Index(name, "_")+1] + "*"
		}
		if !regexp.MustCompile("`" + regexp.QuoteMeta(name) + "[`{]").MatchString(table) {
			t.Errorf("metric %s is not in the table of %s", f.GetName(), schedulingDoc)
		}
	}
	for _, name := range regexp.MustCompile("`(logship_[a-z_]+)").FindAllStringSubmatch(table, -1) {
		if !exposed[name[1]] {
			t.Errorf("%s's table names %s, which the daemon does not expose", schedulingDoc, name[1])
		}
	}
}

// metricsTable is the table rows of the doc's metrics section.
func metricsTable(doc string) string {
	var rows []string
	in := false
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case strings.HasPrefix(line, "### Metrics"):
			in = true
		case strings.HasPrefix(line, "#"):
			in = false
		case in && strings.HasPrefix(line, "| `"):
			rows = append(rows, line)
		}
	}
	return strings.Join(rows, "\n")
}

// The systemd units docs/SCHEDULING.md shows are the files `make install`
// and the .deb install, each shown whole.
func TestDocumentedUnitsAreTheInstalledOnes(t *testing.T) {
	doc, err := os.ReadFile(schedulingDoc)
	if err != nil {
		t.Fatal(err)
	}
	units, err := filepath.Glob("../packaging/systemd/logship-*")
	if err != nil || len(units) == 0 {
		t.Fatalf("no units in packaging/systemd: %v", err)
	}
	blocks := regexp.MustCompile("(?s)```ini\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	shown := map[string]bool{}
	for _, b := range blocks {
		if strings.Contains(b[1], "[Unit]") { // not a drop-in
			shown[b[1]] = true
		}
	}
	for _, u := range units {
		body, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if !shown[string(body)] {
			t.Errorf("%s is not shown whole in %s", filepath.Base(u), schedulingDoc)
		}
		delete(shown, string(body))
	}
	for b := range shown {
		t.Errorf("%s shows a unit that is not installed:\n%s", schedulingDoc, b)
	}
}

// logship_build_info carries the version it is given and the Go version.
func TestBuildInfo(t *testing.T) {
	m := schedule.NewMetrics(nil)
	m.SetBuildInfo("1.2.3")
	want := `logship_build_info{goversion="` + runtime.Version() + `",version="1.2.3"} 1`
	if out := scrape(t, m); !strings.Contains(out, want) {
		t.Fatalf("no %s in:\n%s", want, out)
	}
}
