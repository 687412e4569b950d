package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
)

// docField is one row of a table in docs/JSON.md.
type docField struct {
	typ      string // string, number, boolean, object or array
	nullable bool   // "|null"
	optional bool   // "?": may be absent
}

// jsonDoc reads docs/JSON.md: for each "## section", its fields.
func jsonDoc(t *testing.T) map[string]map[string]docField {
	t.Helper()
	b, err := os.ReadFile("../../docs/JSON.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := map[string]map[string]docField{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "## ") {
			section = strings.TrimPrefix(line, "## ")
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "\x00"), "|")
		if len(cells) < 4 {
			t.Fatalf("docs/JSON.md: bad row %q", line)
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		typ := strings.ReplaceAll(strings.TrimSpace(cells[2]), "\x00", "|")
		f := docField{optional: strings.HasSuffix(typ, "?")}
		typ = strings.TrimSuffix(typ, "?")
		typ, f.nullable = strings.CutSuffix(typ, "|null")
		switch typ {
		case "string", "number", "boolean", "object", "array":
		default:
			t.Fatalf("docs/JSON.md, %s: field %s has type %q", section, name, typ)
		}
		f.typ = typ
		if doc[section] == nil {
			doc[section] = map[string]docField{}
		}
		doc[section][name] = f
	}
	return doc
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case nil:
		return "null"
	}
	return "?"
}

// checkJSONDoc checks a command's output against its section of
// docs/JSON.md: no field the page does not list, each of the type it says,
// every field not marked "?" present, schema_version 1. It returns the
// document.
func checkJSONDoc(t *testing.T, doc map[string]map[string]docField, section, out string) map[string]any {
	t.Helper()
	spec, ok := doc[section]
	if !ok {
		t.Fatalf("docs/JSON.md has no section %q", section)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%s: output is no JSON object: %v\n%s", section, err, out)
	}
	// Once: a type with its own schema_version field would print it twice.
	if n := strings.Count(out, `"schema_version"`); n != 1 {
		t.Errorf("%s: schema_version %d times in\n%s", section, n, out)
	}
	if got["schema_version"] != float64(1) {
		t.Errorf("%s: schema_version %v, want 1", section, got["schema_version"])
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := spec[k]
		switch typ := jsonType(got[k]); {
		case !ok:
			t.Errorf("%s: field %q (%s) is not in docs/JSON.md", section, k, typ)
		case typ == "null" && !f.nullable:
			t.Errorf("%s: field %q is null; docs/JSON.md says %s", section, k, f.typ)
		case typ != "null" && typ != f.typ:
			t.Errorf("%s: field %q is %s; docs/JSON.md says %s", section, k, typ, f.typ)
		}
	}
	for k, f := range spec {
		if _, ok := got[k]; !ok && !f.optional {
			t.Errorf("%s: field %q is missing; docs/JSON.md does not mark it optional (?)", section, k)
		}
	}
	return got
}

