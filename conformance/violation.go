package conformance

import (
	"fmt"
	"strings"
)

// Severity says how bad a Violation is.
type Severity int

const (
	// SeverityError marks a broken MUST (or MUST NOT) of a specification: the event is not a
	// valid CloudEvent and a receiver may reject it. It is the zero value, so a Violation built
	// without a severity counts as an error.
	SeverityError Severity = iota
	// SeverityWarning marks a broken SHOULD, a legacy form the specification still asks
	// receivers to accept, or a valid construct that common implementations (sdk-go among them)
	// mishandle. An event with only warnings is valid.
	SeverityWarning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Rule is the short, stable code of the rule a Violation breaks. Tools and tests match on it;
// the wording of messages may change, the codes do not.
type Rule string

// The rules this package checks. See the package documentation for which specification text
// each one enforces.
const (
	// RuleRequired: a REQUIRED attribute (id, source, specversion, type) is missing or null.
	RuleRequired Rule = "required"
	// RuleNonEmpty: an attribute that MUST be a non-empty string is empty.
	RuleNonEmpty Rule = "non-empty"
	// RuleNameChars: an attribute name is empty or has characters other than a–z and 0–9
	// (in 0.3 it must also start with a letter), or a protocol key has the wrong prefix.
	RuleNameChars Rule = "name-chars"
	// RuleNameLength: an attribute name is longer than 20 characters (a SHOULD; warning).
	RuleNameLength Rule = "name-length"
	// RuleReserved: an attribute uses a reserved name ("data", or a core attribute name used
	// as an extension).
	RuleReserved Rule = "reserved"
	// RuleType: a value has a type outside the CloudEvents type system, or the wrong type for
	// its attribute (for example a JSON number for "id", or 1.5 for an Integer).
	RuleType Rule = "type"
	// RuleIntegerRange: an Integer is outside the signed 32-bit range.
	RuleIntegerRange Rule = "integer-range"
	// RuleStringChars: a String holds a control character, a Unicode noncharacter or an
	// unpaired surrogate.
	RuleStringChars Rule = "string-chars"
	// RuleURI: a URI-typed value (dataschema, 1.0) is not an absolute URI (RFC 3986 §4.3).
	RuleURI Rule = "uri"
	// RuleURIReference: a URI-reference-typed value (source, 0.3 schemaurl) does not follow
	// RFC 3986 §4.1.
	RuleURIReference Rule = "uri-reference"
	// RuleTimestamp: a Timestamp is not an RFC 3339 date-time.
	RuleTimestamp Rule = "timestamp"
	// RuleMediaType: datacontenttype (or a Content-Type) is not an RFC 2046 media type.
	RuleMediaType Rule = "media-type"
	// RuleBase64: data_base64 (1.0) or base64-encoded data (0.3) is not RFC 4648 base64.
	RuleBase64 Rule = "base64"
	// RuleExclusive: data and data_base64 both appear in one JSON event.
	RuleExclusive Rule = "exclusive"
	// RuleSpecVersion: specversion is not a version this package knows (1.0 or 0.3), or a
	// batch mixes versions.
	RuleSpecVersion Rule = "specversion"
	// RuleDuplicate: an attribute, JSON member or header appears more than once.
	RuleDuplicate Rule = "duplicate"
	// RuleOtherVersion: an attribute that the other specification version defines appears
	// as an extension (for example schemaurl in 1.0, dataschema in 0.3). Warning.
	RuleOtherVersion Rule = "other-version"
	// RuleEncoding: the 0.3 datacontentencoding attribute is not "base64" or is misused.
	RuleEncoding Rule = "encoding"
	// RuleDataFormat: the data does not match its datacontenttype, for example a JSON object
	// as data with datacontenttype text/plain in the JSON format.
	RuleDataFormat Rule = "data-format"
	// RuleJSON: the input is not well-formed JSON (RFC 8259) or not a JSON object.
	RuleJSON Rule = "json"
	// RuleBatch: a batch is not a JSON array or an element is not an object.
	RuleBatch Rule = "batch"
	// RuleHeaderEncoding: a header value breaks the binding's encoding rules (percent
	// encoding, quoted strings, UTF-8, printable ASCII).
	RuleHeaderEncoding Rule = "header-encoding"
	// RuleContentType: datacontenttype is carried in the wrong place (for example a
	// ce-datacontenttype header in HTTP binary mode).
	RuleContentType Rule = "content-type"
	// RuleMode: the message uses a content mode the binding does not allow here (for
	// example a batch over Kafka or a structured Content-Type on a binary message).
	RuleMode Rule = "mode"
	// RulePrefix: AMQP application properties mix the "cloudEvents_" and "cloudEvents:"
	// separators, or use a prefix with the wrong case.
	RulePrefix Rule = "prefix"
	// RuleSize: the event is larger than the 64 KiB intermediaries must forward. Warning.
	RuleSize Rule = "size"
	// RuleInterop: the construct is valid but common implementations (sdk-go in particular)
	// mishandle it. Warning.
	RuleInterop Rule = "interop"
)

// Violation is one broken rule. It implements error; Error returns Message.
type Violation struct {
	// Attribute names the attribute the violation is about ("source", an extension name),
	// or "data", "data_base64", or — for problems with the message rather than an
	// attribute — the header, property or element concerned (for example "Content-Type").
	// It is empty when the whole input is at fault (for example malformed JSON).
	Attribute string
	// Rule is the stable code of the broken rule.
	Rule Rule
	// Severity says whether the event is invalid (SeverityError) or only questionable.
	Severity Severity
	// Section cites the specification text, for example
	// "CloudEvents 1.0 §REQUIRED Attributes" or "HTTP Protocol Binding 1.0 §3.1.3.2".
	// The core specification's headings are not numbered, so its sections are cited by
	// heading; the format and binding documents are cited by number.
	Section string
	// Element is the 1-based position of the event within a batch, or 0 outside a batch.
	Element int
	// Message is the full human-readable text: what is wrong, what is expected, and where
	// the rule comes from.
	Message string
}

// Error returns the violation's message.
func (v Violation) Error() string { return v.Message }

// Violations is a list of violations. It implements error: Error joins the messages.
type Violations []Violation

// Error joins the messages of all the violations with "; ".
func (vs Violations) Error() string {
	msgs := make([]string, len(vs))
	for i, v := range vs {
		msgs[i] = v.Message
	}
	return strings.Join(msgs, "; ")
}

// Unwrap returns every violation as an error, so errors.As can find a single Violation.
func (vs Violations) Unwrap() []error {
	errs := make([]error, len(vs))
	for i, v := range vs {
		errs[i] = v
	}
	return errs
}

// Errors returns the violations of SeverityError, in order.
func (vs Violations) Errors() Violations { return vs.filter(SeverityError) }

// Warnings returns the violations of SeverityWarning, in order.
func (vs Violations) Warnings() Violations { return vs.filter(SeverityWarning) }

func (vs Violations) filter(s Severity) Violations {
	var out Violations
	for _, v := range vs {
		if v.Severity == s {
			out = append(out, v)
		}
	}
	return out
}

// Has reports whether some violation breaks rule r (any severity).
func (vs Violations) Has(r Rule) bool {
	for _, v := range vs {
		if v.Rule == r {
			return true
		}
	}
	return false
}

// Err returns nil if no violation is an error, and otherwise the error-severity violations
// as an error whose message reads "invalid CloudEvent: " followed by their messages.
// Warnings never make Err non-nil.
func (vs Violations) Err() error {
	errs := vs.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &InvalidError{Violations: errs}
}

// InvalidError is the error Reason and Violations.Err return for an invalid event. Its
// Violations are all of SeverityError.
type InvalidError struct {
	Violations Violations
}

// Error returns "invalid CloudEvent: " and the joined messages of the violations.
func (e *InvalidError) Error() string { return "invalid CloudEvent: " + e.Violations.Error() }

// Unwrap returns the individual violations, so errors.As can find a Violation.
func (e *InvalidError) Unwrap() []error { return e.Violations.Unwrap() }
