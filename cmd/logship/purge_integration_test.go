package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/pgtest"
	"github.com/logship/logship/store"
	"github.com/logship/logship/store/file"
)

// purgePlan is what purge --json prints.
type purgePlan struct {
	DryRun    bool   `json:"dry_run"`
	CutoffLSN string `json:"cutoff_lsn"`
	Backups   []struct {
		ID     string `json:"id"`
		Action string `json:"action"`
		Reason string `json:"reason"`
	} `json:"backups"`
	Marks []struct {
		Name   string `json:"name"`
		Action string `json:"action"`
		Reason string `json:"reason"`
	} `json:"marks"`
	WAL []struct {
		Timeline int    `json:"timeline"`
		First    string `json:"first"`
		Last     string `json:"last"`
		Files    int    `json:"files"`
		Action   string `json:"action"`
		Reason   string `json:"reason"`
	} `json:"wal"`
	Delete struct {
		Backups  int `json:"backups"`
		Marks    int `json:"marks"`
		WALFiles int `json:"wal_files"`
	} `json:"delete"`
	Result *struct {
		Deleted struct {
			Backups  int `json:"backups"`
			Marks    int `json:"marks"`
			WALFiles int `json:"wal_files"`
		} `json:"deleted"`
	} `json:"result"`
}

func (p purgePlan) actions() (backups, marks map[string]string) {
	backups, marks = map[string]string{}, map[string]string{}
	for _, b := range p.Backups {
		backups[b.ID] = b.Action
	}
	for _, m := range p.Marks {
		marks[m.Name] = m.Action
	}
	return backups, marks
}

// deletedWAL lists the recorded WAL names that fall in the plan's delete runs.
func (p purgePlan) deletedWAL(recorded []string) []string {
	var out []string
	for _, name := range recorded {
		for _, w := range p.WAL {
			if w.Action == "delete" && name >= w.First && name <= w.Last {
				out = append(out, name)
			}
		}
	}
	return out
}

func purgeJSON(t *testing.T, flags []string, args ...string) purgePlan {
	t.Helper()
	out := mustLogship(t, nil, append(append(append([]string{}, flags...), "purge", "--json"), args...)...)
	var p purgePlan
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("purge --json: %v\n%s", err, out)
	}
	return p
}

// killingStore fails every Delete after the first n, as if the purge
// process died there.
type killingStore struct {
	store.Store
	left atomic.Int64
}

var errPurgeKilled = errors.New("purge killed")

func (k *killingStore) Delete(ctx context.Context, key string) error {
	if k.left.Add(-1) < 0 {
		return errPurgeKilled
	}
	return k.Store.Delete(ctx, key)
}

// Purge end to end: four backups, each followed by a mark; a dry run that
// changes nothing, purges killed midway that leave a store verify passes,
// then the purge keeping the last two backups: what it lists as deleted is
// gone, verify passes, and every kept mark restores data-exact.
func TestPurgeEndToEnd(t *testing.T) { onEachPG(t, testPurgeEndToEnd) }

