package conformance

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, strict JSON (RFC 8259) parser. encoding/json cannot be used to
// judge structured events because it hides what the rules are about: it keeps only the last
// of duplicate members, replaces unpaired surrogate escapes and invalid UTF-8 with U+FFFD,
// and turns numbers into float64 (so 1.0 and 1 look alike).

type jsonKind int

const (
	jNull jsonKind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jsonKind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jsonValue is a parsed JSON value.
type jsonValue struct {
	kind jsonKind
	b    bool
	// str is the decoded string for jString and the literal text for jNumber.
	str string
	// badSurrogate is set when a string held an escaped unpaired surrogate (\uD800 alone);
	// str then holds U+FFFD in its place.
	badSurrogate bool
	members      []jsonMember // jObject, in document order, duplicates kept
	elems        []*jsonValue // jArray
	// start and end are the byte offsets of the value in the input.
	start, end int
}

type jsonMember struct {
	key             string
	keyBadSurrogate bool
	val             *jsonValue
	off             int
}

// maxJSONDepth bounds nesting so hostile input cannot exhaust the stack.
const maxJSONDepth = 10000

type jsonSyntaxError struct {
	off int
	msg string
}

func (e *jsonSyntaxError) Error() string { return fmt.Sprintf("at byte %d: %s", e.off, e.msg) }

type jsonParser struct {
	data  []byte
	pos   int
	depth int
}

// parseJSON parses one JSON text: a single value with optional surrounding whitespace.
func parseJSON(data []byte) (*jsonValue, error) {
	p := &jsonParser{data: data}
	if len(data) >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF {
		return nil, p.errf("byte order mark; JSON text MUST NOT begin with one (RFC 8259 §8.1)")
	}
	p.ws()
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return nil, p.errf("unexpected %s after the end of the JSON value", p.describe())
	}
	return v, nil
}

func (p *jsonParser) errf(format string, args ...any) error {
	return &jsonSyntaxError{off: p.pos, msg: fmt.Sprintf(format, args...)}
}

func (p *jsonParser) describe() string {
	if p.pos >= len(p.data) {
		return "end of input"
	}
	c := p.data[p.pos]
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (p *jsonParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value() (*jsonValue, error) {
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of input, expected a JSON value")
	}
	start := p.pos
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		s, bad, err := p.string()
		if err != nil {
			return nil, err
		}
		return &jsonValue{kind: jString, str: s, badSurrogate: bad, start: start, end: p.pos}, nil
	case c == 't':
		return p.literal("true", &jsonValue{kind: jBool, b: true})
	case c == 'f':
		return p.literal("false", &jsonValue{kind: jBool})
	case c == 'n':
		return p.literal("null", &jsonValue{kind: jNull})
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.errf("unexpected %s, expected a JSON value", p.describe())
}

func (p *jsonParser) literal(word string, v *jsonValue) (*jsonValue, error) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return nil, p.errf("invalid literal, expected %q", word)
	}
	v.start = p.pos
	p.pos += len(word)
	v.end = p.pos
	return v, nil
}

func (p *jsonParser) enter() error {
	p.depth++
	if p.depth > maxJSONDepth {
		return p.errf("nesting deeper than %d levels", maxJSONDepth)
	}
	return nil
}

func (p *jsonParser) object() (*jsonValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	v := &jsonValue{kind: jObject, start: p.pos}
	p.pos++ // '{'
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		v.end = p.pos
		return v, nil
	}
	for {
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.errf("unexpected %s, expected a member name (a string)", p.describe())
		}
		off := p.pos
		key, bad, err := p.string()
		if err != nil {
			return nil, err
		}
		p.ws()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.errf("unexpected %s, expected ':'", p.describe())
		}
		p.pos++
		p.ws()
		val, err := p.value()
		if err != nil {
			return nil, err
		}
		v.members = append(v.members, jsonMember{key: key, keyBadSurrogate: bad, val: val, off: off})
		if done, err := p.next(v, '}'); err != nil {
			return nil, err
		} else if done {
			return v, nil
		}
	}
}

