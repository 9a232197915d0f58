package conformance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Expectation is what a conforming receiver answers to a verify case.
type Expectation int

const (
	// ExpectAccept: a valid event; the receiver MUST accept it with a 2xx status.
	ExpectAccept Expectation = iota
	// ExpectReject: an invalid message; the receiver MUST refuse it with a 4xx status
	// (typically 400 Bad Request). A 2xx loses nothing visible but takes in an event that is
	// not one; a 5xx tells the sender to retry an event that will never be accepted.
	ExpectReject
	// ExpectAcceptOrUnsupported: a valid batch. Batch mode is optional (HTTP Protocol
	// Binding §1.3 asks every implementation to support binary and structured mode only), so
	// a receiver either accepts it (2xx) or refuses the media type with 415 Unsupported
	// Media Type (RFC 9110 §15.5.16). Any other 4xx is a warning: it tells the sender that
	// the events are invalid, which they are not.
	ExpectAcceptOrUnsupported
)

// String describes the expectation, for reports.
func (e Expectation) String() string {
	switch e {
	case ExpectAccept:
		return "2xx (a valid event is accepted)"
	case ExpectReject:
		return "4xx, typically 400 (an invalid message is refused, and not as a server error)"
	case ExpectAcceptOrUnsupported:
		return "2xx, or 415 Unsupported Media Type from a receiver without batch support"
	}
	return fmt.Sprintf("Expectation(%d)", int(e))
}

// ReceiverCase is one HTTP request `eddy conformance verify receiver` sends, with the answer
// a conforming receiver gives.
type ReceiverCase struct {
	// ID names the case; it is also the event's id.
	ID string
	// Description says what the request holds.
	Description string
	// Section is the specification text that decides the answer.
	Section string
	// Expect is the answer a conforming receiver gives.
	Expect Expectation
	// Should marks a case that checks a SHOULD (or a widely expected behaviour the
	// specification does not require): breaking it is a WARN, not a FAIL.
	Should bool
	// Header and Body are the request (always a POST). Header keys are sent as written.
	Header http.Header
	Body   []byte
}

// Specification sections the receiver cases cite.
const (
	secHTTPBinary       = "HTTP Protocol Binding 1.0 §3.1"
	secHTTPBinaryCT     = "HTTP Protocol Binding 1.0 §3.1.1"
	secHTTPBinaryData   = "HTTP Protocol Binding 1.0 §3.1.2"
	secHTTPHeaderNames  = "HTTP Protocol Binding 1.0 §3.1.3.1"
	secHTTPHeaderValues = "HTTP Protocol Binding 1.0 §3.1.3.2"
	secHTTPStructured   = "HTTP Protocol Binding 1.0 §3.2"
	secHTTPStructuredCT = "HTTP Protocol Binding 1.0 §3.2.1"
	secHTTPBatch        = "HTTP Protocol Binding 1.0 §3.3"
	secHTTPModesAll     = "HTTP Protocol Binding 1.0 §1.3, §3"
	secHTTP03Binary     = "HTTP Transport Binding 0.3 §3.1"
	secHTTP03Structured = "HTTP Transport Binding 0.3 §3.2"
	secJSONBase64       = "JSON Event Format 1.0 §3.1"
	secJSONTypes        = "JSON Event Format 1.0 §2.2"
	secJSONNull         = "JSON Event Format 1.0 §3"
	secJSONWellFormed   = "JSON Event Format 1.0 §3 (RFC 8259)"
	secCoreRequired     = "CloudEvents 1.0 §REQUIRED Attributes"
	secCoreTime         = "CloudEvents 1.0 §OPTIONAL Attributes (time)"
	secCoreVersion      = "CloudEvents 1.0 §specversion"
	secCoreStrings      = "CloudEvents 1.0 §Type System (String)"
	secCoreNaming       = "CloudEvents 1.0 §Attribute Naming Convention"
	secCore03Encoding   = "CloudEvents 0.3 §datacontentencoding"
)

const (
	verifySource = "/eddy/conformance/verify"
	verifyType   = "dev.eddy.conformance.verify"
)

// binaryHeaders returns the headers of a binary-mode event: the required attributes, then
// kv pairs (a value of "-" removes a header).
func binaryHeaders(specversion, id string, kv ...string) http.Header {
	h := http.Header{
		"ce-specversion": {specversion},
		"ce-id":          {id},
		"ce-source":      {verifySource},
		"ce-type":        {verifyType},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(h, kv[i])
			continue
		}
		h[kv[i]] = []string{kv[i+1]}
	}
	return h
}

