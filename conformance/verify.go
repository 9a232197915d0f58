package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Verdict is the outcome of one verify case.
type Verdict string

const (
	// Pass: the implementation did what the specification requires.
	Pass Verdict = "PASS"
	// Fail: it broke a MUST.
	Fail Verdict = "FAIL"
	// Warn: it broke a SHOULD, or did something allowed but questionable.
	Warn Verdict = "WARN"
)

// Result is the outcome of one case of `eddy conformance verify`.
type Result struct {
	// ID names the case, for example "binary-1.0-minimal".
	ID string
	// Description says what the case sends or saw.
	Description string
	// Section is the specification text the case checks.
	Section string
	// Expectation says what a conforming implementation does, for example
	// "2xx: a valid event MUST be accepted".
	Expectation string
	// Verdict is PASS, FAIL or WARN; Why explains it (the status answered, the violations).
	Verdict Verdict
	Why     string
	// Duration is how long the case took.
	Duration time.Duration
}

// Report is the outcome of a verify run.
type Report struct {
	// Name names the run, for example "eddy conformance verify receiver".
	Name string
	// Target is what was verified (a URL, a listening address).
	Target  string
	Results []Result
	// Duration is how long the run took.
	Duration time.Duration
}

// Count returns how many results have verdict v.
func (r *Report) Count(v Verdict) int {
	n := 0
	for _, res := range r.Results {
		if res.Verdict == v {
			n++
		}
	}
	return n
}

// Failed reports whether some result failed.
func (r *Report) Failed() bool { return r.Count(Fail) > 0 }

// Summary returns a line such as "25 cases: 23 passed, 1 failed, 1 warning".
func (r *Report) Summary() string {
	plural := func(n int, s string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, s)
		}
		return fmt.Sprintf("%d %ss", n, s)
	}
	return fmt.Sprintf("%s: %d passed, %d failed, %s", plural(len(r.Results), "case"), r.Count(Pass), r.Count(Fail), plural(r.Count(Warn), "warning"))
}

// WriteTable prints the results as a table (RESULT, CASE, SECTION, WHY) and the summary.
// With verbose, each case's description and expectation follow its row.
func (r *Report) WriteTable(w io.Writer, verbose bool) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCASE\tSECTION\tWHY")
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Verdict, res.ID, res.Section, oneLineText(res.Why))
		if verbose {
			fmt.Fprintf(tw, "\t  %s\t\t\n", oneLineText(res.Description))
			if res.Expectation != "" {
				fmt.Fprintf(tw, "\t  expect %s\t\t\n", oneLineText(res.Expectation))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, r.Summary())
	return err
}

func oneLineText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// junit* are the elements of the JUnit XML report format that CI systems read.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Props    []junitProp `xml:"properties>property,omitempty"`
	Cases    []junitCase `xml:"testcase"`
}

type junitProp struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML: one testsuite, one testcase per result
// (classname is the specification section). FAIL results carry a <failure>; WARN results
// pass, with the warning in <system-out>.
func (r *Report) WriteJUnit(w io.Writer) error {
	secs := func(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
	s := junitSuite{Name: r.Name, Tests: len(r.Results), Failures: r.Count(Fail), Time: secs(r.Duration)}
	if r.Target != "" {
		s.Props = []junitProp{{Name: "target", Value: r.Target}}
	}
	for _, res := range r.Results {
		c := junitCase{Name: res.ID, ClassName: res.Section, Time: secs(res.Duration)}
		detail := res.Description
		if res.Expectation != "" {
			detail += "\nexpected: " + res.Expectation
		}
		detail += "\n" + res.Why
		switch res.Verdict {
		case Fail:
			c.Failure = &junitFailure{Message: oneLineText(res.Why), Type: "FAIL", Text: detail}
		case Warn:
			c.SystemOut = "WARN: " + detail
		default:
			c.SystemOut = "PASS: " + detail
		}
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{s}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
