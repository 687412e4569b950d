package shipper

import (
	"errors"
	"path"
	"strings"
)

// archiveTarget is where a configured archive_command ships: the store and
// source it names, "" for one it leaves to the archiver's environment or
// config file.
type archiveTarget struct {
	Store, Source string
	Config        string // --config, LOGSHIP_CONFIG: may name either
}

// set records a setting the command names, from a flag (store) or an
// environment assignment (LOGSHIP_STORE, lowered): store, source or config.
func (t *archiveTarget) set(name, val string) {
	switch name {
	case "store":
		t.Store = val
	case "source":
		t.Source = val
	case "config":
		t.Config = val
	}
}

// parseArchiveCommand reads the store and source out of the shell words of
// archive_command: LOGSHIP_STORE=/LOGSHIP_SOURCE= assignments before the
// program, and --store/--source flags (either "--flag value" or
// "--flag=value", one or two dashes) after it. ok is false when the
// command is not a plain "[VAR=x ...] [env ...] logship ... wal-push %p"
// that can be read this way.
func parseArchiveCommand(command string) (archiveTarget, bool) {
	var t archiveTarget
	words, err := shellWords(command)
	if err != nil {
		return t, false
	}
	prog := -1
	for i, w := range words {
		if name, val, isVar := envAssignment(w); isVar && prog < 0 {
			if key, ok := strings.CutPrefix(name, "LOGSHIP_"); ok {
				t.set(strings.ToLower(key), val)
			}
			continue
		}
		if prog < 0 && w == "env" {
			continue
		}
		if prog < 0 {
			if !strings.Contains(path.Base(w), "logship") {
				return t, false
			}
			prog = i
			continue
		}
		if w == "wal-push" {
			return t, true
		}
		flag, val, hasVal := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if !strings.HasPrefix(w, "-") {
			continue
		}
		if !hasVal {
			if i+1 >= len(words) {
				break
			}
			val = words[i+1]
		}
		t.set(flag, val)
	}
	return t, false
}

// envAssignment recognizes a shell variable assignment NAME=value.
func envAssignment(w string) (name, val string, ok bool) {
	name, val, ok = strings.Cut(w, "=")
	if !ok || name == "" {
		return "", "", false
	}
	for i, r := range name {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return name, val, true
}

// shellWords splits a command as sh does for simple commands: blanks
// separate words; single quotes, double quotes and backslashes quote. It
// refuses what it cannot read without a shell (expansions, operators), so
// that a command like "cd x && logship ..." is reported as not checked
// rather than misread.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '$' || s[i] == '`' {
					return nil, errors.New("expansion")
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated quote")
			}
			inWord = true
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case strings.IndexByte("$`;&|<>(){}*?[#", c) >= 0 && !(c == '#' && inWord):
			return nil, errors.New("shell syntax")
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// sameStore compares a store named in archive_command with the store's
// own name, as file:///a/b and /a/b/ name one folder.
func sameStore(named, url string) bool {
	return normStore(named) == normStore(url)
}

func normStore(s string) string {
	switch {
	case strings.HasPrefix(s, "/"):
		s = "file://" + path.Clean(s)
	case strings.HasPrefix(s, "file://localhost/"):
		s = "file://" + path.Clean(strings.TrimPrefix(s, "file://localhost"))
	case strings.HasPrefix(s, "file://"):
		s = "file://" + path.Clean(strings.TrimPrefix(s, "file://"))
	}
	return strings.TrimRight(s, "/")
}
