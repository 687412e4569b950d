package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fetchInto runs wal-fetch NAME into a fresh folder and returns the result
// and what the folder holds afterwards.
func fetchInto(t *testing.T, flags []string, args ...string) (result, []os.DirEntry) {
	t.Helper()
	destDir := t.TempDir()
	r := logship(t, nil, append(append(append([]string{}, flags...), "wal-fetch"), append(args, filepath.Join(destDir, "RECOVERYXLOG"))...)...)
	entries, _ := os.ReadDir(destDir)
	return r, entries
}

// F3: wal-fetch exited 1 ("not in the archive", which PostgreSQL takes as
// the normal end of recovery) for an empty store folder, a misspelt source,
// a recorded segment whose object is gone and for bad arguments, and an
// untargeted restore promoted short. Exit 1 is kept for a file that is
// neither recorded nor stored in a source that exists; everything else
// exits 200, above 125, so that PostgreSQL stops recovery.
func TestF3_WalFetchExitsOneOnlyForAnAbsentFileOfAnExistingSource(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	seg2 := "000000010000000000000002"
	wal := t.TempDir()
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, wal, seg1, 42, 0))...)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, wal, seg2, 42, 0))...)
	if err := os.Remove(filepath.Join(dir, "t", "wal", seg2)); err != nil { // recorded, object gone
		t.Fatal(err)
	}
	// A source whose record cannot be read.
	unreadable := []string{"--store", "file://" + dir, "--source", "u"}
	mustLogship(t, nil, append(unreadable, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 43, 0))...)
	if err := os.WriteFile(filepath.Join(dir, "u", "catalog", "source"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir() // an unmounted mount point
	absent := "000000010000000000000007"

	fatal := []struct {
		name  string
		flags []string
		args  []string
		want  string
	}{
		{"empty store folder", []string{"--store", "file://" + empty, "--source", "t"}, []string{seg1}, "no source record"},
		{"empty store folder, unrecorded file", []string{"--store", "file://" + empty, "--source", "t"}, []string{absent}, "no source record"},
		{"misspelt source", []string{"--store", "file://" + dir, "--source", "tt"}, []string{seg1}, "no source record"},
		{"misspelt prefix", []string{"--store", "file://" + filepath.Join(dir, "t"), "--source", "t"}, []string{absent}, "no source record"},
		{"store folder missing", []string{"--store", "file://" + filepath.Join(dir, "nope"), "--source", "t"}, []string{seg1}, "does not exist"},
		{"recorded but missing object", flags, []string{seg2}, "recorded"},
		{"unreadable source record", unreadable, []string{absent}, "source"},
		{"history file, no source record", []string{"--store", "file://" + empty, "--source", "t"}, []string{"00000002.history"}, "no source record"},
		{"malformed name", flags, []string{"../../etc/passwd"}, "invalid WAL file name"},
		{"unknown flag", flags, []string{"--bogus", seg1}, "bogus"},
	}
	for _, tt := range fatal {
		t.Run(tt.name, func(t *testing.T) {
			r, left := fetchInto(t, tt.flags, tt.args...)
			if r.code != 200 || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want 200 with %q; stderr %q", r.code, tt.want, r.stderr)
			}
			if strings.Contains(strings.TrimSpace(r.stderr), "\n") {
				t.Errorf("error is not one line: %q", r.stderr)
			}
			if len(left) != 0 {
				t.Errorf("a failed fetch left %v at the destination", left)
			}
		})
	}
	for _, args := range [][]string{{"wal-fetch", seg1}, {"wal-fetch"}, {"wal-fetch", seg1, "a", "b"}} {
		if r := logship(t, nil, append(append([]string{}, flags...), args...)...); r.code != 200 {
			t.Errorf("%v: exit %d, want 200 (a malformed restore_command must stop recovery); %q", args, r.code, r.stderr)
		}
	}

	// What PostgreSQL asks for at the end of every recovery, and for
	// timelines that never existed: the normal exit 1.
	for _, name := range []string{absent, "00000002.history", "000000020000000000000002", "000000010000000000000001.partial"} {
		r, left := fetchInto(t, flags, name)
		if r.code != 1 || len(left) != 0 {
			t.Errorf("fetch of %s, not in the archive: exit %d (want 1), left %v; %q", name, r.code, left, r.stderr)
		}
	}
}

