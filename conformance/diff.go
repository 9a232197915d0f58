package conformance

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// DiffOptions configure Diff.
type DiffOptions struct {
	// Match names the attributes that pair a wanted event with a received one (default
	// ["id"]). Two events pair when all of them are equal.
	Match []string
	// IgnoreAdditions ignores what the received events have beyond the wanted ones:
	// attributes, extensions or data the wanted event lacks, and received events no wanted
	// event pairs with. A wanted event can then list only what matters, for example just
	// its type.
	IgnoreAdditions bool
}

// Difference is one way a received event differs from the wanted one.
type Difference struct {
	// Label names the wanted (or, for Unexpected, the received) event by its match
	// attributes, for example "id[A-1]".
	Label string
	// Missing is true when no received event pairs with the wanted one.
	Missing bool
	// Unexpected is true for a received event that no wanted event pairs with.
	Unexpected bool
	// Field is the attribute ("type", "Extensions.foo") or "Data" that differs.
	Field string
	// Want and Got are the values; "" means absent.
	Want, Got string
}

// DiffResult is the outcome of Diff.
type DiffResult struct {
	Differences []Difference
}

// Match reports whether there is no difference.
func (r DiffResult) Match() bool { return len(r.Differences) == 0 }

// Diff compares wanted events with received ones. Each wanted event is paired with the first
// unpaired received event whose match attributes are equal; then attributes, extensions and
// data are compared. Mode and TransportExtensions are not compared. Values are compared
// after trimming surrounding white space; time values as instants (RFC 3339); data as JSON
// when both sides are JSON, else as text.
func Diff(want, got []Case, opts DiffOptions) DiffResult {
	match := opts.Match
	if len(match) == 0 {
		match = []string{"id"}
	}
	label := func(c *Case) string {
		parts := make([]string, len(match))
		for i, m := range match {
			parts[i] = fmt.Sprintf("%s[%s]", m, strings.TrimSpace(c.Get(m)))
		}
		return strings.Join(parts, " ")
	}
	used := make([]bool, len(got))
	var res DiffResult
	for i := range want {
		w := &want[i]
		pair := -1
		for j := range got {
			if used[j] {
				continue
			}
			same := true
			for _, m := range match {
				if !sameValue(m, w.Get(m), got[j].Get(m)) {
					same = false
					break
				}
			}
			if same {
				pair = j
				break
			}
		}
		if pair < 0 {
			res.Differences = append(res.Differences, Difference{Label: label(w), Missing: true})
			continue
		}
		used[pair] = true
		res.Differences = append(res.Differences, compareCases(label(w), w, &got[pair], opts.IgnoreAdditions)...)
	}
	if !opts.IgnoreAdditions {
		for j := range got {
			if !used[j] {
				res.Differences = append(res.Differences, Difference{Label: label(&got[j]), Unexpected: true})
			}
		}
	}
	return res
}

func compareCases(label string, w, g *Case, ignoreAdditions bool) []Difference {
	wa, ga := w.AttributeMap(), g.AttributeMap()
	names := map[string]bool{}
	for k := range wa {
		names[k] = true
	}
	for k := range ga {
		names[k] = true
	}
	sorted := make([]string, 0, len(names))
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return fieldOrder(sorted[i]) < fieldOrder(sorted[j]) })
	var out []Difference
	add := func(field, want, got string) {
		if want == "" && ignoreAdditions {
			return
		}
		out = append(out, Difference{Label: label, Field: field, Want: want, Got: got})
	}
	for _, n := range sorted {
		wv, gv := strings.TrimSpace(wa[n]), strings.TrimSpace(ga[n])
		if sameValue(n, wv, gv) {
			continue
		}
		field := n
		if w.ContextAttributes.field(n) == nil {
			field = "Extensions." + n
		}
		add(field, wv, gv)
	}
	if wd, gd := dataText(w), dataText(g); !sameData(wd, gd) {
		add("Data", dataShown(w), dataShown(g))
	}
	return out
}

// fieldOrder sorts core attributes in the format's order, then extensions by name.
func fieldOrder(name string) string {
	for i, n := range coreAttrNames {
		if n == name {
			return fmt.Sprintf("0%02d", i)
		}
	}
	return "1" + name
}

// dataText is a case's data for comparison: the text trimmed of surrounding white space, or
// the bytes DataBase64 decodes to (kept as written when they do not decode).
func dataText(c *Case) string {
	if c.DataBase64 != "" {
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.DataBase64)); err == nil {
			return string(b)
		}
		return "base64:" + strings.TrimSpace(c.DataBase64)
	}
	return strings.TrimSpace(c.Data)
}

// dataShown is a case's data as a difference shows it.
func dataShown(c *Case) string {
	if c.DataBase64 != "" {
		return "(base64) " + strings.TrimSpace(c.DataBase64)
	}
	return strings.TrimSpace(c.Data)
}

func sameValue(name, a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if a == b {
		return true
	}
	if strings.EqualFold(name, "time") {
		ta, errA := time.Parse(time.RFC3339Nano, a)
		tb, errB := time.Parse(time.RFC3339Nano, b)
		return errA == nil && errB == nil && ta.Equal(tb)
	}
	return false
}

func sameData(a, b string) bool {
	if a == b {
		return true
	}
	ca, okA := canonicalJSON(a)
	cb, okB := canonicalJSON(b)
	return okA && okB && ca == cb
}

// canonicalJSON re-encodes a JSON text with sorted object keys and exact numbers.
func canonicalJSON(s string) (string, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", false
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", false // trailing data
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return b.String(), true
}

// Write prints the differences, one block per event, in the style of the upstream tool:
//
//	missing: id[A-2]
//	---
//	id[A-1] diffs (-want, +got):
//	-   type: com.example.a
//	+   type: com.example.b
func (r DiffResult) Write(w io.Writer) error {
	var b strings.Builder
	last := ""
	for i, d := range r.Differences {
		switch {
		case d.Missing:
			if i > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "missing: %s\n", d.Label)
			last = ""
			continue
		case d.Unexpected:
			if i > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "unexpected: %s\n", d.Label)
			last = ""
			continue
		}
		if d.Label != last || i == 0 {
			if i > 0 {
				b.WriteString("---\n")
			}
			fmt.Fprintf(&b, "%s diffs (-want, +got):\n", d.Label)
			last = d.Label
		}
		if d.Want != "" {
			fmt.Fprintf(&b, "-   %s: %s\n", d.Field, oneLine(d.Want))
		}
		if d.Got != "" {
			fmt.Fprintf(&b, "+   %s: %s\n", d.Field, oneLine(d.Got))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine quotes a value that spans lines, so each difference stays on one line.
func oneLine(s string) string {
	if strings.ContainsAny(s, "\n\r") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
