package main

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/logship/logship/catalog"
	"github.com/logship/logship/internal/plural"
)

func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "check that every backup, every mark and the latest point can be restored",
		Description: `Checks the chain from the catalog and a listing of the store, downloading
nothing but the timeline history files: every backup has all its parts and the WAL
from its start to its end; the WAL is contiguous from the oldest backup to the newest
segment on every timeline, following the history files; every mark can be reached
from a backup; the records agree with the objects; one PostgreSQL system throughout.

--deep also downloads and decodes every object and checks every checksum, and each
backup's files against its backup_manifest. What a deep run found whole is recorded
under <source>/verify/ in the store, so the next deep run checks only what was added
since; --full checks everything again (do that now and then: it is what finds bit
rot in objects already checked).

Exit codes: 0 everything can be restored (warnings allowed), 1 something cannot be
restored (the report names it and says what to do), 2 verify could not run (bad
configuration, store unreachable, nothing shipped for the source).

Example:
   logship --store s3://backups/pg verify
   logship verify --deep --format junit > verify.xml   # in CI
   logship verify --format json | jq '.problems'`,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "deep", Usage: "download and check every object added since the last deep run"},
			&cli.BoolFlag{Name: "full", Usage: "with --deep: check every object again, not only new ones"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output: text, json or junit"},
			&cli.IntFlag{Name: "parallel", Value: 4, Usage: "with --deep: objects checked at once"},
			&cli.BoolFlag{Name: "no-record", Usage: "with --deep: do not record what was checked (read-only store)"},
			// verify has three formats, so --format, not --json; the hidden
			// flag only says so.
			&cli.BoolFlag{Name: "json", Hidden: true},
		},
		Action: runVerify,
	}
}

func runVerify(c *cli.Context) error {
	if err := needArgs(c); err != nil {
		return err
	}
	if c.IsSet("json") {
		return usageErr(errors.New("verify takes --format json, not --json (it also has --format junit)"))
	}
	format := c.String("format")
	switch format {
	case "text", "json", "junit":
	default:
		return usageErr(fmt.Errorf("unknown --format %q: want text, json or junit", format))
	}
	if c.Int("parallel") < 1 {
		return usageErr(fmt.Errorf("--parallel %d: want 1 or more", c.Int("parallel")))
	}
	rt, err := setup(c)
	if err != nil {
		return err
	}
	cat, err := rt.openCatalog(c.Context)
	if err != nil {
		return couldNotRun(err)
	}
	rep, err := cat.Verify(c.Context, catalog.VerifyOptions{
		Deep: c.Bool("deep"), Full: c.Bool("full"), Parallel: c.Int("parallel"), NoRecord: c.Bool("no-record"), Logger: rt.log,
	})
	if err != nil {
		return couldNotRun(fmt.Errorf("verify: %w", err))
	}
	switch format {
	case "json":
		err = printJSON(rt.stdout, rep)
	case "junit":
		err = printJUnit(rt.stdout, rep)
	default:
		printVerifyText(rt.stdout, rep)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return withCode(exitFailure, fmt.Errorf("source %q cannot be fully restored: %s; see the report", rep.Source, plural.N(rep.Errors, "error")))
	}
	return nil
}

// couldNotRun gives exit 2 to anything that kept verify from answering;
// exit 1 is kept for "the chain is broken".
func couldNotRun(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return withCode(exitUsage, err)
}

func printVerifyText(w io.Writer, rep *catalog.VerifyReport) {
	verdict := "OK"
	if !rep.OK {
		verdict = "BROKEN"
	}
	fmt.Fprintf(w, "%s: source %s in %s: %s, %s; %s, %d of %s restorable, %s, %s",
		verdict, rep.Source, rep.Store, plural.N(rep.Errors, "error"), plural.N(rep.Warnings, "warning"), plural.N(rep.Backups, "backup"),
		rep.Reachable, plural.N(rep.Marks, "mark"), plural.N(rep.Timelines, "timeline"), plural.N(rep.Segments, "segment"))
	if n := rep.Newest; n != nil {
		fmt.Fprintf(w, "; newest segment %s stored %s ago", n.Name, time.Duration(n.AgeSeconds*float64(time.Second)).Round(time.Second))
	}
	fmt.Fprintln(w)
	if st := rep.StreamedTail; st != nil {
		fmt.Fprintln(w, streamedTailLine(st))
	}
	if d := rep.DeepStats; d != nil {
		fmt.Fprintf(w, "deep: %s, %d checked now, %d checked before and unchanged, %d downloaded (%s)\n",
			plural.N(d.Objects, "object"), d.Checked, d.Skipped, d.Downloaded, humanBytes(d.DownloadedBytes))
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintln(w)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "%-7s %s: %s\n        fix: %s\n", strings.ToUpper(string(p.Severity)), p.Code, p.Message, p.Fix)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range rep.Checks {
		state := "ok"
		if !c.OK {
			state = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", state, c.Kind, c.Name, c.Summary)
	}
	tw.Flush()
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Time     float64      `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Time      float64     `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// printJUnit writes one testcase per check, so that CI names the backup,
// mark or timeline that failed.
func printJUnit(w io.Writer, rep *catalog.VerifyReport) error {
	suite := junitSuite{Name: "logship verify " + rep.Source, Time: rep.Duration, Timestamp: rep.Started.Format("2006-01-02T15:04:05")}
	for _, c := range rep.Checks {
		tc := junitCase{Name: c.Kind + " " + c.Name, Classname: "logship.verify." + rep.Source + "." + c.Kind}
		var errs, warns []string
		for _, p := range c.Problems {
			line := fmt.Sprintf("%s %s: %s\nfix: %s", p.Severity, p.Code, p.Message, p.Fix)
			if p.Severity == catalog.SevError {
				errs = append(errs, line)
			} else {
				warns = append(warns, line)
			}
		}
		out := c.Summary
		if len(warns) > 0 {
			out += "\n" + strings.Join(warns, "\n")
		}
		tc.SystemOut = out
		if !c.OK {
			first := c.Summary
			if len(c.Problems) > 0 {
				first = c.Problems[0].Message
				for _, p := range c.Problems {
					if p.Severity == catalog.SevError {
						first = p.Message
						break
					}
				}
			}
			tc.Failure = &junitFailure{Message: first, Type: "broken-chain", Text: strings.Join(errs, "\n\n")}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
	}
	doc := junitSuites{Name: "logship verify", Tests: suite.Tests, Failures: suite.Failures, Time: rep.Duration, Suites: []junitSuite{suite}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
