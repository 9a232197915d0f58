package conformance

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file holds the checks of single values against the CloudEvents type system. Each
// check returns "" when the value is fine, or a phrase saying what is wrong.

// checkName checks an attribute name against the naming convention of v. It returns the
// problem, or "".
func checkName(name string, v *version) string {
	if name == "" {
		return "attribute names MUST NOT be empty"
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return fmt.Sprintf("the name has %s at position %d; attribute names MUST consist of lower-case letters a–z and digits 0–9 only", describeByte(name, i), i+1)
		}
	}
	if v.legacy && (name[0] < 'a' || name[0] > 'z') {
		return "CloudEvents 0.3 attribute names MUST begin with a lower-case letter"
	}
	return ""
}

func describeByte(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == utf8.RuneError:
		return fmt.Sprintf("byte 0x%02x", s[i])
	case r >= 'A' && r <= 'Z':
		return fmt.Sprintf("the upper-case letter %q", r)
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf("the control character %U", r)
	}
	return fmt.Sprintf("%q", r)
}

// checkStringChars checks that s is a valid CloudEvents String: valid UTF-8 without control
// characters (U+0000–U+001F, U+007F–U+009F), noncharacters or surrogates.
func checkStringChars(s string) string {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Sprintf("byte %d is not valid UTF-8", i+1)
		case r <= 0x1f || (r >= 0x7f && r <= 0x9f):
			return fmt.Sprintf("it contains the control character %U at byte %d; Strings MUST NOT contain U+0000–U+001F or U+007F–U+009F", r, i+1)
		case isNoncharacter(r):
			return fmt.Sprintf("it contains the Unicode noncharacter %U at byte %d, which Strings MUST NOT contain", r, i+1)
		}
		i += size
	}
	return ""
}

func isNoncharacter(r rune) bool {
	return (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE
}

// quote renders a value for a message, shortened if long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// --- URIs (RFC 3986) ---

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

func isSubDelim(c byte) bool {
	return strings.IndexByte("!$&'()*+,;=", c) >= 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// checkChars checks that s consists of unreserved, sub-delims, pct-encoded and the bytes in
// extra. what names the component for messages.
func checkChars(s, extra, what string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isUnreserved(c) || isSubDelim(c) || strings.IndexByte(extra, c) >= 0:
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return fmt.Sprintf("the %s has a '%%' at byte %d that does not start a %%XX escape", what, i+1)
			}
			i += 2
		default:
			return fmt.Sprintf("the %s has %s, which RFC 3986 does not allow there unescaped", what, describeByte(s, i))
		}
	}
	return ""
}

// schemeEnd returns the index of the ':' that ends a valid scheme at the start of s, or -1.
func schemeEnd(s string) int {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return -1
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.':
		case c == ':':
			return i
		default:
			return -1
		}
	}
	return -1
}

// checkURIReference checks s against RFC 3986 §4.1 URI-reference. It reports whether s has
// a scheme (is a URI rather than a relative reference) and whether it has a fragment.
func checkURIReference(s string) (problem string, absolute, fragment bool) {
	rest := s
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		fragment = true
		if p := checkChars(rest[i+1:], ":@/?", "fragment"); p != "" {
			return p, false, true
		}
		rest = rest[:i]
	}
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		if p := checkChars(rest[i+1:], ":@/?", "query"); p != "" {
			return p, false, fragment
		}
		rest = rest[:i]
	}
	if i := schemeEnd(rest); i >= 0 {
		absolute = true
		rest = rest[i+1:]
	}
	if strings.HasPrefix(rest, "//") {
		rest = rest[2:]
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if p := checkAuthority(rest[:end]); p != "" {
			return p, absolute, fragment
		}
		rest = rest[end:]
	} else if !absolute {
		// path-noscheme: the first segment of a relative reference must not hold a ':'
		// (it would read as a scheme).
		first := rest
		if i := strings.IndexByte(first, '/'); i >= 0 {
			first = first[:i]
		}
		if strings.IndexByte(first, ':') >= 0 {
			return "it has a ':' in its first path segment but does not start with a valid scheme (a letter followed by letters, digits, '+', '-' or '.')", false, fragment
		}
	}
	if p := checkChars(rest, ":@/", "path"); p != "" {
		return p, absolute, fragment
	}
	return "", absolute, fragment
}

func checkAuthority(a string) string {
	if i := strings.IndexByte(a, '@'); i >= 0 {
		if p := checkChars(a[:i], ":", "userinfo"); p != "" {
			return p
		}
		a = a[i+1:]
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "the host starts with '[' but has no closing ']'"
		}
		host, port = a[:end+1], a[end+1:]
		if port != "" {
			if port[0] != ':' {
				return "unexpected characters after the IP literal ']'"
			}
			port = port[1:]
		}
		if p := checkIPLiteral(host[1 : len(host)-1]); p != "" {
			return p
		}
	} else {
		if i := strings.LastIndexByte(a, ':'); i >= 0 {
			host, port = a[:i], a[i+1:]
		}
		if p := checkChars(host, "", "host"); p != "" {
			return p
		}
	}
	for i := 0; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return fmt.Sprintf("the port %s is not a number", quote(port))
		}
	}
	return ""
}

