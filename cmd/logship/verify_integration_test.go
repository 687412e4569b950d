package main_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/pg"
)

type verifyReport struct {
	OK        bool   `json:"ok"`
	Errors    int    `json:"errors"`
	Warnings  int    `json:"warnings"`
	Backups   int    `json:"backups"`
	Marks     int    `json:"marks"`
	Reachable int    `json:"marks_reachable"`
	SystemID  string `json:"system_id"`
	Newest    *struct {
		Name       string  `json:"name"`
		AgeSeconds float64 `json:"age_seconds"`
	} `json:"newest_segment"`
	DeepStats *struct {
		Objects    int `json:"objects"`
		Checked    int `json:"checked"`
		Skipped    int `json:"skipped"`
		Downloaded int `json:"downloaded"`
	} `json:"deep_stats"`
	Problems []struct {
		Severity string `json:"severity"`
		Code     string `json:"code"`
		Object   string `json:"object"`
		Message  string `json:"message"`
		Fix      string `json:"fix"`
	} `json:"problems"`
	Checks []struct {
		Kind string `json:"kind"`
		Name string `json:"name"`
		OK   bool   `json:"ok"`
	} `json:"checks"`
}

func (r verifyReport) check(kind, name string) (ok, found bool) {
	for _, c := range r.Checks {
		if c.Kind == kind && c.Name == name {
			return c.OK, true
		}
	}
	return false, false
}

func (r verifyReport) problem(code, object string) bool {
	for _, p := range r.Problems {
		if p.Code == code && (object == "" || p.Object == object || strings.HasSuffix(p.Object, "/"+object)) {
			return true
		}
	}
	return false
}

func (r verifyReport) codes() string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.Severity+" "+p.Code+" "+p.Object)
	}
	return strings.Join(out, "; ")
}

// verifyJSON runs verify --format json and checks the exit code.
func verifyJSON(t *testing.T, flags []string, wantCode int, extra ...string) verifyReport {
	t.Helper()
	args := append(append(append([]string{}, flags...), "verify", "--format", "json"), extra...)
	r := logship(t, nil, args...)
	var rep verifyReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("verify %v: exit %d, output is not JSON: %v\n%s\n%s", extra, r.code, err, r.stdout, r.stderr)
	}
	if r.code != wantCode {
		t.Fatalf("verify %v: exit %d, want %d; problems: %s\n%s", extra, r.code, wantCode, rep.codes(), r.stderr)
	}
	return rep
}

// copyTree copies a store folder, so that a test can break the copy.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Chtimes(target, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		t.Fatalf("copy store: %v", err)
	}
	return dst
}

// walRecordFile finds the record file of a WAL name in a store copy.
func walRecordFile(t *testing.T, dir, source, name string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, source, "catalog", "wal", name+"~*"))
	if len(m) != 1 {
		t.Fatalf("record files of %s: %v", name, m)
	}
	return m[0]
}

