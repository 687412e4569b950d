package pg_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

func lsn(t testing.TB, s string) pg.LSN {
	t.Helper()
	l, err := pg.ParseLSN(s)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestParseHistory(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []pg.HistoryEntry
	}{
		{"empty", "", nil},
		{"one line", "1\t0/3012998\tat restore point \"mark2\"\n",
			[]pg.HistoryEntry{{1, 0x3012998, `at restore point "mark2"`}}},
		{"comments and blanks", "# comment\n\n  \t\n1\t0/3000000\tno recovery target specified\n\n# more\n" +
			"2\t0/5000148\tbefore 2024-01-02 03:04:05+00\n10\t1/0\tafter transaction 755\n",
			[]pg.HistoryEntry{
				{1, 0x3000000, "no recovery target specified"},
				{2, 0x5000148, "before 2024-01-02 03:04:05+00"},
				{10, 1 << 32, "after transaction 755"},
			}},
		{"no reason, no final newline", "1\t0/3000000", []pg.HistoryEntry{{1, 0x3000000, ""}}},
		{"CRLF and spaces", "1 \t 0/3000000\t reason \r\n", []pg.HistoryEntry{{1, 0x3000000, "reason"}}},
		{"equal switch points", "1\t0/3000000\ta\n2\t0/3000000\tb\n",
			[]pg.HistoryEntry{{1, 0x3000000, "a"}, {2, 0x3000000, "b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pg.ParseHistory(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d entries %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("entry %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseHistoryInvalid(t *testing.T) {
	tests := []struct {
		name, in, errHas string
	}{
		{"hex timeline", "A\t0/3000000\tx\n", "line 1"},
		{"timeline 0", "0\t0/3000000\tx\n", "timeline ID"},
		{"no switch point", "1\n", "switch point"},
		{"bad switch point", "1\tzz\tx\n", "switch point"},
		{"switch point 0/0", "1\t0/0\tx\n", "0/0"},
		{"timelines not increasing", "2\t0/3000000\ta\n2\t0/4000000\tb\n", "line 2: timeline 2 after 2"},
		{"switch points backwards", "# c\n1\t0/4000000\ta\n2\t0/3000000\tb\n", "line 3: switch point 0/3000000 before the previous 0/4000000"},
		{"line too long", "1\t0/3000000\t" + strings.Repeat("x", 1<<17) + "\n", "read timeline history"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pg.ParseHistory(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %v, want %q", err, tt.errHas)
			}
			if tt.name != "line too long" && !errors.Is(err, pg.ErrInvalidHistory) {
				t.Fatalf("err = %v, want ErrInvalidHistory", err)
			}
		})
	}
}

func TestTimelineOf(t *testing.T) {
	// Timeline 4 forked from 2, which forked from 1; 3 was a dead end and
	// is not in 4's history.
	history := []pg.HistoryEntry{
		{Timeline: 1, SwitchPoint: 0x3000100},
		{Timeline: 2, SwitchPoint: 0x5000000},
	}
	tests := []struct {
		lsn  string
		want pg.TimelineID
	}{
		{"0/0", 1},
		{"0/30000FF", 1},
		{"0/3000100", 2}, // the switch point belongs to the child
		{"0/4FFFFFF", 2},
		{"0/5000000", 4},
		{"FFFFFFFF/FFFFFFFF", 4},
	}
	for _, tt := range tests {
		t.Run(tt.lsn, func(t *testing.T) {
			if got := pg.TimelineOf(history, 4, lsn(t, tt.lsn)); got != tt.want {
				t.Fatalf("TimelineOf(%s) = %d, want %d", tt.lsn, got, tt.want)
			}
		})
	}
	if got := pg.TimelineOf(nil, 1, 0x5000000); got != 1 {
		t.Fatalf("no history: TimelineOf = %d, want 1", got)
	}
	// A timeline that ended where it began owns nothing.
	empty := []pg.HistoryEntry{{1, 0x3000000, ""}, {2, 0x3000000, ""}}
	if got := pg.TimelineOf(empty, 3, 0x3000000); got != 3 {
		t.Fatalf("empty timeline 2: TimelineOf = %d, want 3", got)
	}
}

func TestTimelinePath(t *testing.T) {
	history := []pg.HistoryEntry{{1, 0x3000100, ""}, {2, 0x5000000, ""}}
	got := pg.TimelinePath(history, 4)
	want := []pg.TimelineRange{
		{Timeline: 1, Begin: 0, End: 0x3000100},
		{Timeline: 2, Begin: 0x3000100, End: 0x5000000},
		{Timeline: 4, Begin: 0x5000000, End: 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("range %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
