package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	yaml "go.yaml.in/yaml/v2"
)

// Case is one event in the YAML test-case format of the cloudevents/conformance tool (its
// `cloudevents send/invoke/listen/diff` commands), which the `eddy events` commands read and
// write:
//
//	Mode: binary            # or structured; absent means binary
//	ContextAttributes:
//	  specversion: 1.0
//	  type: com.example.someevent
//	  id: 4321-4321-4321
//	  source: /mycontext/subcontext
//	  datacontenttype: application/json
//	  Extensions:
//	    comexampleextension1: value
//	TransportExtensions:    # other HTTP headers
//	  user-agent: foo
//	Data: |
//	  {"world":"hello"}
//
// Several cases in one file are separate YAML documents ("---"). Values are kept as the text
// that was written: "specversion: 1.0" is the string "1.0", not a number. Eddy adds two
// things to the format, which the upstream tool ignores: Mode "batch" (an event sent or
// received in a JSON batch) and DataBase64 (binary data, as standard base64).
type Case struct {
	// Mode is "binary", "structured" or "batch"; empty means binary.
	Mode string `yaml:"Mode,omitempty"`
	// ContextAttributes are the event's attributes.
	ContextAttributes Attributes `yaml:"ContextAttributes"`
	// TransportExtensions are HTTP headers that are not CloudEvents attributes.
	TransportExtensions map[string]string `yaml:"TransportExtensions,omitempty"`
	// Data is the event data as text: the HTTP body in binary mode; in the JSON format the
	// JSON text of "data" when datacontenttype is JSON (or absent), else its string value.
	Data string `yaml:"Data,omitempty"`
	// DataBase64 is binary data in standard base64 (the JSON format's data_base64). At most
	// one of Data and DataBase64 is set.
	DataBase64 string `yaml:"DataBase64,omitempty"`
	// Comments are written as "# " lines before the document (listen puts the validators'
	// findings there). They are not read back.
	Comments []string `yaml:"-"`
}

// Attributes are a Case's context attributes. Empty means absent.
type Attributes struct {
	// SpecVersion, Type, Time, ID, Source and Subject are the core attributes of those
	// names, as written (specversion "1.0" or "0.3").
	SpecVersion string `yaml:"specversion,omitempty"`
	Type        string `yaml:"type,omitempty"`
	Time        string `yaml:"time,omitempty"`
	ID          string `yaml:"id,omitempty"`
	Source      string `yaml:"source,omitempty"`
	Subject     string `yaml:"subject,omitempty"`
	// SchemaURL is CloudEvents 0.3's name for DataSchema.
	SchemaURL string `yaml:"schemaurl,omitempty"`
	// DataSchema is CloudEvents 1.0's dataschema.
	DataSchema string `yaml:"dataschema,omitempty"`
	// DataContentEncoding is the CloudEvents 0.3 attribute ("base64").
	DataContentEncoding string `yaml:"datacontentencoding,omitempty"`
	// DataContentType is the media type of the data (Content-Type in binary mode).
	DataContentType string `yaml:"datacontenttype,omitempty"`
	// Extensions are the extension attributes, as their canonical strings.
	Extensions map[string]string `yaml:"Extensions,omitempty"`
}

// coreAttrNames are the attributes Attributes has fields for, in the format's order.
var coreAttrNames = []string{"specversion", "type", "time", "id", "source", "subject", "schemaurl", "dataschema", "datacontentencoding", "datacontenttype"}

// field returns a pointer to the field of a core attribute, or nil.
func (a *Attributes) field(name string) *string {
	switch name {
	case "specversion":
		return &a.SpecVersion
	case "type":
		return &a.Type
	case "time":
		return &a.Time
	case "id":
		return &a.ID
	case "source":
		return &a.Source
	case "subject":
		return &a.Subject
	case "schemaurl":
		return &a.SchemaURL
	case "dataschema":
		return &a.DataSchema
	case "datacontentencoding", "dataecontentncoding": // the second: an old upstream typo
		return &a.DataContentEncoding
	case "datacontenttype":
		return &a.DataContentType
	}
	return nil
}

