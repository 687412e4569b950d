package pg

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidBackupHistory marks a backup history file (.backup) that
// PostgreSQL did not write.
var ErrInvalidBackupHistory = errors.New("invalid backup history file")

// MaxBackupHistorySize bounds a backup history file: a dozen short lines and
// a label of at most MAXPGPATH bytes.
const MaxBackupHistorySize = 64 << 10

// BackupHistoryFile is what a backup history file says: the lines
// do_pg_backup_stop writes (xlogbackup.c's build_backup_content with
// ishistoryfile), from START WAL LOCATION to STOP TIMELINE, and since
// PostgreSQL 17 the INCREMENTAL FROM lines of an incremental backup.
type BackupHistoryFile struct {
	StartLSN      LSN        // START WAL LOCATION
	StartWAL      string     // its "(file ...)"
	StopLSN       LSN        // STOP WAL LOCATION
	StopWAL       string     // its "(file ...)"
	Checkpoint    LSN        // CHECKPOINT LOCATION
	Method        string     // BACKUP METHOD (streamed; pg_start_backup before 15)
	From          string     // BACKUP FROM: primary or standby
	StartTime     string     // START TIME, in the server's log_timezone
	Label         string     // LABEL
	StartTimeline TimelineID // START TIMELINE
	StopTime      string     // STOP TIME
	StopTimeline  TimelineID // STOP TIMELINE
	FromLSN       LSN        // INCREMENTAL FROM LSN (17+), 0 for a full backup
	FromTimeline  TimelineID // INCREMENTAL FROM TLI (17+)
}

// backupFields are the lines a backup history file must have, in the order
// PostgreSQL writes them.
var backupFields = []string{"START WAL LOCATION", "STOP WAL LOCATION", "CHECKPOINT LOCATION",
	"START TIME", "LABEL", "START TIMELINE", "STOP TIME", "STOP TIMELINE"}

// ParseBackupHistory reads a backup history file. Every required line must
// be there once and parse; lines PostgreSQL may add later ("KEY: value")
// are ignored, anything else is refused.
func ParseBackupHistory(b []byte) (BackupHistoryFile, error) {
	var f BackupHistoryFile
	if len(b) > MaxBackupHistorySize {
		return f, fmt.Errorf("%w: %d bytes, more than the %d a backup history file takes", ErrInvalidBackupHistory, len(b), MaxBackupHistorySize)
	}
	if !utf8.Valid(b) || strings.ContainsRune(string(b), 0) {
		return f, fmt.Errorf("%w: not text", ErrInvalidBackupHistory)
	}
	seen := map[string]bool{}
	inLabel := false
	for n, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		key, val, ok := strings.Cut(line, ": ")
		if !ok || key == "" || strings.ToUpper(key) != key {
			if inLabel {
				// PostgreSQL writes the label as given, newlines included.
				f.Label += "\n" + line
				continue
			}
			return f, fmt.Errorf("%w: line %d %q: want KEY: value", ErrInvalidBackupHistory, n+1, line)
		}
		inLabel = key == "LABEL"
		if seen[key] {
			return f, fmt.Errorf("%w: line %d: %s given twice", ErrInvalidBackupHistory, n+1, key)
		}
		seen[key] = true
		if err := f.set(key, val); err != nil {
			return f, fmt.Errorf("%w: line %d %q: %v", ErrInvalidBackupHistory, n+1, line, err)
		}
	}
	for _, k := range backupFields {
		if !seen[k] {
			return f, fmt.Errorf("%w: no %s line", ErrInvalidBackupHistory, k)
		}
	}
	if seen["INCREMENTAL FROM LSN"] != seen["INCREMENTAL FROM TLI"] {
		return f, fmt.Errorf("%w: INCREMENTAL FROM LSN and INCREMENTAL FROM TLI go together", ErrInvalidBackupHistory)
	}
	switch {
	case f.StopLSN < f.StartLSN:
		return f, fmt.Errorf("%w: stops at %s, before its start %s", ErrInvalidBackupHistory, f.StopLSN, f.StartLSN)
	case f.StopTimeline < f.StartTimeline:
		return f, fmt.Errorf("%w: stops on timeline %d, before its start timeline %d", ErrInvalidBackupHistory, f.StopTimeline, f.StartTimeline)
	}
	return f, nil
}

