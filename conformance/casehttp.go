package conformance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"unicode/utf8"
)

// CaseMode returns the content mode a case asks for: Mode "binary" (or empty), "structured"
// or "batch", matched case-insensitively.
func (c *Case) CaseMode() (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(c.Mode)) {
	case "", "binary":
		return ModeBinary, nil
	case "structured":
		return ModeStructured, nil
	case "batch":
		return ModeBatch, nil
	}
	return ModeBinary, fmt.Errorf("unknown Mode %q: use binary, structured or batch", c.Mode)
}

// sendValue is how an attribute value travels: surrounding white space removed, as the
// upstream tool does (a YAML block scalar ends in a newline, which a String may not hold).
func sendValue(s string) string { return strings.TrimSpace(s) }

// HTTP renders the case as an HTTP message in its mode.
//
// Binary mode (HTTP Protocol Binding §3.1): datacontenttype becomes Content-Type, every
// other attribute a ce- header whose value is percent-encoded as §3.1.3.2 prescribes, and the
// data is the body. Structured mode (§3.2): the JSON format, with Content-Type
// application/cloudevents+json. Batch mode (§3.3): a JSON batch of this one event. In the
// JSON format, Data is embedded as JSON when datacontenttype is JSON (or absent) and Data is
// valid JSON, else as a string; DataBase64 becomes data_base64. TransportExtensions are
// added as headers last. Attribute values are trimmed of surrounding white space.
func (c *Case) HTTP() (http.Header, []byte, error) {
	mode, err := c.CaseMode()
	if err != nil {
		return nil, nil, err
	}
	h := http.Header{}
	var body []byte
	switch mode {
	case ModeBinary:
		for name, v := range c.AttributeMap() {
			v = sendValue(v)
			if v == "" {
				continue
			}
			if name == "datacontenttype" {
				h.Set("Content-Type", v)
				continue
			}
			h.Set("ce-"+name, EncodeHTTPHeaderValue(v))
		}
		if c.DataBase64 != "" {
			if body, err = base64.StdEncoding.DecodeString(c.DataBase64); err != nil {
				return nil, nil, fmt.Errorf("DataBase64: %w", err)
			}
		} else {
			body = []byte(c.Data)
		}
	case ModeStructured:
		if body, err = c.JSON(); err != nil {
			return nil, nil, err
		}
		h.Set("Content-Type", "application/cloudevents+json; charset=utf-8")
	case ModeBatch:
		ev, err := c.JSON()
		if err != nil {
			return nil, nil, err
		}
		body = append(append([]byte("["), ev...), ']')
		h.Set("Content-Type", "application/cloudevents-batch+json; charset=utf-8")
	}
	keys := make([]string, 0, len(c.TransportExtensions))
	for k := range c.TransportExtensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := sendValue(c.TransportExtensions[k]); v != "" && strings.TrimSpace(k) != "" {
			h.Set(strings.TrimSpace(k), v)
		}
	}
	return h, body, nil
}