// F7: wal-fetch checked an object only against its own header, so a valid
// object of the same name from another cluster (or an older copy) swapped
// in whole was handed to PostgreSQL with exit 0. It is checked against its
// catalog record too: exit 200, nothing at the destination.
func TestF7_WalFetchRefusesAnObjectSwappedInFromAnotherCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	flagsOf := func(source string) []string { return []string{"--store", "file://" + dir, "--source", source} }
	// Two clusters (systems 42 and 43), each archiving into its own source,
	// and a second copy of cluster 42's segment with other content.
	mustLogship(t, nil, append(flagsOf("a"), "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	mustLogship(t, nil, append(flagsOf("b"), "wal-push", syntheticSegment(t, t.TempDir(), seg1, 43, 0))...)
	mustLogship(t, nil, append(flagsOf("c"), "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 7))...)
	target := filepath.Join(dir, "a", "wal", seg1)
	good, err := os.ReadFile(target)
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []struct{ name, source, want string }{
		{"another cluster's segment", "b", "does not match its record"},
		{"another copy of the same cluster's segment", "c", "does not match its record"},
	} {
		t.Run(from.name, func(t *testing.T) {
			swapped, err := os.ReadFile(filepath.Join(dir, from.source, "wal", seg1))
			if err != nil {
				t.Fatal(err)
			}
			os.Chmod(target, 0o644)
			if err := os.WriteFile(target, swapped, 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(target, good, 0o644)
			for _, ahead := range []string{"0", "4"} {
				r, left := fetchInto(t, append(flagsOf("a"), "--fetch-ahead", ahead), seg1)
				if r.code != 200 || !strings.Contains(r.stderr, from.want) {
					t.Errorf("--fetch-ahead %s: exit %d, want 200 saying %q; stderr %q", ahead, r.code, from.want, r.stderr)
				}
				if len(left) != 0 {
					t.Errorf("--fetch-ahead %s: the swapped object reached the destination: %v", ahead, left)
				}
			}
		})
	}
	if r, left := fetchInto(t, flagsOf("a"), seg1); r.code != 0 || len(left) != 1 {
		t.Fatalf("the original object: exit %d, %v; %q", r.code, left, r.stderr)
	}
}

// F8: one stray key under catalog/wal/ or catalog/marks/ made catalog list,
// verify and restore fail for the whole source. They are ignored with a
// warning; two records of one mark name are an error verify names.
func TestF8_StrayCatalogKeysAreWarningsAndDuplicateMarksAnError(t *testing.T) {
	t.Parallel()
	dir, flags := newStoreDir(t)
	mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, t.TempDir(), seg1, 42, 0))...)
	stray := []string{filepath.Join("t", "catalog", "wal", ".DS_Store"), filepath.Join("t", "catalog", "marks", "README")}
	for _, k := range stray {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, k)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, k), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := logship(t, nil, append(flags, "catalog", "list")...)
	if r.code != 0 || !strings.Contains(r.stdout, seg1) {
		t.Fatalf("catalog list with stray keys: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, k := range stray {
		if !strings.Contains(r.stderr, "warning: "+filepath.ToSlash(k)+" is not a catalog record") {
			t.Errorf("catalog list does not warn about %s: %q", k, r.stderr)
		}
	}
	// No backup: verify finds the source broken (exit 1), but it runs and
	// the stray keys are warnings, not the reason.
	rep := verifyJSON(t, flags, 1)
	for _, k := range stray {
		if !rep.problem("stray-key", filepath.ToSlash(k)) {
			t.Errorf("verify does not report %s: %s", k, rep.codes())
		}
	}
	for _, p := range rep.Problems {
		if p.Code == "stray-key" && p.Severity != "warning" {
			t.Errorf("stray key reported as %s", p.Severity)
		}
	}

	// The same mark name recorded twice, at two LSNs.
	for _, rec := range []string{"m1~0000000001000100~1~1764547200000000000", "m1~0000000001000200~1~1764547260000000000", "m2~0000000001000300~1~1764547320000000000"} {
		if err := os.WriteFile(filepath.Join(dir, "t", "catalog", "marks", rec), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rep = verifyJSON(t, flags, 1)
	if !rep.problem("duplicate-mark", "m1") || rep.problem("duplicate-mark", "m2") {
		t.Fatalf("verify does not name m1 (and only m1) as duplicated: %s", rep.codes())
	}
	r = logship(t, nil, append(flags, "verify")...)
	if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "mark m1 has 2 records") {
		t.Fatalf("verify: exit %d, want 1 naming m1\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}