// Every --json document of the commands that need no PostgreSQL matches
// docs/JSON.md, on the golden store and on an empty one.
func TestJSONDocumented(t *testing.T) {
	t.Parallel()
	doc := jsonDoc(t)
	storeDir := t.TempDir()
	copyGoldenStore(t, storeDir)
	golden := []string{"--store", "file://" + storeDir, "--source", "golden"}
	empty := []string{"--store", "file://" + t.TempDir()}
	with := func(flags []string, args ...string) []string { return append(append([]string{}, flags...), args...) }
	for _, tt := range []struct {
		section string
		args    []string
		code    int
	}{
		{"catalog list", with(golden, "catalog", "list", "--json"), 0},
		{"catalog list", with(golden, "catalog", "list", "--json", "--wal"), 0},
		{"catalog show", with(golden, "catalog", "show", "000000010000000000000007", "--json"), 0},
		{"catalog show", with(golden, "catalog", "show", "20261201T165604.654Z", "--json"), 0},
		{"catalog show", with(golden, "catalog", "show", "m2", "--json"), 0},
		{"catalog rebuild", with(golden, "catalog", "rebuild", "--json"), 0},
		{"sources", with(golden, "sources", "--json"), 0},
		{"sources", with(empty, "sources", "--json"), 0},
		{"purge", with(golden, "purge", "--dry-run", "--keep-backups", "1", "--json"), 0},
		{"purge", with(empty, "purge", "--dry-run", "--keep-backups", "1", "--json"), 0},
		{"status", with(golden, "status", "--json"), 0},
		{"check", with(golden, "--pg", "host=/nonexistent port=1 connect_timeout=2", "check", "--json"), 1},
		{"verify", with(golden, "verify", "--format", "json"), 0},
		{"verify", with(golden, "verify", "--deep", "--format", "json"), 0},
		{"restore", with(golden, "restore", "--mark", "m1", "--target-dir", filepath.Join(t.TempDir(), "pg"), "--json"), 0},
		{"catalog keep", with(golden, "catalog", "keep", "m1", "--json"), 0},
		{"catalog keep", with(golden, "catalog", "keep", "20261201T165604.654Z", "--json"), 0},
		{"catalog list", with(golden, "catalog", "list", "--json"), 0},
		{"catalog unkeep", with(golden, "catalog", "unkeep", "m1", "--json"), 0},
	} {
		r := logship(t, nil, tt.args...)
		if r.code != tt.code {
			t.Errorf("logship %s: exit %d, want %d\n%s", strings.Join(tt.args, " "), r.code, tt.code, r.stderr)
			continue
		}
		got := checkJSONDoc(t, doc, tt.section, r.stdout)
		if tt.section == "catalog show" && len(got) != 2 {
			t.Errorf("catalog show: want schema_version and one of wal, backup, mark: %v", got)
		}
	}
	// --wal is what adds the WAL records.
	if r := logship(t, nil, with(golden, "catalog", "list", "--json")...); strings.Contains(r.stdout, `"wal"`) {
		t.Error(`catalog list --json lists "wal" without --wal`)
	}
	// verify asks for --format json, as its help and DESIGN say.
	if r := logship(t, nil, with(golden, "verify", "--json")...); r.code != 2 || !strings.Contains(r.stderr, "--format json") {
		t.Errorf("verify --json: exit %d, %s", r.code, r.stderr)
	}
}

// backup, mark and mark --group need a running cluster.
func TestJSONDocumentedWithPostgreSQL(t *testing.T) {
	t.Parallel()
	doc := jsonDoc(t)
	c, _, flags := archivingCluster(t, defaultPG, "js")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	waitArchived(t, c, switchWAL(t, c))
	checkJSONDoc(t, doc, "backup", mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--json")...))
	checkJSONDoc(t, doc, "mark", mustLogship(t, nil, append(pgFlags, "mark", "m1", "--json")...))
	checkJSONDoc(t, doc, "mark --group", mustLogship(t, nil, append(append([]string{}, flags...),
		"mark", "g1", "--group", "grp", "--member", "js="+c.ConnString(), "--json")...))
	waitArchived(t, c, switchWAL(t, c))
	checkJSONDoc(t, doc, "drill", mustLogship(t, nil, append(flags, "drill", "--mark", "m1", "--json",
		"--scratch-dir", pgtest.TempDir(t, "logship-drill-scratch-"), "--start-timeout", "50s")...))
	dir := newTargetDir(t)
	t.Cleanup(func() { stopServer(t, dir) })
	checkJSONDoc(t, doc, "standby", mustLogship(t, nil, append(flags, "standby", "--once", "--json",
		"--target-dir", dir, "--port", strconv.Itoa(freeTCPPort(t)))...))
	checkJSONDoc(t, doc, "failover", mustLogship(t, nil, append(flags, "failover", "--json", "--target-dir", dir)...))
}
