package main_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/pgtest"
)

// TestEncryptedMetricsNoIdentity: a scheduler configured with an identity
// file serves /metrics and /healthz, logs, and runs with an argv that hold
// neither the identity's secret key nor the file's content (issue 12: no
// identity material in argv, logs or /metrics).
func TestEncryptedMetricsNoIdentity(t *testing.T) {
	t.Parallel()
	idFile, rcp, secret := newIdentity(t)
	content, err := os.ReadFile(idFile)
	if err != nil {
		t.Fatal(err)
	}
	storeDir := pgtest.TempDir(t, "logship-store-")
	ship := []string{"--store", "file://" + storeDir, "--source", "encm", "--encrypt-to", rcp}
	c := archivingClusterOn(t, defaultPG, ship, nil)
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))
	mustLogship(t, nil, append(append([]string{}, ship...), "--pg", c.ConnString(), "backup", "--fast")...)

	cfg := writeConfig(t, fmt.Sprintf(`store: file://%s
source: encm
pg: "%s"
encrypt-to: "%s"
identity-file: "%s"
log-format: json
jobs:
  backup: "off"
  mark: "off"
  verify: "* * * * * *"
  metrics-listen: "127.0.0.1:0"
`, storeDir, c.ConnString(), rcp, idFile))
	d := startDaemon(t, "--config", cfg, "schedule")

	var url string
	pgtest.WaitFor(t, 30*time.Second, "the metrics listener", func() bool {
		if r := d.find("serving /metrics and /healthz"); r != nil {
			url = fmt.Sprintf("http://%s", r["addr"])
			return true
		}
		return false
	})
	var metrics, health string
	pgtest.WaitFor(t, 60*time.Second, "a verify run in /metrics", func() bool {
		metrics, _, _ = scrapeURL(url + "/metrics")
		v, _ := metricValue(metrics, `logship_job_runs_total{job="verify"}`)
		return v >= 1
	})
	if v, _ := metricValue(metrics, `logship_job_failures_total{job="verify"}`); v != 0 {
		t.Errorf("verify failed %v times:\n%s", v, metrics)
	}
	health, code, err := scrapeURL(url + "/healthz")
	if err != nil || code != http.StatusOK {
		t.Fatalf("healthz: %d %v %s", code, err, health)
	}
	argv, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", d.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	archiveCmd := c.QueryString(t, "SHOW archive_command")
	key := strings.ToUpper(strings.TrimPrefix(secret, "AGE-SECRET-KEY-"))
	body := strings.TrimSpace(string(content))
	for name, o := range map[string]string{"/metrics": metrics, "/healthz": health, "the daemon's log": d.log(),
		"the daemon's argv": string(argv), "archive_command": archiveCmd, "the server log": c.Log()} {
		if strings.Contains(strings.ToUpper(o), key) || strings.Contains(o, body) {
			t.Errorf("identity material in %s:\n%s", name, o)
		}
		if strings.Contains(strings.ToUpper(o), "AGE-SECRET-KEY-") {
			t.Errorf("an age secret key in %s:\n%s", name, o)
		}
	}
}
