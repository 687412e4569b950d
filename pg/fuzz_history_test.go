package pg_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

// FuzzParseHistory checks that whatever ParseHistory accepts obeys the rules
// it promises (timelines from 1 and increasing, switch points past 0/0 and
// never going back), prints back to a file that parses to the same entries,
// and gives TimelinePath contiguous ranges.
func FuzzParseHistory(f *testing.F) {
	for _, s := range []string{
		"", "1\t0/3012998\tat restore point \"mark2\"\n",
		"# comment\n\n1\t0/3000000\tno recovery target specified\n2\t0/5000148\tbefore 2024-01-02 03:04:05+00\n10\t1/0\tafter transaction 755\n",
		"1 \t 0/3000000\t reason \r\n", "1\t0/3000000\ta\n2\t0/3000000\tb\n",
		"2\t0/3000000\n1\t0/4000000\n", "1\t0/0\n", "0\t0/1\n", "4294967295\tFFFFFFFF/FFFFFFFF\tx",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := pg.ParseHistory(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, pg.ErrInvalidHistory) && !errors.Is(err, bufio.ErrTooLong) {
				t.Fatalf("error %v is neither ErrInvalidHistory nor a read error", err)
			}
			return
		}
		var text strings.Builder
		for i, e := range h {
			if e.Timeline == 0 || e.SwitchPoint == 0 {
				t.Fatalf("entry %d %+v: timeline or switch point zero", i, e)
			}
			if i > 0 && (e.Timeline <= h[i-1].Timeline || e.SwitchPoint < h[i-1].SwitchPoint) {
				t.Fatalf("entry %d %+v after %+v", i, e, h[i-1])
			}
			if e.Reason != strings.TrimSpace(e.Reason) || strings.ContainsAny(e.Reason, "\n") {
				t.Fatalf("entry %d: reason %q not trimmed to one line", i, e.Reason)
			}
			fmt.Fprintf(&text, "%d\t%s\t%s\n", e.Timeline, e.SwitchPoint, e.Reason)
		}
		again, err := pg.ParseHistory(strings.NewReader(text.String()))
		if err != nil || !reflect.DeepEqual(again, h) {
			t.Fatalf("%q parsed to %+v, printed as %q, reparsed to %+v (%v)", data, h, text.String(), again, err)
		}
		if len(h) == 0 || h[len(h)-1].Timeline == ^pg.TimelineID(0) {
			return
		}
		target := h[len(h)-1].Timeline + 1
		path := pg.TimelinePath(h, target)
		if len(path) != len(h)+1 || path[0].Begin != 0 || path[len(path)-1].End != 0 || path[len(path)-1].Timeline != target {
			t.Fatalf("path %+v for history %+v", path, h)
		}
		for i := 1; i < len(path); i++ {
			if path[i].Begin != path[i-1].End {
				t.Fatalf("path %+v has a gap at %d", path, i)
			}
		}
		for i, e := range h {
			// A switch point belongs to the child timeline.
			want := target
			if i+1 < len(h) && h[i+1].SwitchPoint > e.SwitchPoint {
				want = h[i+1].Timeline
			}
			if i+1 < len(h) && h[i+1].SwitchPoint == e.SwitchPoint {
				continue // the child owns an empty range
			}
			if got := pg.TimelineOf(h, target, e.SwitchPoint); got != want {
				t.Fatalf("TimelineOf(%s) = %d, want %d; history %+v", e.SwitchPoint, got, want, h)
			}
		}
	})
}