// Get returns an attribute's value (core or extension) by name, or "" when it is absent.
// The name is trimmed and, unless an extension has exactly that name, matched in lower case.
// The names "data" and "mode" return Data and Mode.
func (c *Case) Get(name string) string {
	name = strings.TrimSpace(name)
	if v, ok := c.ContextAttributes.Extensions[name]; ok {
		return v
	}
	name = strings.ToLower(name)
	switch name {
	case "data":
		return c.Data
	case "mode":
		return c.Mode
	}
	if f := c.ContextAttributes.field(name); f != nil {
		return *f
	}
	return c.ContextAttributes.Extensions[name]
}

// Set sets an attribute (core or extension) by its exact name; an empty value removes it.
// Names are not lower-cased: an invalid name such as "comExample" stays what it is, so the
// validators can report it.
func (c *Case) Set(name, value string) {
	if f := c.ContextAttributes.field(name); f != nil {
		*f = value
		return
	}
	if value == "" {
		delete(c.ContextAttributes.Extensions, name)
		return
	}
	if c.ContextAttributes.Extensions == nil {
		c.ContextAttributes.Extensions = map[string]string{}
	}
	c.ContextAttributes.Extensions[name] = value
}

// AttributeMap returns every present attribute, core and extension, by name.
func (c *Case) AttributeMap() map[string]string {
	m := map[string]string{}
	for _, n := range coreAttrNames {
		if v := *c.ContextAttributes.field(n); v != "" {
			m[n] = v
		}
	}
	for k, v := range c.ContextAttributes.Extensions {
		if _, core := m[k]; !core && v != "" {
			m[k] = v
		}
	}
	return m
}

// maxCaseInput bounds what ReadCases accepts, so a hostile file cannot exhaust memory.
const maxCaseInput = 64 << 20