// next reads what follows a member or an element of container v: ',' (more to come) or
// closer, which ends v. It reports whether v ended.
func (p *jsonParser) next(v *jsonValue, closer byte) (bool, error) {
	p.ws()
	if p.pos >= len(p.data) {
		return true, p.errf("unexpected end of input, expected ',' or '%c'", closer)
	}
	switch p.data[p.pos] {
	case ',':
		p.pos++
		return false, nil
	case closer:
		p.pos++
		p.depth--
		v.end = p.pos
		return true, nil
	}
	return true, p.errf("unexpected %s, expected ',' or '%c'", p.describe(), closer)
}

func (p *jsonParser) array() (*jsonValue, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	v := &jsonValue{kind: jArray, start: p.pos}
	p.pos++ // '['
	p.ws()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		v.end = p.pos
		return v, nil
	}
	for {
		p.ws()
		e, err := p.value()
		if err != nil {
			return nil, err
		}
		v.elems = append(v.elems, e)
		if done, err := p.next(v, ']'); err != nil {
			return nil, err
		} else if done {
			return v, nil
		}
	}
}

func (p *jsonParser) number() (*jsonValue, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	if p.pos < len(p.data) && p.data[p.pos] == '0' {
		p.pos++
	} else if digits() == 0 {
		return nil, p.errf("invalid number, expected a digit")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.errf("invalid number, expected a digit after '.'")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.errf("invalid number, expected a digit in the exponent")
		}
	}
	return &jsonValue{kind: jNumber, str: string(p.data[start:p.pos]), start: start, end: p.pos}, nil
}

// string parses a JSON string starting at the opening quote. It reports whether an
// escaped unpaired surrogate was replaced with U+FFFD.
func (p *jsonParser) string() (string, bool, error) {
	p.pos++ // opening quote
	// Fast path: no escapes.
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			if !utf8.Valid(s) {
				return "", false, p.invalidUTF8(start)
			}
			p.pos++
			return string(s), false, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.pos++
	}
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	bad := false
	for {
		if p.pos >= len(p.data) {
			return "", false, p.errf("unexpected end of input inside a string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return "", false, p.invalidUTF8(start)
			}
			p.pos++
			return string(buf), bad, nil
		case c < 0x20:
			return "", false, p.errf("unescaped control character 0x%02x inside a string; JSON requires \\u%04x", c, c)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		// Escape sequence.
		p.pos++
		if p.pos >= len(p.data) {
			return "", false, p.errf("unexpected end of input inside an escape sequence")
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", false, err
			}
			if utf16.IsSurrogate(r) {
				if r < 0xDC00 && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					r2, err := p.hex4()
					if err != nil {
						return "", false, err
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						buf = utf8.AppendRune(buf, d)
						continue
					}
					p.pos = save // the second escape is not a low surrogate: reparse it alone
				}
				bad = true
				r = utf8.RuneError
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.pos--
			return "", false, p.errf("invalid escape sequence \\%c", e)
		}
	}
}

func (p *jsonParser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		p.pos = len(p.data)
		return 0, p.errf("unexpected end of input inside a \\u escape")
	}
	n, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 32)
	if err != nil {
		return 0, p.errf("invalid \\u escape, expected four hex digits")
	}
	p.pos += 4
	return rune(n), nil
}

func (p *jsonParser) invalidUTF8(start int) error {
	for i := start; i < len(p.data); {
		r, size := utf8.DecodeRune(p.data[i:])
		if r == utf8.RuneError && size == 1 {
			return &jsonSyntaxError{off: i, msg: "invalid UTF-8; JSON text MUST be encoded as UTF-8 (RFC 8259 §8.1)"}
		}
		i += size
	}
	return &jsonSyntaxError{off: start, msg: "invalid UTF-8 (RFC 8259 §8.1)"}
}
