package layers_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/logship/logship/"

// forbidden maps a package (or a package prefix ending in "/") to the
// module packages it must never import, directly or not.
var forbidden = map[string][]string{
	"object":   {"store", "catalog", "shipper", "restore", "pg", "cmd", "schedule", "standby", "drill"},
	"pg":       {"store", "catalog", "shipper", "restore", "object", "cmd", "schedule", "standby", "drill"},
	"store":    {"catalog", "shipper", "restore", "pg", "object", "cmd", "schedule", "standby", "drill"},
	"catalog":  {"shipper", "restore", "cmd", "schedule", "standby", "drill"},
	"shipper":  {"restore", "cmd", "schedule", "standby", "drill"},
	"restore":  {"shipper", "cmd", "schedule", "standby", "drill"},
	"schedule": {"cmd", "standby"},
	// standby steps restored servers from mark to mark: above restore and
	// catalog, below cmd.
	"standby": {"cmd", "shipper", "schedule", "drill"},
	// drill sits above restore and catalog: it restores and checks.
	"drill":    {"shipper", "cmd", "schedule", "standby"},
	"internal": {"cmd", "standby", "drill"},
	// pg/server runs PostgreSQL for restore and for internal/pgtest alike.
	"pg/server": {"store", "catalog", "shipper", "restore", "object", "cmd", "internal"},
	// receive streams WAL into the store through catalog and shipper's
	// push path; nothing below imports it.
	"receive": {"restore", "cmd", "schedule", "standby", "drill", "resident"},
	// resident serves wal-push through a function cmd gives it: it knows
	// neither the store nor how a push is done.
	"resident": {"store", "catalog", "shipper", "restore", "object", "cmd", "schedule", "standby", "drill", "receive"},
}

// Every package of the module that a layer below may not import: nothing
// but cmd imports the daemons.
var daemons = []string{"receive", "resident"}

func TestNothingBelowImportsTheDaemons(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		if strings.HasPrefix(pkg, "cmd/") || strings.HasPrefix(pkg, "internal/") {
			continue
		}
		for _, dep := range fields[1:] {
			d, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, dm := range daemons {
				top := strings.SplitN(pkg, "/", 2)[0]
				if top != dm && (d == dm || strings.HasPrefix(d, dm+"/")) && !(top == "resident" && d == "resident/client") {
					t.Errorf("%s depends on %s: only cmd wires the daemons", pkg, d)
				}
			}
		}
	}
}

// logship-push is what archive_command starts for every WAL file: it must
// be up in a few milliseconds, so it links the standard library only (no
// SDK, no metrics, no protocol packages, whose init runs before main).
func TestThinClientLinksOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}{{end}}`, module+"cmd/logship-push").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep != module+"cmd/logship-push" && dep != module+"resident/client" {
			t.Errorf("logship-push links %s: the thin client may link only the standard library and resident/client", dep)
		}
	}
}

func TestDependenciesPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		rules, ok := forbidden[strings.SplitN(pkg, "/", 2)[0]]
		if sub, subOK := forbidden[pkg]; subOK {
			// A package with its own entry keeps its top's rules too.
			rules, ok = append(append([]string{}, rules...), sub...), true
		}
		if !ok {
			continue
		}
		checked++
		for _, dep := range fields[1:] {
			d, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, bad := range rules {
				if d == bad || strings.HasPrefix(d, bad+"/") {
					t.Errorf("%s depends on %s: dependencies must point cmd → shipper, restore → catalog → store, with pg and object as leaves", pkg, d)
				}
			}
		}
	}
	if checked < 8 {
		t.Fatalf("checked only %d packages; is go list working?", checked)
	}
}
