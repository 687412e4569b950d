package drill

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// ErrBadCheckFile means a --check-sql file does not follow the format.
var ErrBadCheckFile = errors.New("bad check file")

// SQLCheck is one statement of a check file and the text its result must
// be: the first column of the first row, as PostgreSQL prints it ("NULL"
// for null, "(no rows)" when there is no row).
type SQLCheck struct {
	Line     int    // of the statement's first line, for messages
	Database string // "" means postgres
	SQL      string
	Expect   string
}

var (
	expectRE   = regexp.MustCompile(`^--\s*expect:\s?(.*)$`)
	databaseRE = regexp.MustCompile(`^--\s*database:\s*(\S+)\s*$`)
)

// CheckFileHelp documents the format, for the command's --help.
const CheckFileHelp = `A check file holds SQL statements, each followed by a line
"-- expect: VALUE": the first column of the statement's first row, as text, must equal
VALUE (NULL for null, "(no rows)" for no row; surrounding blanks are ignored). A line
"-- database: NAME" runs the statements after it in database NAME (default postgres).
Other comment lines are part of the next statement. Example:

   -- database: shop
   SELECT count(*) FROM orders WHERE created < '2026-11-27';
   -- expect: 18211
   SELECT max(id) FROM invoices;
   -- expect: 90417`

// ParseCheckFile reads a check file.
func ParseCheckFile(r io.Reader) ([]SQLCheck, error) {
	var (
		checks []SQLCheck
		cur    []string
		start  int
		db     string
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if m := databaseRE.FindStringSubmatch(line); m != nil {
			if len(cur) > 0 {
				return nil, fmt.Errorf("%w: line %d: -- database: inside the statement of line %d (end it with -- expect: first)", ErrBadCheckFile, n, start)
			}
			db = m[1]
			continue
		}
		if m := expectRE.FindStringSubmatch(line); m != nil {
			sql := strings.TrimSpace(strings.Join(cur, "\n"))
			if !hasSQL(cur) {
				return nil, fmt.Errorf("%w: line %d: -- expect: without a statement before it", ErrBadCheckFile, n)
			}
			checks = append(checks, SQLCheck{Line: start, Database: db, SQL: sql, Expect: strings.TrimSpace(m[1])})
			cur = nil
			continue
		}
		if line == "" && len(cur) == 0 {
			continue
		}
		if len(cur) == 0 {
			start = n
		}
		cur = append(cur, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCheckFile, err)
	}
	if hasSQL(cur) {
		return nil, fmt.Errorf("%w: the statement of line %d has no -- expect: line after it", ErrBadCheckFile, start)
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("%w: no statement followed by -- expect:", ErrBadCheckFile)
	}
	return checks, nil
}

// hasSQL reports whether lines hold more than comments and blanks.
func hasSQL(lines []string) bool {
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			return true
		}
	}
	return false
}

// name is the check's name in reports: its line and first line of SQL.
func (c SQLCheck) name() string {
	first := c.SQL
	for _, l := range strings.Split(c.SQL, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
			first = l
			break
		}
	}
	if len(first) > 60 {
		first = first[:57] + "..."
	}
	return fmt.Sprintf("sql line %d: %s", c.Line, first)
}
