// Package conformance is Eddy's CloudEvents conformance engine — validation of events against
// the CloudEvents 1.0 and 0.3 specifications, send, listen, invoke and diff — and, in
// conformance/platform, the platform's own conformance suites run against its channels and
// brokers.
package conformance
