package pg_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/logship/logship/pg"
)

const mib = 1 << 20

func TestValidSegmentSize(t *testing.T) {
	tests := []struct {
		n    uint64
		want bool
	}{
		{0, false}, {1, false}, {512 << 10, false}, {1 * mib, true}, {2 * mib, true},
		{16 * mib, true}, {24 * mib, false}, {1 << 30, true}, {2 << 30, false}, {16*mib + 1, false},
	}
	for _, tt := range tests {
		if got := pg.ValidSegmentSize(tt.n); got != tt.want {
			t.Errorf("ValidSegmentSize(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestParseWALFileName(t *testing.T) {
	tests := []struct {
		name    string
		segSize uint64
		want    pg.WALFile
	}{
		{"000000010000000000000001", 16 * mib, pg.WALFile{Kind: pg.Segment, Timeline: 1, SegNo: 1}},
		{"0000000100000016000000B3", 16 * mib, pg.WALFile{Kind: pg.Segment, Timeline: 1, SegNo: 0x16<<8 | 0xB3}},
		{"0000000A00000001000000FF", 16 * mib, pg.WALFile{Kind: pg.Segment, Timeline: 10, SegNo: 0x1FF}},
		{"000000010000000100000FFF", 1 * mib, pg.WALFile{Kind: pg.Segment, Timeline: 1, SegNo: 0x1FFF}},
		{"000000010000000100000003", 1 << 30, pg.WALFile{Kind: pg.Segment, Timeline: 1, SegNo: 7}},
		{"FFFFFFFFFFFFFFFF000000FF", 16 * mib, pg.WALFile{Kind: pg.Segment, Timeline: 0xFFFFFFFF, SegNo: 0xFFFFFFFF<<8 | 0xFF}},
		{"000000010000000000000003.partial", 16 * mib, pg.WALFile{Kind: pg.Partial, Timeline: 1, SegNo: 3}},
		{"00000002.history", 16 * mib, pg.WALFile{Kind: pg.History, Timeline: 2}},
		{"0000001A.history", 16 * mib, pg.WALFile{Kind: pg.History, Timeline: 26}},
		{"000000010000000000000002.00000028.backup", 16 * mib, pg.WALFile{Kind: pg.BackupHistory, Timeline: 1, SegNo: 2, BackupOffset: 0x28}},
		{"000000030000000200000010.00FFFFF8.backup", 16 * mib, pg.WALFile{Kind: pg.BackupHistory, Timeline: 3, SegNo: 0x210, BackupOffset: 0xFFFFF8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pg.ParseWALFileName(tt.name, tt.segSize)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Name = tt.name
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseWALFileNameInvalid(t *testing.T) {
	tests := []struct {
		name    string
		segSize uint64
		errHas  string
	}{
		{"", 16 * mib, "want 24 hex digits (e.g. 000000010000000000000001), a .history, .backup or .partial file"},
		{"x", 16 * mib, "want 24 hex digits"},
		{"00000001000000000000001", 16 * mib, "want 24 hex digits"},
		{"0000000100000000000000011", 16 * mib, "want 24 hex digits"},
		{"00000001000000000000000a", 16 * mib, "upper case"},
		{"00000001000000000000000G", 16 * mib, "not hex"},
		{"000000000000000000000001", 16 * mib, "timeline 0"},
		{"000000010000000000000100", 16 * mib, "must be below 00000100 for 16 MiB segments"},
		{"000000010000000000000004", 1 << 30, "must be below 00000004"},
		{"000000010000000000000001.part", 16 * mib, "want 24 hex digits"},
		{"000000010000000000000001.PARTIAL", 16 * mib, "want 24 hex digits"},
		{"00000001.History", 16 * mib, "want 24 hex digits"},
		{"00000000.history", 16 * mib, "timeline 0"},
		{"0000000a.history", 16 * mib, "upper case"},
		{"1.history", 16 * mib, "want 24 hex digits"},
		{"000000010000000000000002.0000028.backup", 16 * mib, "want 24 hex digits"},
		{"000000010000000000000002_00000028.backup", 16 * mib, "want 24 hex digits"},
		{"000000010000000000000002.01000000.backup", 16 * mib, "beyond the 16777216-byte segment"},
		{"000000010000000000000002.0000002x.backup", 16 * mib, "not hex"},
		{"../00000001000000000000001", 16 * mib, "want 24 hex digits"},
		{"0000000100000000000000/1", 16 * mib, "not hex"},
		{"archive_status", 16 * mib, "want 24 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pg.ParseWALFileName(tt.name, tt.segSize)
			if !errors.Is(err, pg.ErrInvalidWALFileName) {
				t.Fatalf("err = %v, want ErrInvalidWALFileName", err)
			}
			if !strings.HasPrefix(err.Error(), `invalid WAL file name "`+tt.name+`": `) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("err = %q, want it to name the file and say %q", err, tt.errHas)
			}
		})
	}
	if _, err := pg.ParseWALFileName("000000010000000000000001", 3*mib); err == nil || !strings.Contains(err.Error(), "segment size") {
		t.Fatalf("bad segment size: err = %v", err)
	}
}

func TestSegmentName(t *testing.T) {
	tests := []struct {
		tli     pg.TimelineID
		segNo   uint64
		segSize uint64
		want    string
	}{
		{1, 1, 16 * mib, "000000010000000000000001"},
		{1, 0x16B3, 16 * mib, "0000000100000016000000B3"},
		{2, 0x100, 16 * mib, "000000020000000100000000"},
		{0x1A, 0x1FFF, 1 * mib, "0000001A0000000100000FFF"},
		{1, 7, 1 << 30, "000000010000000100000003"},
		{0xFFFFFFFF, 0xFFFFFFFF<<8 | 0xFF, 16 * mib, "FFFFFFFFFFFFFFFF000000FF"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := pg.SegmentName(tt.tli, tt.segNo, tt.segSize); got != tt.want {
				t.Fatalf("SegmentName = %s, want %s", got, tt.want)
			}
			f, err := pg.ParseWALFileName(tt.want, tt.segSize)
			if err != nil || f.SegNo != tt.segNo || f.Timeline != tt.tli {
				t.Fatalf("round trip: %+v, %v", f, err)
			}
		})
	}
}

func TestSegmentArithmetic(t *testing.T) {
	tests := []struct {
		lsn     string
		segSize uint64
		segNo   uint64
		start   string
	}{
		{"0/0", 16 * mib, 0, "0/0"},
		{"0/FFFFFF", 16 * mib, 0, "0/0"},
		{"0/1000000", 16 * mib, 1, "0/1000000"},
		{"16/B374D848", 16 * mib, 0x16B3, "16/B3000000"},
		{"16/B374D848", 1 << 30, 0x16<<2 | 2, "16/80000000"},
		{"16/B374D848", 1 * mib, 0x16B37, "16/B3700000"},
	}
	for _, tt := range tests {
		t.Run(tt.lsn, func(t *testing.T) {
			lsn, err := pg.ParseLSN(tt.lsn)
			if err != nil {
				t.Fatal(err)
			}
			seg := pg.SegmentOf(lsn, tt.segSize)
			if seg != tt.segNo {
				t.Fatalf("SegmentOf = %#x, want %#x", seg, tt.segNo)
			}
			if got := pg.SegmentStart(seg, tt.segSize).String(); got != tt.start {
				t.Fatalf("SegmentStart = %s, want %s", got, tt.start)
			}
		})
	}
}

func TestFileNames(t *testing.T) {
	if got := pg.HistoryFileName(2); got != "00000002.history" {
		t.Errorf("HistoryFileName(2) = %s", got)
	}
	if got := pg.HistoryFileName(0x1A); got != "0000001A.history" {
		t.Errorf("HistoryFileName(26) = %s", got)
	}
	lsn, _ := pg.ParseLSN("0/2000028")
	if got := pg.BackupHistoryFileName(1, lsn, 16*mib); got != "000000010000000000000002.00000028.backup" {
		t.Errorf("BackupHistoryFileName = %s", got)
	}
}

func TestWALFileKindString(t *testing.T) {
	for k, want := range map[pg.WALFileKind]string{
		pg.Segment: "segment", pg.Partial: "partial", pg.History: "history",
		pg.BackupHistory: "backup-history", 0: "WALFileKind(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