func testPurgeEndToEnd(t *testing.T, v pgtest.Version) {
	c, storeDir, flags := archivingCluster(t, v, "purge")
	pgFlags := append(append([]string{}, flags...), "--pg", c.ConnString())
	c.Exec(t, "CREATE TABLE probe (n int PRIMARY KEY)")
	c.Pgbench(t, "-i", "-s", "1", "-q")
	waitArchived(t, c, switchWAL(t, c))

	var ids []string
	rowsAt := map[string]string{} // mark -> the probe rows committed before it
	var rows []string
	insert := func(n int) {
		c.Exec(t, "INSERT INTO probe VALUES ($1)", n)
		rows = append(rows, fmt.Sprint(n))
	}
	for i := 1; i <= 4; i++ {
		insert(i)
		var b backupRecord
		if err := json.Unmarshal([]byte(mustLogship(t, nil, append(pgFlags, "backup", "--fast", "--json")...)), &b); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.ID)
		insert(100 + i)
		name := fmt.Sprintf("m%d", i)
		mustLogship(t, nil, append(pgFlags, "mark", name)...)
		rowsAt[name] = strings.Join(rows, ",")
		insert(200 + i)
	}
	waitArchived(t, c, switchWAL(t, c))
	var before listing
	if err := json.Unmarshal([]byte(mustLogship(t, nil, append(flags, "catalog", "list", "--json")...)), &before); err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, w := range before.WAL {
		recorded = append(recorded, w.Name)
	}

	// The dry run says exactly what goes, and changes nothing.
	files := storeFiles(t, storeDir)
	dry := purgeJSON(t, flags, "--keep-backups", "2", "--dry-run")
	backups, marks := dry.actions()
	wantBackups := map[string]string{ids[0]: "delete", ids[1]: "delete", ids[2]: "keep", ids[3]: "keep"}
	wantMarks := map[string]string{"m1": "delete", "m2": "delete", "m3": "keep", "m4": "keep"}
	if !reflect.DeepEqual(backups, wantBackups) || !reflect.DeepEqual(marks, wantMarks) || !dry.DryRun {
		t.Fatalf("dry run: backups %v marks %v, want %v %v", backups, marks, wantBackups, wantMarks)
	}
	gone := dry.deletedWAL(recorded)
	if len(gone) == 0 || len(gone) != dry.Delete.WALFiles {
		t.Fatalf("dry run deletes %d WAL files (%d by its ranges)", dry.Delete.WALFiles, len(gone))
	}
	for _, w := range dry.WAL {
		if w.Reason == "" {
			t.Errorf("WAL run without a reason: %+v", w)
		}
	}
	if !reflect.DeepEqual(storeFiles(t, storeDir), files) {
		t.Fatal("purge --dry-run changed the store")
	}
	text := mustLogship(t, nil, append(flags, "purge", "--keep-backups", "2", "--dry-run")...)
	for _, want := range []string{"would delete 2 backups, 2 marks", "not one of the 2 newest", "restorable from kept backup " + ids[2]} {
		if !strings.Contains(text, want) {
			t.Errorf("dry-run text lacks %q:\n%s", want, text)
		}
	}

	// Killed midway, at a few points: the store stays whole, and a second
	// purge finishes.
	for _, n := range []int64{1, 6, 15} {
		t.Run(fmt.Sprintf("killed after %d deletions", n), func(t *testing.T) {
			dir := copyTree(t, storeDir)
			st, err := file.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			ks := &killingStore{Store: st}
			ks.left.Store(n)
			cat := catalog.New(ks, "purge")
			plan, err := cat.PlanPurge(context.Background(), catalog.RetentionPolicy{KeepBackups: 2}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cat.Purge(context.Background(), plan); !errors.Is(err, errPurgeKilled) {
				t.Fatalf("purge: %v, want it killed", err)
			}
			copyFlags := []string{"--store", "file://" + dir, "--source", "purge"}
			if rep := verifyJSON(t, copyFlags, 0); !rep.OK {
				t.Fatalf("verify after a purge killed after %d deletions: %s", n, rep.codes())
			}
			// Rebuilding the catalog from the objects revives nothing broken.
			mustLogship(t, nil, append(copyFlags, "catalog", "rebuild")...)
			if rep := verifyJSON(t, copyFlags, 0); !rep.OK {
				t.Fatalf("verify after rebuilding a store whose purge was killed after %d deletions: %s", n, rep.codes())
			}
			purgeJSON(t, copyFlags, "--keep-backups", "2", "--orphan-grace", "0s")
			if rep := verifyJSON(t, copyFlags, 0); !rep.OK || rep.Warnings != 0 {
				t.Fatalf("verify after the second purge: %s", rep.codes())
			}
		})
	}

	done := purgeJSON(t, flags, "--keep-backups", "2")
	if done.Result == nil || done.Result.Deleted.Backups != 2 || done.Result.Deleted.Marks != 2 || done.Result.Deleted.WALFiles != len(gone) {
		t.Fatalf("purge result %+v, want 2 backups, 2 marks, %d WAL files", done.Result, len(gone))
	}
	for _, name := range gone {
		for _, p := range []string{filepath.Join(storeDir, "purge", "wal", name)} {
			if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s still there after purge (%v)", p, err)
			}
		}
	}
	for _, id := range ids[:2] {
		if left := storeFiles(t, filepath.Join(storeDir, "purge", "backups", id)); len(left) > 0 {
			t.Errorf("backup %s still has %v", id, left)
		}
	}
	if left := storeFiles(t, filepath.Join(storeDir, "purge", "marks")); !reflect.DeepEqual(left, []string{"m3", "m4"}) {
		t.Errorf("mark objects after purge: %v, want m3 and m4", left)
	}
	for _, f := range storeFiles(t, filepath.Join(storeDir, "purge", "catalog")) {
		if strings.Contains(f, "marks/m1~") || strings.Contains(f, "marks/m2~") || strings.Contains(f, ids[0]) || strings.Contains(f, ids[1]) {
			t.Errorf("record %s still there after purge", f)
		}
	}
	if again := purgeJSON(t, flags, "--keep-backups", "2"); again.Result != nil {
		t.Errorf("a second purge deleted more: %+v", again.Result)
	}
	if out := mustLogship(t, nil, append(flags, "catalog", "rebuild", "--json")...); !strings.Contains(out, `"backups_restored": 0`) ||
		!strings.Contains(out, `"marks_restored": 0`) {
		t.Errorf("catalog rebuild after purge revived records: %s", out)
	}
	if rep := verifyJSON(t, flags, 0); !rep.OK || rep.Backups != 2 || rep.Marks != 2 {
		t.Fatalf("verify after purge: ok %v, %d backups, %d marks: %s", rep.OK, rep.Backups, rep.Marks, rep.codes())
	}

	for _, m := range []string{"m3", "m4"} {
		t.Run("restore "+m, func(t *testing.T) {
			t.Parallel()
			r, _ := restoreAndStart(t, flags, "--mark", m)
			got := r.query(t, "SELECT string_agg(n::text, ',' ORDER BY n) FROM probe")
			want := sortedRows(rowsAt[m])
			if got != want {
				t.Fatalf("restored to %s: probe rows %s, want %s", m, got, want)
			}
		})
	}
}

// sortedRows sorts a comma-separated list of numbers as integers.
func sortedRows(csv string) string {
	var nums []int
	for _, f := range strings.Split(csv, ",") {
		n, _ := strconv.Atoi(f)
		nums = append(nums, n)
	}
	slices.Sort(nums)
	out := make([]string, len(nums))
	for i, n := range nums {
		out[i] = strconv.Itoa(n)
	}
	return strings.Join(out, ",")
}
