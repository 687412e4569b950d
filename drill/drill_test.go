package drill

import (
	"bytes"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseCheckFile(t *testing.T) {
	t.Parallel()
	checks, err := ParseCheckFile(strings.NewReader(`
-- rows before the upgrade
SELECT count(*)
  FROM probe;
-- expect: 3

-- database: shop
SELECT NULL;
--expect:NULL
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(checks) != 2 || checks[0].Expect != "3" || checks[0].Line != 2 || checks[0].Database != "" ||
		checks[1].Database != "shop" || checks[1].Expect != "NULL" || checks[1].SQL != "SELECT NULL;" {
		t.Fatalf("%+v", checks)
	}
	if n := checks[0].name(); n != "sql line 2: SELECT count(*)" {
		t.Errorf("name %q", n)
	}
	for _, bad := range []string{"", "SELECT 1;", "-- expect: 1", "-- only a comment\n-- expect: 1", "SELECT 1;\n-- database: x\n-- expect: 1"} {
		if _, err := ParseCheckFile(strings.NewReader(bad)); !errors.Is(err, ErrBadCheckFile) {
			t.Errorf("%q: %v, want ErrBadCheckFile", bad, err)
		}
	}
}

func TestJUnitParses(t *testing.T) {
	t.Parallel()
	rep := &Report{Source: "main", Target: `mark "m"`, Started: time.Now(), Duration: time.Second, RTO: time.Second / 2, RTOSeconds: 0.5,
		CleanupError: "remove x: busy",
		Checks: []Check{{Name: "plan", OK: true, Message: "fine"}, {Name: "sql line 1: <&>", Message: `got "1", expected "2"`},
			{Name: "amcheck db", Skipped: true, Message: "no amcheck"}}}
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var s junitSuite
	if err := xml.Unmarshal(b.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if s.Tests != 4 || s.Failures != 2 || s.Skipped != 1 || len(s.Cases) != 4 || s.Cases[1].Name != "sql line 1: <&>" || s.Cases[3].Name != "cleanup" {
		t.Fatalf("%+v\n%s", s, b.String())
	}
	var txt bytes.Buffer
	rep.WriteText(&txt)
	if !strings.Contains(txt.String(), "FAIL") || !strings.Contains(txt.String(), "drill FAILED") {
		t.Errorf("text:\n%s", txt.String())
	}
}
