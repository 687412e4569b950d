package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// ParseConf reads name = value lines as PostgreSQL's configuration parser
// does, enough for the settings logship writes: the last setting wins, and
// quoted values take ” and backslash escapes. Includes are not followed.
func ParseConf(b []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.IndexAny(line, " \t=")
		if i <= 0 {
			continue
		}
		key := strings.ToLower(line[:i])
		rest := strings.TrimLeft(line[i:], " \t")
		rest = strings.TrimLeft(strings.TrimPrefix(rest, "="), " \t")
		if strings.HasPrefix(rest, "'") {
			out[key] = unquote(rest)
			continue
		}
		v, _, _ := strings.Cut(rest, "#")
		out[key] = strings.TrimSpace(v)
	}
	return out
}

// unquote reads a quoted value up to its closing quote.
func unquote(rest string) string {
	var v strings.Builder
	for j := 1; j < len(rest); j++ {
		ch := rest[j]
		switch {
		case ch == '\\' && j+1 < len(rest):
			j++
			v.WriteByte(rest[j])
		case ch == '\'' && j+1 < len(rest) && rest[j+1] == '\'':
			j++
			v.WriteByte('\'')
		case ch == '\'':
			j = len(rest)
		default:
			v.WriteByte(ch)
		}
	}
	return v.String()
}

// ReadConf reads the settings of a data directory: postgresql.conf, then
// postgresql.auto.conf, which wins. A missing file is no error.
func ReadConf(dataDir string) (map[string]string, error) {
	settings := map[string]string{}
	for _, name := range []string{"postgresql.conf", "postgresql.auto.conf"} {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(settings, ParseConf(b))
	}
	return settings, nil
}

// QuoteConf quotes a value for a configuration file; a line break or NUL
// can't be written there at all. The file parser treats a backslash as an
// escape inside quotes, so backslashes are doubled as well as quotes:
// otherwise the backslash QuoteShell writes for a quote would be eaten and
// a shell command in the value (restore_command) broken.
func QuoteConf(v string) (string, error) {
	if strings.ContainsAny(v, "\n\r\x00") {
		return "", errors.New("value contains a newline or NUL byte")
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `''`)
	return "'" + v + "'", nil
}

// AppendFile appends text to a file, creating it 0600, and fsyncs it.
func AppendFile(name, text string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// AppendConf appends lines of settings to file (postgresql.conf or
// postgresql.auto.conf) of a data directory, on a line of their own even
// when the file does not end in a newline.
func AppendConf(dataDir, file, text string) error {
	path := filepath.Join(dataDir, file)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if len(old) > 0 && old[len(old)-1] != '\n' {
		text = "\n" + text
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if err := AppendFile(path, text); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

// CheckSocketDir checks that a server's socket (and its lock file) fit in
// dir: sun_path holds 108 bytes, with the NUL.
func CheckSocketDir(dir string) error {
	if n := len(dir) + len("/.s.PGSQL.65535.lock"); n > 107 {
		return fmt.Errorf("path %s is too long for a unix socket inside it (%d bytes, at most 107)", dir, n)
	}
	return nil
}

// PortSettings are the lines that make a server listen on port with its
// socket in its data directory dataDir: the source's socket directory may
// not exist here, and a socket beside the source's on the same host must
// not clash.
func PortSettings(port int, dataDir string) (string, error) {
	if port < 1 || port > 65535 {
		return "", fmt.Errorf("port %d out of range 1..65535", port)
	}
	if err := CheckSocketDir(dataDir); err != nil {
		return "", fmt.Errorf("data directory %w", err)
	}
	q, err := QuoteConf(dataDir)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("port = %d\nunix_socket_directories = %s\n", port, q), nil
}
