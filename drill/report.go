package drill

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// WriteText writes the report for people.
func (rep *Report) WriteText(w io.Writer) {
	verdict := "HEALTHY"
	if !rep.OK {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "drill of source %s, %s", rep.Source, rep.Target)
	if rep.BackupID != "" {
		fmt.Fprintf(w, " from backup %s", rep.BackupID)
	}
	fmt.Fprintln(w)
	for _, c := range rep.Checks {
		state := "ok  "
		switch {
		case c.Skipped:
			state = "skip"
		case !c.OK:
			state = "FAIL"
		}
		fmt.Fprintf(w, "  %s  %-28s %s (%s)\n", state, c.Name, c.Message, c.Duration.Round(time.Millisecond))
	}
	if rep.RTO > 0 {
		fmt.Fprintf(w, "RTO %s (from the start of the drill until the restored server was ready at its target)\n", rep.RTO.Round(time.Millisecond))
	}
	switch {
	case rep.Cleaned:
		fmt.Fprintln(w, "cleaned up: server stopped, scratch directory removed")
	case rep.CleanupError != "":
		fmt.Fprintf(w, "CLEANUP FAILED: %s\n", rep.CleanupError)
	}
	fmt.Fprintf(w, "drill %s in %s\n", verdict, rep.Duration.Round(time.Millisecond))
}

// JUnit XML, as CI systems read it: one testsuite, one testcase per check.
type junitSuite struct {
	XMLName    xml.Name        `xml:"testsuite"`
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// WriteJUnit writes the report as a JUnit XML document.
func (rep *Report) WriteJUnit(w io.Writer) error {
	s := junitSuite{Name: "logship drill " + rep.Source, Time: seconds(rep.Duration), Timestamp: rep.Started.Format(time.RFC3339),
		Properties: []junitProperty{{"source", rep.Source}, {"target", rep.Target}, {"backup_id", rep.BackupID},
			{"rto_seconds", fmt.Sprintf("%.3f", rep.RTOSeconds)}, {"cleaned", fmt.Sprint(rep.Cleaned)}}}
	cases := rep.Checks
	if rep.CleanupError != "" {
		cases = append(cases[:len(cases):len(cases)], Check{Name: "cleanup", Message: rep.CleanupError})
	}
	for _, c := range cases {
		jc := junitCase{Name: c.Name, Classname: "logship.drill", Time: seconds(c.Duration)}
		switch {
		case c.Skipped:
			jc.Skipped = &junitMessage{Message: c.Message}
			s.Skipped++
		case !c.OK:
			jc.Failure = &junitMessage{Message: c.Message, Text: c.Message}
			s.Failures++
		default:
			jc.SystemOut = c.Message
		}
		s.Cases = append(s.Cases, jc)
	}
	s.Tests = len(s.Cases)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(s); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