func checkIPLiteral(s string) string {
	if len(s) > 0 && (s[0] == 'v' || s[0] == 'V') { // IPvFuture
		dot := strings.IndexByte(s, '.')
		if dot < 2 || dot == len(s)-1 {
			return "malformed IPvFuture literal"
		}
		for i := 1; i < dot; i++ {
			if !isHex(s[i]) {
				return "malformed IPvFuture literal"
			}
		}
		for i := dot + 1; i < len(s); i++ {
			if !isUnreserved(s[i]) && !isSubDelim(s[i]) && s[i] != ':' {
				return "malformed IPvFuture literal"
			}
		}
		return ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || !addr.Is6() || addr.Zone() != "" || strings.Contains(s, "%") {
		return fmt.Sprintf("%s is not an IPv6 address", quote(s))
	}
	return ""
}

// --- timestamps (RFC 3339 §5.6) ---

// checkTimestamp checks s against RFC 3339 date-time. interop is non-empty when s is valid
// but uses a form (lower-case 't' or 'z', a leap second) that Go's time.Parse, and thus
// sdk-go, rejects.
func checkTimestamp(s string) (problem, interop string) {
	const want = "expected an RFC 3339 date-time such as \"2018-04-05T17:31:00Z\""
	bad := func(what string) (string, string) { return what + "; " + want, "" }
	num := func(from, n int) (int, bool) {
		if from+n > len(s) {
			return 0, false
		}
		v := 0
		for i := from; i < from+n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			v = v*10 + int(s[i]-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	if !ok1 || !ok2 || !ok3 || s[4] != '-' || s[7] != '-' {
		return bad("the date is not YYYY-MM-DD")
	}
	if month < 1 || month > 12 {
		return bad(fmt.Sprintf("month %02d is out of range", month))
	}
	if day < 1 || day > daysIn(year, month) {
		return bad(fmt.Sprintf("day %02d is out of range for %04d-%02d", day, year, month))
	}
	if len(s) < 11 || (s[10] != 'T' && s[10] != 't') {
		return bad("the date must be followed by 'T' and a time")
	}
	hour, ok1 := num(11, 2)
	minute, ok2 := num(14, 2)
	second, ok3 := num(17, 2)
	if !ok1 || !ok2 || !ok3 || s[13] != ':' || s[16] != ':' {
		return bad("the time is not HH:MM:SS")
	}
	if hour > 23 || minute > 59 || second > 60 {
		return bad("the time is out of range")
	}
	i := 19
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			return bad("the fractional seconds have no digits")
		}
	}
	if i >= len(s) {
		return bad("the time zone offset is missing (use 'Z' for UTC)")
	}
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		oh, ok1 := num(i+1, 2)
		om, ok2 := num(i+4, 2)
		if !ok1 || !ok2 || s[i+3] != ':' {
			return bad("the time zone offset is not ±HH:MM")
		}
		if oh > 23 || om > 59 {
			return bad("the time zone offset is out of range")
		}
		i += 6
	default:
		return bad(fmt.Sprintf("unexpected %s where the time zone offset should be", describeByte(s, i)))
	}
	if i != len(s) {
		return bad("unexpected characters after the time zone offset")
	}
	switch {
	case second == 60:
		interop = "the leap second :60 is valid RFC 3339 but Go's time.Parse, and so sdk-go, rejects it"
	case s[10] == 't' || strings.ContainsRune(s[19:], 'z'):
		interop = "lower-case 't' and 'z' are valid RFC 3339 but Go's time.Parse, and so sdk-go, rejects them"
	}
	return "", interop
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// --- media types (RFC 2045 §5.1, RFC 2046) ---

func isTokenChar(c byte) bool {
	return c > 0x20 && c < 0x7f && strings.IndexByte(`()<>@,;:\"/[]?=`, c) < 0
}

func token(s string, i int) int {
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return i
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// checkMediaType checks s against the RFC 2045/2046 media type grammar:
// type "/" subtype *( OWS ";" OWS attribute "=" value ), value a token or quoted-string.
// It returns the lower-cased "type/subtype".
func checkMediaType(s string) (mediaType, problem string) {
	const want = "expected an RFC 2046 media type such as \"application/json\" or \"text/plain; charset=utf-8\""
	e := token(s, 0)
	if e == 0 {
		return "", "it does not start with a type token; " + want
	}
	if e >= len(s) || s[e] != '/' {
		return "", "it has no '/' and subtype; " + want
	}
	e2 := token(s, e+1)
	if e2 == e+1 {
		return "", "the subtype is empty; " + want
	}
	mediaType = strings.ToLower(s[:e2])
	seen := map[string]bool{}
	i := e2
	for {
		if i == len(s) {
			return mediaType, ""
		}
		j := skipWS(s, i)
		if j == len(s) {
			return "", "it ends with white space; " + want
		}
		i = j
		if s[i] != ';' {
			return "", fmt.Sprintf("unexpected %s after %s; %s", describeByte(s, i), quote(s[:i]), want)
		}
		i = skipWS(s, i+1)
		a := token(s, i)
		if a == i {
			return "", "a parameter has no name; " + want
		}
		name := strings.ToLower(s[i:a])
		if seen[name] {
			return "", fmt.Sprintf("the parameter %q appears twice; %s", name, want)
		}
		seen[name] = true
		if a >= len(s) || s[a] != '=' {
			return "", fmt.Sprintf("the parameter %q has no '=' and value; %s", name, want)
		}
		i = a + 1
		if i < len(s) && s[i] == '"' {
			i++
			for {
				if i >= len(s) {
					return "", fmt.Sprintf("the quoted value of parameter %q is not closed; %s", name, want)
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' {
					i++
					if i >= len(s) {
						continue
					}
					c = s[i]
				}
				if c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f {
					return "", fmt.Sprintf("the value of parameter %q has %s; %s", name, describeByte(s, i), want)
				}
				i++
			}
		} else {
			v := token(s, i)
			if v == i {
				return "", fmt.Sprintf("the parameter %q has an empty or invalid value; %s", name, want)
			}
			i = v
		}
	}
}

// isJSONMediaType reports whether a lower-cased type/subtype declares JSON-formatted data:
// "*/json" or "*/*+json" (JSON Event Format §3.1.1).
func isJSONMediaType(mt string) bool {
	i := strings.IndexByte(mt, '/')
	if i < 0 {
		return false
	}
	sub := mt[i+1:]
	return sub == "json" || strings.HasSuffix(sub, "+json")
}

// sdkTreatsAsJSON mirrors sdk-go's (unexported) event.isJSON as applied on decoding: the
// media type up to ';', trimmed, compared case-sensitively with four values.
func sdkTreatsAsJSON(dct string) bool {
	mt := dct
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	switch mt {
	case "application/json", "text/json", "application/cloudevents+json", "application/cloudevents-batch+json", "":
		return true
	}
	return false
}

// mediaTypeInterop returns a warning when sdk-go and the JSON format disagree on whether
// dct declares JSON data.
func mediaTypeInterop(dct, mt string) string {
	spec, sdk := isJSONMediaType(mt), sdkTreatsAsJSON(dct)
	switch {
	case spec && !sdk:
		return fmt.Sprintf("%s declares JSON data (JSON Event Format §3.1.1: */json or */*+json, case-insensitive), but sdk-go compares media types case-sensitively against application/json, text/json and the two cloudevents types, so it reads such data as a string and cannot decode a JSON object or array in \"data\"", quote(dct))
	case !spec && sdk:
		return fmt.Sprintf("sdk-go treats %s as JSON data but the JSON format does not", quote(dct))
	}
	return ""
}

// --- base64 (RFC 4648 §4) ---

// checkBase64 checks that s is canonical base64 with padding and no whitespace.
func checkBase64(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return fmt.Sprintf("it has %s at byte %d, which is not in the base64 alphabet (RFC 4648 §4)", describeByte(s, i), i+1)
		}
	}
	if len(s)%4 != 0 {
		return fmt.Sprintf("its length %d is not a multiple of 4 (base64 with '=' padding, RFC 4648 §4)", len(s))
	}
	// Not Strict(): RFC 4648 §3.5 lets decoders accept non-zero pad bits. Whitespace, which
	// the non-strict decoder would skip, was rejected above.
	if _, err := base64.StdEncoding.DecodeString(s); err != nil {
		return fmt.Sprintf("it is not valid base64 (RFC 4648 §4): %v", err)
	}
	return ""
}

// --- integers ---

// checkJSONInteger checks that a JSON number literal is an Integer of the type system:
// only an integer component with an optional minus sign, within the signed 32-bit range.
func checkJSONInteger(lit string) (Rule, string) {
	digits := strings.TrimPrefix(lit, "-")
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return RuleType, fmt.Sprintf("the number %s is not an Integer; only the integer component, optionally prefixed with a minus sign, is permitted", lit)
		}
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || n < math.MinInt32 || n > math.MaxInt32 {
		return RuleIntegerRange, fmt.Sprintf("the Integer %s is outside the range -2147483648 to 2147483647", lit)
	}
	return "", ""
}
