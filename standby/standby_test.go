package standby

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/catalog"
)

func mk(name string, lsn uint64, minute int) catalog.Mark {
	return catalog.Mark{Name: name, LSN: pgLSN(lsn), Timeline: 1, Time: time.Date(2026, 12, 1, 10, minute, 0, 0, time.UTC)}
}

func members(sources ...string) []Member {
	var out []Member
	for _, s := range sources {
		out = append(out, Member{Cat: catalog.New(nil, s), Dir: "/nonexistent/" + s})
	}
	return out
}

// A group stands on the newest mark every member has, not on a member's
// own newer one.
func TestChooseMarkCommon(t *testing.T) {
	ms := members("orders", "payments")
	marks := [][]catalog.Mark{
		{mk("g1", 0x100, 1), mk("g2", 0x200, 2), mk("g3", 0x300, 3), mk("solo", 0x400, 4)},
		{mk("g1", 0x110, 1), mk("g2", 0x210, 2)},
	}
	got, err := chooseMark(ms, marks, "latest")
	if err != nil || got[0].Name != "g2" || got[1].Name != "g2" || got[1].LSN != 0x210 {
		t.Fatalf("chooseMark latest = %+v, %v", got, err)
	}
	if got, err := chooseMark(ms, marks, "g1"); err != nil || got[0].LSN != 0x100 || got[1].LSN != 0x110 {
		t.Fatalf("chooseMark g1 = %+v, %v", got, err)
	}
	if _, err := chooseMark(ms, marks, "g3"); !errors.Is(err, ErrNoMark) || !strings.Contains(err.Error(), "payments") {
		t.Fatalf("chooseMark of a mark one member lacks: %v", err)
	}
	if _, err := chooseMark(ms[:1], [][]catalog.Mark{nil}, "latest"); !errors.Is(err, ErrNoMark) {
		t.Fatalf("chooseMark without marks: %v", err)
	}
}

// An empty directory is not a standby yet; one holding files but no state
// is refused before anything is planned.
func TestPrepareMoveRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/PG_VERSION", "15\n"); err != nil {
		t.Fatal(err)
	}
	m := Member{Cat: catalog.New(nil, "main"), Dir: dir}
	if _, err := prepareMove(t.Context(), m, mk("m1", 0x100, 1)); !errors.Is(err, ErrNotStandby) {
		t.Fatalf("prepareMove on a foreign directory: %v", err)
	}
	st := State{Source: "main", Mark: "m2", LSN: 0x200, Timeline: 1}
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareMove(t.Context(), m, mk("m1", 0x100, 1)); err == nil || !strings.Contains(err.Error(), "cannot go back") {
		t.Fatalf("prepareMove backwards: %v", err)
	}
	got, err := ReadState(dir)
	if err != nil || got.Mark != "m2" || got.LSN != 0x200 || got.Updated.IsZero() {
		t.Fatalf("ReadState = %+v, %v", got, err)
	}
}

func TestMetricsPerMember(t *testing.T) {
	m := NewMetrics()
	now := time.Date(2026, 12, 1, 10, 10, 0, 0, time.UTC)
	rep := Report{Members: []MemberStatus{
		{Source: "orders", Mark: "g1", LSN: "0/100", MarkTime: mk("g1", 0, 1).Time, Newest: "g2", NewestLSN: "0/300", NewestTime: mk("g2", 0, 4).Time, Action: ActionHeld},
	}}
	m.Update(rep, ErrHeld, now)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, want := range []string{
		`logship_standby_mark_info{lsn="0/100",mark="g1",source="orders"} 1`,
		`logship_standby_mark_age_seconds{source="orders"} 540`,
		`logship_standby_lag_seconds{source="orders"} 180`,
		`logship_standby_lag_bytes{source="orders"} 512`,
		`logship_standby_held{source="orders"} 1`,
		`logship_standby_step_failures_total 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s:\n%s", want, b)
		}
	}
}
