package pg_test

import (
	"testing"

	"github.com/logship/logship/pg"
)

func FuzzParseWALFileName(f *testing.F) {
	for _, s := range []string{
		"000000010000000000000001", "0000000100000016000000B3.partial", "00000002.history",
		"000000010000000000000002.00000028.backup", "00000001000000000000000a", "",
	} {
		f.Add(s, uint64(16<<20))
	}
	f.Add("000000010000000100000FFF", uint64(1<<20))
	f.Fuzz(func(t *testing.T, name string, segSize uint64) {
		w, err := pg.ParseWALFileName(name, segSize)
		if err != nil {
			return
		}
		// Whatever parses must print back to the very same name.
		var again string
		switch w.Kind {
		case pg.Segment:
			again = pg.SegmentName(w.Timeline, w.SegNo, segSize)
		case pg.Partial:
			again = pg.SegmentName(w.Timeline, w.SegNo, segSize) + ".partial"
		case pg.History:
			again = pg.HistoryFileName(w.Timeline)
		case pg.BackupHistory:
			lsn := pg.SegmentStart(w.SegNo, segSize) + pg.LSN(w.BackupOffset)
			again = pg.BackupHistoryFileName(w.Timeline, lsn, segSize)
		default:
			t.Fatalf("%q parsed to kind %v", name, w.Kind)
		}
		if again != name || w.Name != name {
			t.Fatalf("%q parsed to %+v, which prints as %q", name, w, again)
		}
	})
}

func FuzzParseLSN(f *testing.F) {
	for _, s := range []string{"0/0", "16/B374D848", "0/03012998", "FFFFFFFF/FFFFFFFF", "1/", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := pg.ParseLSN(s)
		if err != nil {
			return
		}
		back, err := pg.ParseLSN(l.String())
		if err != nil || back != l {
			t.Fatalf("%q parsed to %#x, printed %q, reparsed to %#x (%v)", s, uint64(l), l.String(), uint64(back), err)
		}
	})
}