func mustRemove(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

func changeFile(t *testing.T, p string, change func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, change(b), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
}

// expectChecks fails unless each "kind name" check exists and is ok.
func expectChecks(t *testing.T, rep verifyReport, ok bool, checks ...string) {
	t.Helper()
	for _, c := range checks {
		kind, name, _ := strings.Cut(c, " ")
		got, found := rep.check(kind, name)
		if !found || got != ok {
			t.Errorf("check %s: ok=%v found=%v, want ok=%v; problems: %s", c, got, found, ok, rep.codes())
		}
	}
}

func segmentOfMark(t *testing.T, m markRecord) string {
	t.Helper()
	l, err := pg.ParseLSN(m.LSN)
	if err != nil {
		t.Fatal(err)
	}
	return pg.SegmentName(pg.TimelineID(m.Timeline), pg.SegmentOf(l-1, 16<<20), 16<<20)
}

func segNo(t *testing.T, name string) uint64 {
	t.Helper()
	f, err := pg.ParseWALFileName(name, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	return f.SegNo
}

// One real store (a real cluster archiving through logship, a backup and
// three marks) is verified whole, then each kind of damage is made on a
// copy of it and must be found, named, and exit 1.
func TestVerifyRealStore(t *testing.T) { onEachPG(t, testVerifyRealStore) }

func testVerifyRealStore(t *testing.T, v pgtest.Version) {
	const source = "vf"
	c, storeDir, flags := archivingCluster(t, v, source)
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Pgbench(t, "-i", "-s", "1", "-q")
	// backup needs the source record, which the first archived segment makes.
	waitArchived(t, c, switchWAL(t, c))
	var b backupRecord
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--json")...)), &b); err != nil {
		t.Fatal(err)
	}
	var marks []markRecord
	for i := 1; i <= 3; i++ {
		c.Pgbench(t, "-t", "200", "-c", "1")
		switchWAL(t, c)
		var m markRecord
		if err := json.Unmarshal([]byte(mustLogship(t, nil, append(pgFlags, "mark", fmt.Sprintf("m%d", i), "--json")...)), &m); err != nil {
			t.Fatal(err)
		}
		marks = append(marks, m)
	}
	waitArchived(t, c, switchWAL(t, c))
	sysid := c.QueryString(t, "SELECT system_identifier FROM pg_control_system()")

	// The cluster is idle now: nothing switches WAL, so the store stays put
	// while it is copied.
	base := copyTree(t, storeDir)
	copyFlags := func(dir string) []string { return []string{"--store", "file://" + dir, "--source", source} }

	t.Run("healthy", func(t *testing.T) {
		rep := verifyJSON(t, copyFlags(base), 0)
		if !rep.OK || rep.Errors != 0 || rep.Backups != 1 || rep.Marks != 3 || rep.Reachable != 3 || rep.SystemID != sysid {
			t.Fatalf("healthy store: %+v", rep)
		}
		if rep.Newest == nil || rep.Newest.AgeSeconds < 0 || rep.Newest.AgeSeconds > 600 {
			t.Fatalf("newest segment: %+v", rep.Newest)
		}
		deep := verifyJSON(t, copyFlags(copyTree(t, base)), 0, "--deep")
		if !deep.OK || deep.DeepStats == nil || deep.DeepStats.Downloaded != deep.DeepStats.Objects || deep.DeepStats.Objects < len(b.Parts)+10 {
			t.Fatalf("deep: %+v", deep)
		}
		out := mustLogship(t, nil, append(copyFlags(base), "verify", "--format", "junit")...)
		var suites struct {
			Suites []struct {
				Tests    int `xml:"tests,attr"`
				Failures int `xml:"failures,attr"`
				Cases    []struct {
					Name    string    `xml:"name,attr"`
					Failure *struct{} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(out), &suites); err != nil {
			t.Fatalf("junit does not parse: %v\n%s", err, out)
		}
		if len(suites.Suites) != 1 || suites.Suites[0].Failures != 0 || suites.Suites[0].Tests < 1+1+3+1 {
			t.Fatalf("junit: %+v", suites)
		}
		text := mustLogship(t, nil, append(copyFlags(base), "verify")...)
		if !strings.HasPrefix(text, "OK: source vf") {
			t.Fatalf("text report:\n%s", text)
		}
	})

	m1Seg, m2Seg := segmentOfMark(t, marks[0]), segmentOfMark(t, marks[1])
	if segNo(t, m2Seg) <= segNo(t, m1Seg) {
		t.Fatalf("marks m1 %s and m2 %s share a segment", m1Seg, m2Seg)
	}
	tests := []struct {
		name    string
		deep    bool
		damage  func(t *testing.T, dir string)
		problem string // code and object
		ok      []string
		broken  []string
	}{
		{
			name: "segment missing between backup end and mark",
			damage: func(t *testing.T, dir string) {
				mustRemove(t, filepath.Join(dir, source, "wal", m2Seg), walRecordFile(t, dir, source, m2Seg))
			},
			problem: "wal-gap " + m2Seg,
			ok:      []string{"mark m1", "backup " + b.ID},
			broken:  []string{"mark m2", "mark m3", "timeline 1"},
		},
		{
			name: "segment missing inside the backup",
			damage: func(t *testing.T, dir string) {
				mustRemove(t, filepath.Join(dir, source, "wal", b.EndWAL), walRecordFile(t, dir, source, b.EndWAL))
			},
			problem: "backup-wal-missing " + b.EndWAL,
			broken:  []string{"backup " + b.ID, "mark m1", "mark m2", "mark m3"},
		},
		{
			name: "backup part missing",
			damage: func(t *testing.T, dir string) {
				mustRemove(t, filepath.Join(dir, filepath.FromSlash(b.Parts[0].Key)))
			},
			problem: "missing-part " + b.Parts[0].Key,
			broken:  []string{"backup " + b.ID, "mark m1"},
		},
		{
			name: "record without object",
			damage: func(t *testing.T, dir string) {
				mustRemove(t, filepath.Join(dir, source, "wal", m1Seg))
			},
			problem: "record-without-object " + source + "/wal/" + m1Seg,
			broken:  []string{"mark m1", "store records"},
		},
		{
			name: "flipped byte",
			deep: true,
			damage: func(t *testing.T, dir string) {
				changeFile(t, filepath.Join(dir, source, "wal", m2Seg), func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b })
			},
			problem: "corrupt-object " + source + "/wal/" + m2Seg,
			ok:      []string{"mark m1"},
			broken:  []string{"mark m2", "store records"},
		},
		{
			name: "truncated backup part",
			deep: true,
			damage: func(t *testing.T, dir string) {
				changeFile(t, filepath.Join(dir, filepath.FromSlash(b.Parts[len(b.Parts)-1].Key)), func(b []byte) []byte { return b[:len(b)-100] })
			},
			problem: "size-mismatch " + b.Parts[len(b.Parts)-1].Key,
			broken:  []string{"backup " + b.ID},
		},
		{
			name: "segment from another cluster",
			deep: false, // the system identifier is in the record's key
			damage: func(t *testing.T, dir string) {
				// The other cluster's object and record, put in place of ours
				// with every size and checksum consistent.
				otherDir := t.TempDir()
				otherFlags := []string{"--store", "file://" + otherDir, "--source", source}
				mustLogship(t, nil, append(otherFlags, "wal-push", syntheticSegment(t, t.TempDir(), m2Seg, 4242, 1))...)
				mustRemove(t, filepath.Join(dir, source, "wal", m2Seg), walRecordFile(t, dir, source, m2Seg))
				for _, p := range []string{filepath.Join(otherDir, source, "wal", m2Seg), walRecordFile(t, otherDir, source, m2Seg)} {
					rel, _ := filepath.Rel(otherDir, p)
					if err := os.Rename(p, filepath.Join(dir, rel)); err != nil {
						t.Fatal(err)
					}
				}
			},
			problem: "wrong-system " + source + "/wal/" + m2Seg,
			ok:      []string{"mark m1"},
			broken:  []string{"mark m2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := copyTree(t, base)
			tt.damage(t, dir)
			var extra []string
			if tt.deep {
				extra = append(extra, "--deep")
			}
			rep := verifyJSON(t, copyFlags(dir), 1, extra...)
			code, obj, _ := strings.Cut(tt.problem, " ")
			if !rep.problem(code, obj) {
				t.Fatalf("no %s problem naming %s: %s", code, obj, rep.codes())
			}
			for _, p := range rep.Problems {
				if p.Message == "" || p.Fix == "" {
					t.Fatalf("problem without message or fix: %+v", p)
				}
			}
			expectChecks(t, rep, true, tt.ok...)
			expectChecks(t, rep, false, tt.broken...)
			junit := logship(t, nil, append(copyFlags(dir), append([]string{"verify", "--format", "junit"}, extra...)...)...)
			if junit.code != 1 || !strings.Contains(junit.stdout, "<failure") {
				t.Fatalf("junit: exit %d\n%s", junit.code, junit.stdout)
			}
			if err := xml.Unmarshal([]byte(junit.stdout), new(struct{})); err != nil {
				t.Fatalf("junit does not parse: %v", err)
			}
		})
	}

	// A new timeline whose history file is lost: its WAL cannot be followed
	// back to the backup on timeline 1.
	t.Run("history missing", func(t *testing.T) {
		t.Parallel()
		dir := copyTree(t, base)
		flags := copyFlags(dir)
		newest := verifyJSON(t, flags, 0).Newest.Name
		next := segNo(t, newest) + 1
		src := t.TempDir()
		hist := filepath.Join(src, "00000002.history")
		os.WriteFile(hist, []byte(fmt.Sprintf("1\t%s\tno recovery target specified\n", pg.SegmentStart(next, 16<<20))), 0o644)
		mustLogship(t, nil, append(flags, "wal-push", hist)...)
		id, _ := strconv.ParseUint(sysid, 10, 64)
		for n := next; n < next+2; n++ {
			mustLogship(t, nil, append(flags, "wal-push", syntheticSegment(t, src, pg.SegmentName(2, n, 16<<20), id, byte(n)))...)
		}
		if rep := verifyJSON(t, flags, 0); len(rep.Problems) != 0 {
			t.Fatalf("with its history, timeline 2 is whole: %s", rep.codes())
		}
		mustRemove(t, filepath.Join(dir, source, "wal", "00000002.history"), walRecordFile(t, dir, source, "00000002.history"))
		rep := verifyJSON(t, flags, 1)
		if !rep.problem("missing-history", "00000002.history") {
			t.Fatalf("problems: %s", rep.codes())
		}
		if ok, _ := rep.check("timeline", "2"); ok {
			t.Fatal("timeline 2 reported whole")
		}
		if ok, _ := rep.check("timeline", "1"); !ok {
			t.Fatalf("timeline 1 reported broken: %s", rep.codes())
		}
	})

	t.Run("could not run", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"--store", "file:///nonexistent/logship", "--source", source, "verify"},
			{"--store", "file://" + base, "--source", "nothing-here", "verify"},
			append(copyFlags(base), "verify", "--format", "yaml"),
		} {
			if r := logship(t, nil, args...); r.code != 2 {
				t.Errorf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
			}
		}
	})

	// Incremental deep runs on the live store: the second downloads nothing,
	// and after more WAL only what is new.
	t.Run("incremental deep", func(t *testing.T) {
		first := verifyJSON(t, flags, 0, "--deep")
		if first.DeepStats.Downloaded != first.DeepStats.Objects || first.DeepStats.Objects == 0 {
			t.Fatalf("first deep run: %+v", first.DeepStats)
		}
		second := verifyJSON(t, flags, 0, "--deep")
		if second.DeepStats.Downloaded != 0 || second.DeepStats.Skipped != first.DeepStats.Objects {
			t.Fatalf("second deep run: %+v", second.DeepStats)
		}
		var last string
		for range 3 {
			last = switchWAL(t, c)
		}
		waitArchived(t, c, last)
		third := verifyJSON(t, flags, 0, "--deep")
		added := third.DeepStats.Objects - first.DeepStats.Objects
		if added < 3 || third.DeepStats.Downloaded != added {
			t.Fatalf("after %d new objects the deep run downloaded %d: %+v", added, third.DeepStats.Downloaded, third.DeepStats)
		}
		full := verifyJSON(t, flags, 0, "--deep", "--full")
		if full.DeepStats.Downloaded != full.DeepStats.Objects {
			t.Fatalf("--full: %+v", full.DeepStats)
		}
	})
}
