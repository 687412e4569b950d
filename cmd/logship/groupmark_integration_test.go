package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// groupMarkOut is what mark --group --json prints.
type groupMarkOut struct {
	Group   string `json:"group"`
	Name    string `json:"name"`
	Skew    int64  `json:"skew_ns"`
	Members []struct {
		Source   string `json:"source"`
		Name     string `json:"name"`
		LSN      string `json:"lsn"`
		Timeline int    `json:"timeline"`
	} `json:"members"`
}

// groupSource is one member: its cluster and its logship flags.
type groupSource struct {
	name  string
	c     *pgtest.Cluster
	flags []string
}

func (s groupSource) pgFlags() []string {
	return append(append([]string{}, s.flags...), "--pg", s.c.ConnString())
}

// Two clusters ship into one store as sources orders and payments; a group
// mark puts both at one mark, refuses a name either member has used, and
// waits out (or refuses over) prepared transactions.
func TestGroupMark(t *testing.T) { onEachPG(t, testGroupMark) }

func testGroupMark(t *testing.T, v pgtest.Version) {
	pgtest.Require(t)
	storeDir := pgtest.TempDir(t, "logship-store-")
	both := make([]groupSource, 2)
	for i, name := range []string{"orders", "payments"} {
		s := groupSource{name: name, flags: []string{"--store", "file://" + storeDir, "--source", name}}
		s.c = archivingClusterOn(t, v, s.flags, nil, "max_prepared_transactions = 5")
		s.c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
		// The first archived segment creates the source record.
		waitArchived(t, s.c, switchWAL(t, s.c))
		mustLogship(t, nil, append(s.pgFlags(), "backup", "--fast")...)
		both[i] = s
	}
	orders, payments := both[0], both[1]
	groupMark := func(name string, extra ...string) result {
		t.Helper()
		args := []string{"--store", "file://" + storeDir, "mark", name, "--group", "billing",
			"--member", "orders=" + orders.c.ConnString(), "--member", "payments=" + payments.c.ConnString()}
		return logship(t, nil, append(args, extra...)...)
	}
	insert := func(n int) {
		for _, s := range both {
			s.c.Exec(t, "INSERT INTO probe VALUES ($1)", n)
		}
	}
	// noMark checks that no trace of mark name is in the store.
	noMark := func(name string) {
		t.Helper()
		for _, f := range storeFiles(t, storeDir) {
			if strings.Contains(f, "/"+name) {
				t.Errorf("store has %s", f)
			}
		}
	}

	insert(1)
	insert(2)
	r := groupMark("g1", "--json")
	if r.code != 0 {
		t.Fatalf("group mark g1: exit %d\n%s", r.code, r.stderr)
	}
	var gm groupMarkOut
	if err := json.Unmarshal([]byte(r.stdout), &gm); err != nil {
		t.Fatalf("mark --group --json: %v\n%s", err, r.stdout)
	}
	if gm.Group != "billing" || gm.Name != "g1" || len(gm.Members) != 2 || gm.Skew < 0 || gm.Skew > 5e9 {
		t.Fatalf("group record looks wrong: %+v", gm)
	}
	for i, m := range gm.Members {
		if m.Source != both[i].name || m.Name != "g1" || m.LSN == "" || m.Timeline != 1 {
			t.Fatalf("member %d looks wrong: %+v", i, m)
		}
	}
	if _, err := os.Stat(filepath.Join(storeDir, "_groups", "billing", "g1.json")); err != nil {
		t.Fatalf("group record: %v", err)
	}
	insert(3)
	for _, s := range both {
		waitArchived(t, s.c, switchWAL(t, s.c))
	}

	t.Run("name taken on one member", func(t *testing.T) {
		mustLogship(t, nil, append(orders.pgFlags(), "mark", "g2")...)
		r := groupMark("g2")
		if r.code != 2 || !strings.Contains(r.stderr, "member orders") || !strings.Contains(r.stderr, "already has a mark") {
			t.Fatalf("group mark of a taken name: exit %d, %q", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(storeDir, "payments", "catalog", "marknames", "g2")); !os.IsNotExist(err) {
			t.Fatalf("payments keeps the refused name reserved: %v", err)
		}
		mustLogship(t, nil, append(payments.pgFlags(), "mark", "g2")...)

		// Members from the config file, as a scheduled job would have them.
		config := filepath.Join(t.TempDir(), "logship.yaml")
		yaml := "store: file://" + storeDir + "\ngroups:\n  billing:\n" +
			"    - source: orders\n      pg: \"" + orders.c.ConnString() + "\"\n" +
			"    - source: payments\n      pg: \"" + payments.c.ConnString() + "\"\n"
		if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		out := mustLogship(t, nil, "--config", config, "mark", "g3", "--group", "billing")
		if !strings.Contains(out, "orders at") || !strings.Contains(out, "payments at") || !strings.Contains(out, "skew") {
			t.Fatalf("group mark text output: %q", out)
		}
	})

	t.Run("prepared transaction", func(t *testing.T) {
		payments.c.Exec(t, "BEGIN; INSERT INTO probe VALUES (100); PREPARE TRANSACTION 'x'")
		r := groupMark("g4", "--quiesce-timeout", "1s")
		if r.code != 1 || !strings.Contains(r.stderr, "prepared transactions") || !strings.Contains(r.stderr, "payments has 1 ('x')") {
			t.Fatalf("group mark with a prepared transaction: exit %d, %q", r.code, r.stderr)
		}
		noMark("g4")
		payments.c.Exec(t, "COMMIT PREPARED 'x'")
		if r := groupMark("g4"); r.code != 0 {
			t.Fatalf("group mark after COMMIT PREPARED: exit %d\n%s", r.code, r.stderr)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		for _, args := range [][]string{
			{"--store", "file://" + storeDir, "mark", "g5", "--member", "orders=" + orders.c.ConnString()},
			{"--store", "file://" + storeDir, "mark", "g5", "--group", "billing", "--member", "orders"},
			{"--store", "file://" + storeDir, "mark", "g5", "--group", "nobody"},
			{"--store", "file://" + storeDir, "mark", "g5", "--group", "billing",
				"--member", "orders=" + orders.c.ConnString(), "--member", "payments=" + orders.c.ConnString()},
		} {
			if r := logship(t, nil, args...); r.code != 2 {
				t.Errorf("logship %v: exit %d, want 2; %s", args, r.code, r.stderr)
			}
		}
		noMark("g5")
	})

	// Each member restored to g1 has exactly the rows committed before it.
	for _, s := range both {
		t.Run("restore "+s.name, func(t *testing.T) {
			t.Parallel()
			r, out := restoreAndStart(t, s.flags, "--mark", "g1", "--no-archive")
			if !strings.Contains(out.Reached.StopLine, "before WAL location") {
				t.Errorf("reached %+v, want the restore point g1", *out.Reached)
			}
			if got := r.query(t, probesSQL); got != "1,2" {
				t.Errorf("%s restored to g1 has probes %q, want 1,2", s.name, got)
			}
		})
	}
}
