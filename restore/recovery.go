package restore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/logship/logship/pg"
	"github.com/logship/logship/pg/server"
)

// RecoveryTarget says where recovery stops. At most one of Name, Time, LSN and
// Immediate may be set; none set means recover to the end of the archive.
// Time and LSN are typed: parsed once, where the user gave them, and written
// here in the form PostgreSQL reads.
type RecoveryTarget struct {
	Name      string    // recovery_target_name: a mark
	Time      time.Time // recovery_target_time, written by FormatRecoveryTime
	LSN       pg.LSN    // recovery_target_lsn; 0 is unset
	Immediate bool      // recovery_target = 'immediate': stop as soon as consistent
	Timeline  string    // recovery_target_timeline: "" means latest; current, latest or a number
	Action    string    // recovery_target_action: "" means promote; promote, pause or shutdown
	Inclusive *bool     // recovery_target_inclusive: nil means on (PostgreSQL's default)
}

// RecoverySettings are the recovery parameters a restored data directory starts with.
type RecoverySettings struct {
	RestoreCommand string
	Target         RecoveryTarget
	Standby        bool   // standby.signal instead of recovery.signal
	ArchiveCleanup string // archive_cleanup_command; "" disables it
}

// recoveryNameMax is PostgreSQL's limit for restore point names (MAXFNAMELEN - 1);
// a longer recovery_target_name is rejected at startup.
const recoveryNameMax = 63

// WriteRecoveryConfig appends the recovery settings to dir/postgresql.auto.conf,
// removes any stale recovery.signal and standby.signal, then creates recovery.signal,
// or standby.signal when s.Standby. It refuses more than one target, an unknown action
// or timeline, and values a configuration file cannot hold (newlines, NUL), before
// touching dir.
//
// Every recovery_target* setting and archive_cleanup_command is written, empty when
// unused: the restored postgresql.auto.conf is the source's, and a target or cleanup
// command left there by an earlier restore would otherwise still apply (two targets
// stop PostgreSQL with "multiple recovery targets specified"; a stale cleanup command
// could delete from another archive). The last setting in the file wins.
func WriteRecoveryConfig(dir string, s RecoverySettings) error {
	text, err := recoveryConfText(s)
	if err != nil {
		return err
	}

	for _, name := range []string{"recovery.signal", "standby.signal"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale %s: %w", name, err)
		}
	}

	auto := filepath.Join(dir, "postgresql.auto.conf")
	old, err := os.ReadFile(auto)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read postgresql.auto.conf: %w", err)
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		text = "\n" + text
	}
	if err := server.AppendFile(auto, text); err != nil {
		return fmt.Errorf("write postgresql.auto.conf: %w", err)
	}

	// The signal file goes last: it is what makes PostgreSQL enter recovery, so it
	// must not exist unless the settings it relies on are in place.
	signal := "recovery.signal"
	if s.Standby {
		signal = "standby.signal"
	}
	if err := server.AppendFile(filepath.Join(dir, signal), ""); err != nil {
		return fmt.Errorf("create %s: %w", signal, err)
	}
	if err := syncTreeFile(dir); err != nil {
		return err
	}
	return nil
}

func recoveryConfText(s RecoverySettings) (string, error) {
	t := s.Target
	n := 0
	for _, set := range []bool{t.Name != "", !t.Time.IsZero(), t.LSN != 0, t.Immediate} {
		if set {
			n++
		}
	}
	if n > 1 {
		return "", errors.New("recovery target: more than one of name, time, lsn and immediate set")
	}
	if len(t.Name) > recoveryNameMax {
		return "", fmt.Errorf("recovery target name %q is too long (maximum %d bytes)", t.Name, recoveryNameMax)
	}
	action := t.Action
	if action == "" {
		action = "promote"
	} else if err := ValidAction(action); err != nil {
		return "", fmt.Errorf("recovery target %w", err)
	}
	timeline := t.Timeline
	switch timeline {
	case "":
		timeline = "latest"
	case "latest", "current":
	default:
		if id, err := strconv.ParseUint(timeline, 10, 32); err != nil || id == 0 {
			return "", fmt.Errorf("recovery target timeline %q: want latest, current or a timeline number", t.Timeline)
		}
	}
	if s.RestoreCommand == "" {
		return "", errors.New("recovery settings: restore command is empty")
	}
	inclusive := "on"
	if t.Inclusive != nil && !*t.Inclusive {
		inclusive = "off"
	}
	immediate, at, lsn := "", "", ""
	if t.Immediate {
		immediate = "immediate"
	}
	if !t.Time.IsZero() {
		at = FormatRecoveryTime(t.Time)
	}
	if t.LSN != 0 {
		lsn = t.LSN.String()
	}

	// PostgreSQL's assign hooks stop with "multiple recovery targets specified" when
	// a target setting, even an empty one, is assigned after another target was set,
	// and it assigns settings in file order. So the empty ones go first and the one
	// that is set goes last.
	targets := [][2]string{
		{"recovery_target", immediate},
		{"recovery_target_name", t.Name},
		{"recovery_target_time", at},
		{"recovery_target_xid", ""},
		{"recovery_target_lsn", lsn},
	}
	slices.SortStableFunc(targets, func(a, b [2]string) int {
		return min(len(a[1]), 1) - min(len(b[1]), 1)
	})
	settings := append([][2]string{
		{"restore_command", s.RestoreCommand},
		{"archive_cleanup_command", s.ArchiveCleanup},
		{"recovery_target_inclusive", inclusive},
		{"recovery_target_timeline", timeline},
		{"recovery_target_action", action},
	}, targets...)
	var b strings.Builder
	b.WriteString("# recovery settings written by logship restore\n")
	for _, kv := range settings {
		q, err := server.QuoteConf(kv[1])
		if err != nil {
			return "", fmt.Errorf("%s: %w", kv[0], err)
		}
		fmt.Fprintf(&b, "%s = %s\n", kv[0], q)
	}
	return b.String(), nil
}

// ValidAction checks a recovery_target_action: what PostgreSQL does at the
// target.
func ValidAction(action string) error {
	switch action {
	case "promote", "pause", "shutdown":
		return nil
	}
	return fmt.Errorf("action %q: want promote, pause or shutdown", action)
}

// QuoteShellArg quotes one argument for the shell that runs restore_command:
// server.QuoteShell, the one quoting for the shell, under the name callers
// building restore commands know.
func QuoteShellArg(s string) string { return server.QuoteShell(s) }
