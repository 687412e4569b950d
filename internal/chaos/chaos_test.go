package chaos

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigFromEnv(t *testing.T) {
	t.Setenv("LOGSHIP_TEST_S3_ENDPOINT", "")
	t.Setenv("CHAOS_FAULTS", "7")
	t.Setenv("CHAOS_SEED", "42")
	t.Setenv("CHAOS_S3", "")
	t.Setenv("CHAOS_PG", "0")
	cfg, err := ConfigFromEnv()
	if err != nil || cfg.Faults != 7 || cfg.Seed != 42 || cfg.S3 || cfg.PG || cfg.CheckEvery != 50 {
		t.Fatalf("got %+v, %v", cfg, err)
	}
	for _, bad := range [][2]string{{"CHAOS_FAULTS", "0"}, {"CHAOS_FAULTS", "x"}, {"CHAOS_SEED", "x"}, {"CHAOS_S3", "yes"}} {
		t.Run(bad[0]+"="+bad[1], func(t *testing.T) {
			t.Setenv(bad[0], bad[1])
			if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), bad[0]) {
				t.Fatalf("want an error naming %s, got %v", bad[0], err)
			}
		})
	}
}

// Every damage must change the object, or a fetch that exits 0 would be
// counted as a failure of logship that is not one.
func TestDamageAlwaysChanges(t *testing.T) {
	c := &Campaign{rng: rand.New(rand.NewPCG(1, 2))}
	p := filepath.Join(t.TempDir(), "obj")
	orig := bytes.Repeat([]byte{0, 1, 0, 0, 7}, 1000)
	for i := range 500 {
		if err := os.WriteFile(p, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		how, err := c.damage(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(p); bytes.Equal(got, orig) {
			t.Fatalf("damage %d (%s) left the object unchanged", i, how)
		}
	}
}

func TestSyntheticSegmentNames(t *testing.T) {
	s := newSynSet(nil, "syn", "test")
	s.next = 4095
	if a, b := s.newName(), s.newName(); a != "000000010000000000000FFF" || b != "000000010000000100000000" {
		t.Fatalf("names %s %s", a, b)
	}
}

// A short store-level campaign (no PostgreSQL, no S3) against a freshly
// built binary finds nothing.
func TestShortCampaign(t *testing.T) {
	if testing.Short() {
		t.Skip("builds logship and runs a campaign")
	}
	bin := filepath.Join(t.TempDir(), "logship")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/logship")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var out bytes.Buffer
	fig, findings, err := Run(Config{Faults: 12, Seed: 7, CheckEvery: 5, Bin: bin, Out: &out})
	if err != nil || len(findings) > 0 || fig.Bad() > 0 {
		t.Fatalf("campaign: %v, %d findings\n%s", err, len(findings), out.String())
	}
	if fig.TotalFaults() != 12 || fig.AckSegments == 0 || fig.SegChecks == 0 {
		t.Fatalf("figures %+v\n%s", fig, out.String())
	}
	if !strings.Contains(out.String(), "acknowledged segments") {
		t.Fatalf("no figures table:\n%s", out.String())
	}
}