// ReadCases reads every case of a YAML stream: documents separated by "---", each a mapping
// with the keys Mode, ContextAttributes (core attributes plus an Extensions mapping),
// TransportExtensions, Data and DataBase64. Top-level keys match case-insensitively and
// unknown ones are ignored, as the upstream tool ignores them; attributes outside Extensions
// that are not core attributes are read as extensions. Scalars keep their written text;
// mapping or sequence values (which the format does not define) are kept as JSON text.
// Empty documents are skipped. A document that is not a mapping is an error.
func ReadCases(r io.Reader) (cases []Case, err error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCaseInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxCaseInput {
		return nil, fmt.Errorf("the YAML input is larger than %d bytes", maxCaseInput)
	}
	defer func() {
		// The YAML library has panicked on hostile input before; never let it take the
		// program down.
		if p := recover(); p != nil {
			cases, err = nil, fmt.Errorf("cannot read the YAML: %v", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for doc := 1; ; doc++ {
		var n yamlNode
		if err := dec.Decode(&n); errors.Is(err, io.EOF) {
			return cases, nil
		} else if err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", doc, err)
		}
		if n.kind == nodeNull {
			continue
		}
		c, err := caseFromNode(&n)
		if err != nil {
			return nil, fmt.Errorf("YAML document %d: %w", doc, err)
		}
		cases = append(cases, c)
	}
}

// ReadCaseFiles reads the cases of a file, or of every .yaml and .yml file under a directory
// (recursively, in lexical order of path). "-" reads standard input.
func ReadCaseFiles(path string) ([]Case, error) {
	if path == "-" {
		return ReadCases(os.Stdin)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return readCaseFile(path)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := strings.ToLower(filepath.Ext(p)); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no .yaml or .yml files", path)
	}
	sort.Strings(files)
	var all []Case
	for _, f := range files {
		cs, err := readCaseFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, cs...)
	}
	return all, nil
}

func readCaseFile(path string) ([]Case, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cs, err := ReadCases(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}

type nodeKind int

const (
	nodeNull nodeKind = iota
	nodeScalar
	nodeMap
	nodeSeq
)

// yamlNode is a YAML value that keeps scalars as their written text.
type yamlNode struct {
	kind nodeKind
	text string
	m    map[string]*yamlNode
	seq  []*yamlNode
	// plain is the value as the YAML library resolves it (numbers, booleans), used to
	// render mappings and sequences as JSON.
	plain any
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (n *yamlNode) UnmarshalYAML(unmarshal func(any) error) error {
	var v any
	if err := unmarshal(&v); err != nil {
		return err
	}
	n.plain = v
	switch v.(type) {
	case nil:
		n.kind = nodeNull
		return nil
	case map[any]any:
		n.kind = nodeMap
		return unmarshal(&n.m)
	case []any:
		n.kind = nodeSeq
		return unmarshal(&n.seq)
	}
	n.kind = nodeScalar
	return unmarshal(&n.text)
}

// str renders a value as an attribute string: a scalar's text, "" for null, JSON for the rest.
func (n *yamlNode) str() string {
	if n == nil {
		return ""
	}
	switch n.kind {
	case nodeScalar:
		return n.text
	case nodeNull:
		return ""
	}
	b, err := json.Marshal(jsonable(n.plain))
	if err != nil {
		return fmt.Sprint(n.plain)
	}
	return string(b)
}

// jsonable converts what yaml.v2 decodes (map[any]any) into what encoding/json takes.
func jsonable(v any) any {
	switch v := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

// sortedNodeKeys returns a mapping's keys in order, so that results do not depend on map
// iteration.
func sortedNodeKeys(m map[string]*yamlNode) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func caseFromNode(n *yamlNode) (Case, error) {
	var c Case
	if n.kind != nodeMap {
		return c, fmt.Errorf("a test case is a mapping with ContextAttributes, Data, …; got %s", n.describe())
	}
	for _, key := range sortedNodeKeys(n.m) {
		v := n.m[key]
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "mode":
			c.Mode = strings.TrimSpace(v.str())
		case "data":
			c.Data = v.str()
		case "database64":
			c.DataBase64 = strings.TrimSpace(v.str())
		case "transportextensions":
			if v.kind == nodeNull {
				continue
			}
			if v.kind != nodeMap {
				return c, fmt.Errorf("TransportExtensions: a mapping of header names to values; got %s", v.describe())
			}
			c.TransportExtensions = map[string]string{}
			for _, k := range sortedNodeKeys(v.m) {
				c.TransportExtensions[k] = v.m[k].str()
			}
		case "contextattributes":
			if v.kind == nodeNull {
				continue
			}
			if v.kind != nodeMap {
				return c, fmt.Errorf("ContextAttributes: a mapping of attribute names to values; got %s", v.describe())
			}
			if err := readAttributes(&c, v); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

func readAttributes(c *Case, n *yamlNode) error {
	for _, key := range sortedNodeKeys(n.m) {
		v := n.m[key]
		name := strings.TrimSpace(key)
		if strings.EqualFold(name, "extensions") && (v.kind == nodeMap || v.kind == nodeNull) {
			if v.kind == nodeNull {
				continue
			}
			for _, k := range sortedNodeKeys(v.m) {
				if s := v.m[k].str(); s != "" {
					c.Set(strings.TrimSpace(k), s)
				}
			}
			continue
		}
		if s := v.str(); s != "" {
			c.Set(name, s)
		}
	}
	return nil
}

func (n *yamlNode) describe() string {
	switch n.kind {
	case nodeScalar:
		return fmt.Sprintf("the scalar %q", n.text)
	case nodeSeq:
		return "a sequence"
	case nodeMap:
		return "a mapping"
	}
	return "null"
}

// YAML renders one case as a YAML document (without a "---" separator), with its Comments
// as "# " lines first.
func (c *Case) YAML() ([]byte, error) {
	type plain Case // no methods: yaml.v2 marshals the fields
	body, err := yaml.Marshal((*plain)(c))
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, com := range c.Comments {
		for _, line := range strings.Split(com, "\n") {
			b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
		}
	}
	b.Write(body)
	return b.Bytes(), nil
}

// WriteCases writes cases as YAML documents separated by "---" lines, which ReadCases reads
// back.
func WriteCases(w io.Writer, cases []Case) error {
	for i := range cases {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		b, err := cases[i].YAML()
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