func (f *BackupHistoryFile) set(key, val string) error {
	var err error
	switch key {
	case "START WAL LOCATION":
		f.StartLSN, f.StartWAL, err = parseWALLocation(val)
	case "STOP WAL LOCATION":
		f.StopLSN, f.StopWAL, err = parseWALLocation(val)
	case "CHECKPOINT LOCATION":
		f.Checkpoint, err = ParseLSN(val)
	case "BACKUP METHOD":
		f.Method = val
	case "BACKUP FROM":
		if val != "primary" && val != "standby" {
			err = errors.New("want primary or standby")
		}
		f.From = val
	case "START TIME":
		f.StartTime, err = val, checkBackupTime(val)
	case "STOP TIME":
		f.StopTime, err = val, checkBackupTime(val)
	case "LABEL":
		f.Label = val
	case "START TIMELINE":
		f.StartTimeline, err = parseTimeline(val)
	case "STOP TIMELINE":
		f.StopTimeline, err = parseTimeline(val)
	case "INCREMENTAL FROM LSN":
		f.FromLSN, err = ParseLSN(val)
	case "INCREMENTAL FROM TLI":
		f.FromTimeline, err = parseTimeline(val)
	}
	return err
}

// parseWALLocation reads "0/2000028 (file 000000010000000000000002)".
func parseWALLocation(val string) (LSN, string, error) {
	lsnText, rest, ok := strings.Cut(val, " (file ")
	file, ok2 := strings.CutSuffix(rest, ")")
	if !ok || !ok2 || len(file) != 24 || !isUpperHex(file) {
		return 0, "", errors.New("want an LSN and (file <segment name>)")
	}
	lsn, err := ParseLSN(lsnText)
	return lsn, file, err
}

func isUpperHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'A' <= s[i] && s[i] <= 'F') {
			return false
		}
	}
	return true
}

func parseTimeline(val string) (TimelineID, error) {
	n, err := strconv.ParseUint(val, 10, 32)
	if err != nil || n == 0 {
		return 0, errors.New("want a timeline ID (decimal, from 1)")
	}
	return TimelineID(n), nil
}

// checkBackupTime checks "2026-11-27 04:33:00 UTC": PostgreSQL writes
// "%Y-%m-%d %H:%M:%S %Z" in log_timezone, whose abbreviation is free text.
func checkBackupTime(val string) error {
	const layout = "2006-01-02 15:04:05"
	if len(val) < len(layout) {
		return errors.New("want a time such as 2026-11-27 04:33:00 UTC")
	}
	if _, err := time.Parse(layout, val[:len(layout)]); err != nil {
		return errors.New("want a time such as 2026-11-27 04:33:00 UTC")
	}
	return nil
}

// CheckName checks that the backup history file is the one name says: it
// is named after the backup's stop timeline and the segment and offset of
// its start (BackupHistoryFilePath), whatever the segment size.
func (f BackupHistoryFile) CheckName(name string) error {
	if len(name) < 24 || len(f.StartWAL) != 24 {
		return fmt.Errorf("%w: %s is no backup history file name", ErrInvalidBackupHistory, name)
	}
	tli, err := strconv.ParseUint(name[:8], 16, 32)
	if err != nil || TimelineID(tli) != f.StopTimeline {
		return fmt.Errorf("%w: %s is named for timeline %s, but the backup stopped on timeline %d", ErrInvalidBackupHistory, name, name[:8], f.StopTimeline)
	}
	if name[8:24] != f.StartWAL[8:] {
		return fmt.Errorf("%w: %s is named for segment %s, but the backup started in %s", ErrInvalidBackupHistory, name, name[8:24], f.StartWAL)
	}
	for s := uint64(1 << 20); s <= 1<<30; s <<= 1 {
		if BackupHistoryFileName(f.StopTimeline, f.StartLSN, s) == name &&
			SegmentName(f.StartTimeline, SegmentOf(f.StartLSN, s), s) == f.StartWAL {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not match its START WAL LOCATION %s (file %s)", ErrInvalidBackupHistory, name, f.StartLSN, f.StartWAL)
}