func contentType(ct string) http.Header { return http.Header{"Content-Type": {ct}} }

// jsonEvent returns a JSON-format event with the required attributes and the given members
// (raw JSON text, without braces).
func jsonEvent(specversion, id, members string) string {
	s := fmt.Sprintf(`{"specversion":%q,"id":%q,"source":%q,"type":%q`, specversion, id, verifySource, verifyType)
	if members != "" {
		s += "," + members
	}
	return s + "}"
}

// ReceiverCases returns the cases `eddy conformance verify receiver` runs: valid events in
// binary and structured mode (spec 1.0 and 0.3; percent-encoded and legacy header values,
// data_base64, extensions of every JSON type), batches, and invalid messages a receiver must
// refuse.
func ReceiverCases() []ReceiverCase {
	const structured = "application/cloudevents+json"
	const batch = "application/cloudevents-batch+json"
	bin := func(id, desc, sec string, exp Expectation, body string, kv ...string) ReceiverCase {
		return ReceiverCase{ID: id, Description: desc, Section: sec, Expect: exp, Header: binaryHeaders(SpecVersion10, id, kv...), Body: []byte(body)}
	}
	bin03 := func(id, desc, sec string, exp Expectation, body string, kv ...string) ReceiverCase {
		return ReceiverCase{ID: id, Description: desc, Section: sec, Expect: exp, Header: binaryHeaders(SpecVersion03, id, kv...), Body: []byte(body)}
	}
	str := func(id, desc, sec string, exp Expectation, ct, body string) ReceiverCase {
		return ReceiverCase{ID: id, Description: desc, Section: sec, Expect: exp, Header: contentType(ct), Body: []byte(body)}
	}
	should := func(c ReceiverCase) ReceiverCase { c.Should = true; return c }

	return []ReceiverCase{
		// Binary mode, valid.
		bin("binary-1.0-minimal", "binary mode, CloudEvents 1.0, only the required attributes, no data", secHTTPBinary, ExpectAccept, ""),
		bin("binary-1.0-json-data", "binary mode, 1.0, JSON data with Content-Type application/json, time, subject and dataschema", secHTTPBinaryCT, ExpectAccept, `{"n":1,"s":"x"}`,
			"Content-Type", "application/json", "ce-time", "2018-04-05T17:31:00Z", "ce-subject", "orders/123", "ce-dataschema", "https://example.com/schema.json"),
		bin("binary-1.0-text-data", "binary mode, 1.0, UTF-8 text data (text/plain; charset=utf-8)", secHTTPBinaryData, ExpectAccept, "Hello, 🌎!",
			"Content-Type", "text/plain; charset=utf-8"),
		bin("binary-1.0-binary-data", "binary mode, 1.0, binary data (application/octet-stream) that is not UTF-8", secHTTPBinaryData, ExpectAccept, "\x00\x01\xfe\xff",
			"Content-Type", "application/octet-stream"),
		bin("binary-1.0-percent-encoded", "binary mode, 1.0, percent-encoded header values: ce-subject \"Euro € 😀\" as Euro%20%E2%82%AC%20%F0%9F%98%80, an extension \"100%\" as 100%25", secHTTPHeaderValues, ExpectAccept, "",
			"ce-subject", "Euro%20%E2%82%AC%20%F0%9F%98%80", "ce-comexamplenote", "100%25"),
		bin("binary-1.0-percent-lower-hex", "binary mode, 1.0, percent-encoding with lower-case hex and unnecessary escapes (%45%75%72%6F is \"Euro\"), which decoders MUST accept", secHTTPHeaderValues, ExpectAccept, "",
			"ce-subject", "Euro%20%e2%82%ac", "ce-comexamplename", "%45%75%72%6F"),
		bin("binary-1.0-quoted-string", "binary mode, 1.0, an RFC 7230 quoted-string header value as legacy senders write it: ce-subject: \"a \\\"quoted\\\" value\"", secHTTPHeaderValues, ExpectAccept, "",
			"ce-subject", `"a \"quoted\" value"`),
		bin("binary-1.0-header-case", "binary mode, 1.0, header names in upper and mixed case (CE-SPECVERSION, Ce-Id, …): header names are case-insensitive", secHTTPHeaderNames, ExpectAccept, "",
			"ce-specversion", "-", "ce-id", "-", "ce-source", "-", "ce-type", "-",
			"CE-SPECVERSION", SpecVersion10, "Ce-Id", "binary-1.0-header-case", "CE-Source", verifySource, "cE-tYpE", verifyType),
		bin("binary-1.0-extensions", "binary mode, 1.0, extension attributes: a string, an integer (5) and a boolean (true) in their canonical string forms, and a W3C traceparent", secHTTPHeaderNames, ExpectAccept, "",
			"ce-comexampleextension1", "value", "ce-comexampleothervalue", "5", "ce-exbool", "true", "ce-traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
		bin03("binary-0.3-minimal", "binary mode, CloudEvents 0.3, required attributes plus schemaurl and time", secHTTP03Binary, ExpectAccept, "",
			"ce-schemaurl", "https://example.com/schema.json", "ce-time", "2018-04-05T17:31:00Z"),
		bin03("binary-0.3-json-data", "binary mode, 0.3, JSON data with Content-Type application/json and an extension", secHTTP03Binary, ExpectAccept, `{"n":1}`,
			"Content-Type", "application/json", "ce-comexampleextension1", "value"),

		// Structured mode, valid.
		str("structured-1.0", "structured mode, 1.0, JSON data object with time, subject and dataschema", secHTTPStructured, ExpectAccept, structured,
			jsonEvent(SpecVersion10, "structured-1.0", `"time":"2018-04-05T17:31:00Z","subject":"orders/123","dataschema":"https://example.com/schema.json","datacontenttype":"application/json","data":{"n":1,"s":"x"}`)),
		str("structured-1.0-charset", "structured mode, 1.0, Content-Type with a parameter and in mixed case: Application/CloudEvents+JSON; charset=UTF-8", secHTTPStructuredCT, ExpectAccept, "Application/CloudEvents+JSON; charset=UTF-8",
			jsonEvent(SpecVersion10, "structured-1.0-charset", `"data":{"n":1}`)),
		str("structured-1.0-data_base64", "structured mode, 1.0, binary data as data_base64 with datacontenttype application/octet-stream", secJSONBase64, ExpectAccept, structured,
			jsonEvent(SpecVersion10, "structured-1.0-data_base64", `"datacontenttype":"application/octet-stream","data_base64":"AAEC/w=="`)),
		str("structured-1.0-extensions", "structured mode, 1.0, extensions as JSON string, integer and boolean", secJSONTypes, ExpectAccept, structured,
			jsonEvent(SpecVersion10, "structured-1.0-extensions", `"comexampleextension1":"value","comexampleothervalue":5,"exbool":true`)),
		str("structured-1.0-text-data", "structured mode, 1.0, XML data as a JSON string (datacontenttype text/xml)", secJSONBase64, ExpectAccept, structured,
			jsonEvent(SpecVersion10, "structured-1.0-text-data", `"datacontenttype":"text/xml","data":"<much wow=\"xml\"/>"`)),
		str("structured-1.0-null-attributes", "structured mode, 1.0, optional attributes set to null, which means unset", secJSONNull, ExpectAccept, structured,
			jsonEvent(SpecVersion10, "structured-1.0-null-attributes", `"subject":null,"time":null,"comexampleextension1":null,"data":{"n":1}`)),
		str("structured-0.3", "structured mode, CloudEvents 0.3, base64 data with datacontentencoding", secHTTP03Structured, ExpectAccept, structured,
			jsonEvent(SpecVersion03, "structured-0.3", `"datacontenttype":"application/json","datacontentencoding":"base64","data":"eyJuIjoxfQ=="`)),
		str("structured-0.3-json", "structured mode, 0.3, JSON data object with schemaurl", secHTTP03Structured, ExpectAccept, structured,
			jsonEvent(SpecVersion03, "structured-0.3-json", `"schemaurl":"https://example.com/schema.json","datacontenttype":"application/json","data":{"n":1}`)),

		// Batch mode: optional, so accepted or refused as an unsupported media type.
		str("batch-1.0", "batch mode, two 1.0 events, one with JSON data and one with data_base64", secHTTPBatch, ExpectAcceptOrUnsupported, batch,
			"["+jsonEvent(SpecVersion10, "batch-1.0-a", `"data":{"n":1}`)+","+jsonEvent(SpecVersion10, "batch-1.0-b", `"datacontenttype":"application/octet-stream","data_base64":"AAE="`)+"]"),
		str("batch-1.0-charset", "batch mode, one 1.0 event, with Content-Type application/cloudevents-batch+json; charset=utf-8 as in the binding's own example", secHTTPBatch, ExpectAcceptOrUnsupported, batch+"; charset=utf-8",
			"["+jsonEvent(SpecVersion10, "batch-1.0-charset", `"data":{"n":1}`)+"]"),
		str("batch-0.3", "batch mode, two 0.3 events", secHTTPBatch, ExpectAcceptOrUnsupported, batch,
			"["+jsonEvent(SpecVersion03, "batch-0.3-a", `"data":{"n":1}`)+","+jsonEvent(SpecVersion03, "batch-0.3-b", "")+"]"),
		should(str("batch-empty", "batch mode, the empty batch [] (the JSON batch format allows it)", secHTTPBatch, ExpectAcceptOrUnsupported, batch, "[]")),

		// Invalid: a receiver refuses these.
		bin("binary-1.0-missing-id", "binary mode, 1.0, no ce-id header", secCoreRequired, ExpectReject, "", "ce-id", "-"),
		bin("binary-1.0-missing-source", "binary mode, 1.0, no ce-source header", secCoreRequired, ExpectReject, "", "ce-source", "-"),
		bin("binary-1.0-missing-type", "binary mode, 1.0, no ce-type header", secCoreRequired, ExpectReject, "", "ce-type", "-"),
		bin("binary-unknown-specversion", "binary mode, ce-specversion 9000.1, a version no receiver knows", secCoreVersion, ExpectReject, "", "ce-specversion", "9000.1"),
		bin("binary-1.0-bad-time", "binary mode, 1.0, ce-time \"yesterday\", which is not an RFC 3339 timestamp", secCoreTime, ExpectReject, "", "ce-time", "yesterday"),
		bin("binary-1.0-overlong-utf8", "binary mode, 1.0, ce-subject %C0%A0, whose percent-decoded bytes are overlong UTF-8 and MUST be rejected", secHTTPHeaderValues, ExpectReject, "", "ce-subject", "%C0%A0"),
		bin("binary-1.0-control-char", "binary mode, 1.0, ce-subject a%00b, whose percent-decoded value holds U+0000, a character no String may contain", secCoreStrings, ExpectReject, "", "ce-subject", "a%00b"),
		str("structured-1.0-missing-specversion", "structured mode, an event without specversion", secCoreRequired, ExpectReject, structured,
			`{"id":"structured-1.0-missing-specversion","source":"/eddy/conformance/verify","type":"dev.eddy.conformance.verify"}`),
		str("structured-1.0-empty-id", "structured mode, 1.0, id is the empty string", secCoreRequired, ExpectReject, structured,
			`{"specversion":"1.0","id":"","source":"/eddy/conformance/verify","type":"dev.eddy.conformance.verify"}`),
		str("structured-malformed-json", "structured mode, a body that is not well-formed JSON", secJSONWellFormed, ExpectReject, structured,
			`{"specversion":"1.0","id":"structured-malformed-json",`),
		str("structured-1.0-bad-base64", "structured mode, 1.0, data_base64 that is not base64", secJSONBase64, ExpectReject, structured,
			jsonEvent(SpecVersion10, "structured-1.0-bad-base64", `"data_base64":"not base64!"`)),
		str("structured-1.0-data-and-data_base64", "structured mode, 1.0, both data and data_base64, which MUST NOT appear together", secJSONBase64, ExpectReject, structured,
			jsonEvent(SpecVersion10, "structured-1.0-data-and-data_base64", `"data":{"n":1},"data_base64":"AAE="`)),
		str("structured-1.0-id-not-string", "structured mode, 1.0, id is the JSON number 42, not a string", secJSONTypes, ExpectReject, structured,
			`{"specversion":"1.0","id":42,"source":"/eddy/conformance/verify","type":"dev.eddy.conformance.verify"}`),
		str("structured-1.0-uppercase-name", "structured mode, 1.0, an extension named comExampleValue: attribute names use only a-z and 0-9", secCoreNaming, ExpectReject, structured,
			jsonEvent(SpecVersion10, "structured-1.0-uppercase-name", `"comExampleValue":"x"`)),
		str("structured-0.3-bad-encoding", "structured mode, 0.3, datacontentencoding \"base54\" (only base64 is defined)", secCore03Encoding, ExpectReject, structured,
			jsonEvent(SpecVersion03, "structured-0.3-bad-encoding", `"datacontentencoding":"base54","data":"eyJuIjoxfQ=="`)),
		str("batch-1.0-invalid-element", "batch mode, two events, the second without an id (415 is also fine from a receiver without batch support)", secHTTPBatch, ExpectReject, batch,
			"["+jsonEvent(SpecVersion10, "batch-1.0-invalid-element", "")+`,{"specversion":"1.0","source":"/eddy/conformance/verify","type":"dev.eddy.conformance.verify"}]`),
		should(str("not-a-cloudevent", "a JSON POST with neither ce- headers nor a CloudEvents Content-Type", secHTTPModesAll, ExpectReject, "application/json", `{"hello":"world"}`)),
	}
}

// ReceiverOptions configure VerifyReceiver.
type ReceiverOptions struct {
	// Client sends the requests (nil: a client with a 10s timeout).
	Client *http.Client
	// Cases are the cases to run (nil: ReceiverCases()).
	Cases []ReceiverCase
	// Header is added to every request (for example Authorization).
	Header http.Header
}

// VerifyReceiver sends every case to url, one at a time, and judges each answer with
// JudgeStatus.
func VerifyReceiver(ctx context.Context, url string, opts ReceiverOptions) *Report {
	client := opts.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	cases := opts.Cases
	if cases == nil {
		cases = ReceiverCases()
	}
	rep := &Report{Name: "eddy conformance verify receiver", Target: url}
	start := time.Now()
	for _, c := range cases {
		res := Result{ID: c.ID, Description: c.Description, Section: c.Section, Expectation: c.Expect.String()}
		if c.Should {
			res.Expectation += " [SHOULD]"
		}
		t0 := time.Now()
		code, body, err := sendCase(ctx, client, url, c, opts.Header)
		res.Duration = time.Since(t0)
		if err != nil {
			res.Verdict, res.Why = Fail, "no answer: "+err.Error()
		} else {
			res.Verdict, res.Why = JudgeStatus(c, code, body)
		}
		rep.Results = append(rep.Results, res)
		if ctx.Err() != nil {
			break
		}
	}
	rep.Duration = time.Since(start)
	return rep
}

func sendCase(ctx context.Context, client *http.Client, url string, c ReceiverCase, extra http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(c.Body)))
	if err != nil {
		return 0, "", err
	}
	for k, vs := range extra {
		req.Header[k] = vs
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// JudgeStatus judges the status code a receiver answered to a case (body is the start of
// the answer, quoted in the explanation).
func JudgeStatus(c ReceiverCase, code int, body string) (Verdict, string) {
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	if body != "" {
		if len(body) > 160 {
			body = body[:160] + "…"
		}
		status += ": " + body
	}
	miss := Fail
	if c.Should {
		miss = Warn
	}
	class := code / 100
	switch c.Expect {
	case ExpectAccept:
		switch class {
		case 2:
			return Pass, status
		case 5:
			return Fail, status + " — a valid event was answered with a server error"
		}
		return miss, status + " — a valid event MUST be accepted with 2xx"
	case ExpectAcceptOrUnsupported:
		switch {
		case class == 2:
			return Pass, status
		case code == http.StatusUnsupportedMediaType:
			return Pass, status + " — batch mode is not supported, which the binding allows"
		case class == 4:
			return Warn, status + " — the events are valid; a receiver without batch support should answer 415 Unsupported Media Type"
		case class == 5:
			return Fail, status + " — a valid batch was answered with a server error"
		}
		return miss, status + " — want 2xx, or 415 without batch support"
	case ExpectReject:
		switch {
		case code == http.StatusBadRequest:
			return Pass, status
		case class == 4:
			return Pass, status + " (400 is the usual answer)"
		case class == 2:
			return miss, status + " — an invalid message was accepted; want 4xx (400)"
		case class == 5:
			return Fail, status + " — an invalid message was answered with a server error, which tells the sender to retry; want 4xx (400)"
		}
		return miss, status + " — want 4xx (400)"
	}
	return Fail, "unknown expectation"
}