// JSON renders the case as one event in the JSON format (JSON Event Format §3).
func (c *Case) JSON() ([]byte, error) {
	obj := map[string]any{}
	for name, v := range c.AttributeMap() {
		if v = sendValue(v); v != "" {
			obj[name] = v
		}
	}
	switch {
	case c.DataBase64 != "":
		if _, err := base64.StdEncoding.DecodeString(c.DataBase64); err != nil {
			return nil, fmt.Errorf("DataBase64: %w", err)
		}
		obj["data_base64"] = c.DataBase64
	case c.Data != "":
		dct, _ := obj["datacontenttype"].(string)
		trimmed := strings.TrimSpace(c.Data)
		if (dct == "" || isJSONContentType(dct)) && json.Valid([]byte(trimmed)) && strings.ToLower(sendValue(c.ContextAttributes.DataContentEncoding)) != "base64" {
			obj["data"] = json.RawMessage(trimmed)
		} else {
			obj["data"] = c.Data
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(obj); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// isJSONContentType reports whether a media type declares JSON: */json or */*+json, with
// parameters ignored (JSON Event Format §3.1).
func isJSONContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return strings.HasSuffix(mt, "/json") || strings.HasSuffix(mt, "+json")
}

// NewRequest returns a POST request to url that carries the case (see HTTP).
func (c *Case) NewRequest(ctx context.Context, url string) (*http.Request, error) {
	h, body, err := c.HTTP()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	if host := h.Get("Host"); host != "" {
		req.Host = host
	}
	return req, nil
}

// CasesFromHTTP reads the events of an HTTP message (any content mode) as cases, the way
// `eddy events listen` shows them. Binary mode: ce- headers are decoded as HTTP Protocol
// Binding §3.1.3.2 prescribes (a value that does not decode is kept as sent), Content-Type
// is datacontenttype, the body is Data (DataBase64 when it is not text). Structured and
// batch mode: the JSON format; each batch element is a case of Mode "batch". Headers other
// than ce-, Content-Type and Content-Length become TransportExtensions. It fails on a
// structured or batch body it cannot read, saying why; the validators say what is wrong
// with an event it can read.
func CasesFromHTTP(h http.Header, body []byte) ([]Case, error) {
	ct := ""
	if cts := headerValues(h, "content-type"); len(cts) > 0 {
		ct = cts[0]
	}
	transport := map[string]string{}
	for _, k := range sortedKeys(h) {
		lk := strings.ToLower(k)
		if lk == "content-type" || lk == "content-length" || (strings.HasPrefix(lk, "ce-") && DetectMode(ct) == ModeBinary) {
			continue
		}
		transport[lk] = strings.Join(h[k], ", ")
	}
	if len(transport) == 0 {
		transport = nil
	}
	switch mode := DetectMode(ct); mode {
	case ModeBinary:
		c := Case{Mode: "binary", TransportExtensions: transport}
		for _, k := range sortedKeys(h) {
			lk := strings.ToLower(k)
			if !strings.HasPrefix(lk, "ce-") || len(h[k]) == 0 {
				continue
			}
			raw := h[k][0]
			v, err := DecodeHTTPHeaderValue(raw)
			if err != nil {
				v = raw
			}
			if c.Get(lk[3:]) == "" {
				c.Set(lk[3:], v)
			}
		}
		if ct != "" {
			c.ContextAttributes.DataContentType = ct
		}
		setBody(&c, body)
		return []Case{c}, nil
	default:
		if !isJSONFormat(ct) {
			return nil, fmt.Errorf("Content-Type %q names a %s event format other than JSON", ct, mode)
		}
		if mode == ModeStructured {
			c, err := caseFromJSON(body)
			if err != nil {
				return nil, err
			}
			c.Mode, c.TransportExtensions = "structured", transport
			return []Case{c}, nil
		}
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			return nil, fmt.Errorf("the batch is not a JSON array: %w", err)
		}
		cases := make([]Case, 0, len(elems))
		for i, e := range elems {
			c, err := caseFromJSON(e)
			if err != nil {
				return nil, fmt.Errorf("batch element %d: %w", i+1, err)
			}
			c.Mode, c.TransportExtensions = "batch", transport
			cases = append(cases, c)
		}
		return cases, nil
	}
}

// setBody sets a case's data from a body: as text when it is UTF-8 without control
// characters other than tab, CR and LF, else as base64.
func setBody(c *Case, body []byte) {
	switch {
	case len(body) == 0:
	case isText(body):
		c.Data = string(body)
	default:
		c.DataBase64 = base64.StdEncoding.EncodeToString(body)
	}
}

func isText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, c := range b {
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f {
			return false
		}
	}
	return true
}

// caseFromJSON reads one event in the JSON format.
func caseFromJSON(data []byte) (Case, error) {
	var c Case
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return c, fmt.Errorf("not a JSON event: %w", err)
	}
	if obj == nil {
		return c, errors.New("not a JSON event: null")
	}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := obj[name]
		var s string
		isString := json.Unmarshal(raw, &s) == nil
		switch {
		case string(bytes.TrimSpace(raw)) == "null":
			continue
		case name == "data":
			dct, enc := "", ""
			if v, ok := obj["datacontenttype"]; ok {
				json.Unmarshal(v, &dct)
			}
			if v, ok := obj["datacontentencoding"]; ok {
				json.Unmarshal(v, &enc)
			}
			// JSON data is kept as JSON text; a string that is text or (0.3) base64 as itself.
			if isString && (dct != "" && !isJSONContentType(dct) || strings.EqualFold(enc, "base64")) {
				c.Data = s
			} else {
				c.Data = compactJSON(raw)
			}
		case name == "data_base64":
			if isString {
				c.DataBase64 = s
			} else {
				c.DataBase64 = compactJSON(raw)
			}
		case isString:
			c.Set(name, s)
		default: // numbers, booleans, 0.3 maps: their JSON text is their canonical string
			c.Set(name, compactJSON(raw))
		}
	}
	return c, nil
}

func compactJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// RawRequest is an HTTP request as it arrived, for showing (`eddy events raw`) and judging.
type RawRequest struct {
	Method, URL, Proto, Host string
	Header                   http.Header
	Body                     []byte
}

// ReadRawRequest reads a request's body (at most limit bytes; more is an error) and keeps
// what is needed to show and judge it.
func ReadRawRequest(r *http.Request, limit int64) (*RawRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("the body is larger than %d bytes", limit)
	}
	return &RawRequest{Method: r.Method, URL: r.URL.RequestURI(), Proto: r.Proto, Host: r.Host, Header: r.Header.Clone(), Body: body}, nil
}

// Write prints the request as it would look on the wire: request line, headers (sorted),
// an empty line and the body. Bytes that are not printable UTF-8 text are escaped.
func (rr *RawRequest) Write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\n", rr.Method, rr.URL, rr.Proto)
	if rr.Host != "" {
		fmt.Fprintf(&b, "Host: %s\n", rr.Host)
	}
	for _, k := range sortedKeys(rr.Header) {
		for _, v := range rr.Header[k] {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	if utf8.Valid(rr.Body) {
		b.Write(rr.Body)
	} else {
		fmt.Fprintf(&b, "%q", rr.Body)
	}
	if len(rr.Body) > 0 && !bytes.HasSuffix(rr.Body, []byte("\n")) {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
