// Package conformance is Eddy's CloudEvents conformance engine — validation of events against
// the CloudEvents 1.0 and 0.3 specifications, send, listen, invoke and diff. Its sibling
// conformance/platform (package platformconf) is the Knative Eventing conformance suite run
// against a whole platform: channels, brokers, delivery and sources, on every bus.
//
// # Validation
//
// The validators judge an event and return every broken rule as a [Violation]: the attribute
// (or "data", "data_base64", or the header or property at fault), a stable [Rule] code, a
// [Severity], the specification section, and a message that says what is wrong and what is
// expected, for example
//
//	attribute "source": required but missing; every CloudEvent MUST have id, source,
//	specversion and type (CloudEvents 1.0 §REQUIRED Attributes)
//
// The core specification's headings are not numbered, so its sections are cited by heading;
// the JSON format and the protocol bindings are cited by section number.
//
// There are two levels:
//
//   - [Validate] judges an sdk-go [event.Event], after the sdk decoded it. [Reason] wraps it
//     for an ingress: nil for a valid event, else an error listing the error-severity
//     violations, fit for a 400 response.
//   - The raw validators judge what arrived on the wire, before any SDK normalised it:
//     [ValidateStructured] (a JSON event), [ValidateBatch] (a JSON batch),
//     [ValidateBinaryHeaders] (an HTTP binary-mode message), [ValidateHTTP] (any HTTP message;
//     it picks the mode from Content-Type with [DetectMode]), [ValidateKafka] and
//     [ValidateAMQP] (records and messages as the buses write them, over plain Go types).
//
// The raw level sees what decoding hides — duplicate JSON members, null versus absent,
// number literals such as 1.5 or 1e3, unpaired surrogate escapes, invalid UTF-8, header
// percent-encoding — and so is stricter. Use it to judge producers (eddy conformance verify);
// an ingress that decodes with sdk-go first can use [Reason].
//
// An event is valid when it has no violation of [SeverityError]. [SeverityWarning] marks a
// broken SHOULD (names over 20 characters), a legacy form receivers must still accept (raw
// spaces or quoted strings in HTTP headers), an attribute of the other specification version
// used as an extension (schemaurl in 1.0), or a valid construct that sdk-go mishandles
// ([RuleInterop]).
//
// # Rules
//
// For CloudEvents 1.0 and 0.3 alike:
//
//   - id, source, specversion and type are required ([RuleRequired]); id, type, specversion
//     and, when present, subject are non-empty strings, as are source, 1.0 dataschema and
//     datacontenttype ([RuleNonEmpty]); specversion is "1.0" or "0.3" ([RuleSpecVersion]).
//   - Attribute names use only a–z and 0–9, 0.3 names start with a letter ([RuleNameChars]),
//     and SHOULD be at most 20 characters ([RuleNameLength], warning); "data" is reserved
//     ([RuleReserved]); each attribute appears once ([RuleDuplicate]).
//   - Types: source (and 0.3 schemaurl) is an RFC 3986 URI-reference ([RuleURIReference]);
//     1.0 dataschema an absolute URI ([RuleURI]; a fragment is a warning); time an RFC 3339
//     date-time ([RuleTimestamp]); datacontenttype an RFC 2046 media type ([RuleMediaType]);
//     Strings hold no control characters (U+0000–U+001F, U+007F–U+009F), noncharacters or
//     unpaired surrogates ([RuleStringChars]); Integers are integer literals ([RuleType]) in
//     the signed 32-bit range ([RuleIntegerRange]); extension values are of the type system
//     (1.0: Boolean, Integer, String, Binary, URI, URI-reference, Timestamp; 0.3: Integer,
//     String, Binary, Map, URI-reference, Timestamp — a 0.3 Boolean is a warning) ([RuleType]).
//   - JSON format: well-formed UTF-8 JSON without a byte order mark ([RuleJSON]); an object
//     ([RuleJSON]) or, for a batch, an array of objects with one specversion ([RuleBatch],
//     [RuleSpecVersion]); null means unset; data and data_base64 are mutually exclusive
//     ([RuleExclusive]); data_base64 is RFC 4648 base64 ([RuleBase64]); with a datacontenttype
//     that does not declare JSON (*/json or */*+json), data is a string ([RuleDataFormat]).
//   - 0.3 only: datacontentencoding is "base64" ([RuleEncoding]) and then data is a base64
//     string ([RuleBase64]); 1.0's data_base64 is not a 0.3 member ([RuleNameChars]).
//   - HTTP binary mode: header values are decoded as §3.1.3.2 prescribes and the encoding is
//     judged ([RuleHeaderEncoding]); no ce-datacontenttype header ([RuleContentType]); a
//     structured or batch Content-Type is not binary mode ([RuleMode]).
//   - Kafka: ce_ headers with UTF-8 keys and values ([RuleHeaderEncoding]), no batch mode
//     ([RuleMode]). AMQP: one separator per message ([RulePrefix]), native AMQP types or
//     canonical strings ([RuleType]), no batch mode ([RuleMode]).
//   - Events over 64 KiB get a warning ([RuleSize]). Data that does not parse as the JSON its
//     media type declares (binary mode, sdk-go events) gets a warning ([RuleDataFormat]).
//
// Not checked: uniqueness of source+id, the SHOULD of reverse-DNS type names, the types of
// documented extensions (dataref, sampledrate, …), CloudEvents SQL.
//
// # Disagreements with sdk-go
//
// The tests (TestSDKQuirks, TestSDKMarshalRoundTrip, TestSDKHTTPHeaders and the fuzz targets'
// oracles) pin how sdk-go v2.16.2 differs from the specification and from this package.
//
// sdk-go rejects valid events:
//
//   - data_base64 after specversion, with no datacontenttype before it, fails when white
//     space follows the ':' or the string holds an escape: the sdk base64-decodes the raw
//     member text. The spec's own example json-format-11 fails this way. A null data_base64
//     (which means unset) fails too.
//   - A non-string data_base64 before specversion, such as {"data_base64":1,"specversion":
//     "1.0"}, makes the decoder panic (slice bounds out of range).
//   - A JSON datacontenttype in mixed case ("AppliCAtion/json") or of the */*+json form
//     ("application/ld+json") makes the decoder read data as a string, so object or array
//     data fails. The encoder lower-cases before its check, so sdk-go writes events with
//     "AppliCAtion/json" that it cannot read back. This package warns ([RuleInterop]).
//   - 0.3 Map extensions, "Base64" in another case, lower-case 't'/'z' and leap seconds in
//     timestamps (Go's time.Parse), percent-encoded ASCII in URI hosts (Go's url.Parse), a
//     source of "#" (URL.String drops the empty fragment) and whitespace-only id, type,
//     source or subject (the sdk trims) are all refused.
//   - Its HTTP binding refuses a 0.3 binary message with ce-datacontentencoding.
//
// sdk-go accepts invalid events (this package reports them):
//
//   - upper-case attribute names (lower-cased silently), 1.5 as an Integer (truncated),
//     empty subject, time or (before specversion) datacontenttype (read as unset), repeated
//     members (the last wins), control characters and invalid UTF-8 in strings, a source
//     with spaces (rewritten as %20), media types without a subtype, and null data with a
//     non-JSON media type.
//   - An empty member name ends the sdk's decoding loop: it ignores that member and every
//     member after it, whatever they hold.
//   - Its HTTP binding neither percent-decodes ce- header values on receipt nor
//     percent-encodes them when sending, so "Euro €" goes out as raw UTF-8 and
//     "Euro%20%E2%82%AC" comes in verbatim. [ValidateBinaryHeaders] reports the raw UTF-8
//     as an error: keep that in mind before using it on traffic from sdk-go senders.
package conformance
