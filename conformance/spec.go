package conformance

// Spec versions this package validates.
const (
	// SpecVersion10 is the specversion value of CloudEvents 1.0.
	SpecVersion10 = "1.0"
	// SpecVersion03 is the specversion value of CloudEvents 0.3.
	SpecVersion03 = "0.3"
)

// attrType is the abstract CloudEvents type of a core attribute, with its constraints.
type attrType int

const (
	tString    attrType = iota // String, MUST be non-empty (id, type, specversion, subject)
	tURIRef                    // URI-reference (source: non-empty; 0.3 schemaurl)
	tURI                       // URI, absolute (1.0 dataschema)
	tTimestamp                 // Timestamp (time)
	tMediaType                 // String per RFC 2046 (datacontenttype)
	tEncoding                  // String per RFC 2045 §6.1, only "base64" (0.3 datacontentencoding)
	tExtension                 // unknown type: any value of the type system
)

// version holds what differs between the specification versions.
type version struct {
	name string
	// core maps each core attribute name to its type.
	core map[string]attrType
	// other maps attribute names the other version defines to a note on their meaning.
	other map[string]string
	// secRequired … cite the core specification.
	secRequired, secOptional, secNaming, secTypes, secExtensions, secContext string
	// secJSONTypes, secJSONData, secJSONEnvelope cite the JSON event format.
	secJSONTypes, secJSONData, secJSONEnvelope string
	// secHTTPValues, secHTTPNames, secHTTPContentType, secHTTPModes cite the HTTP binding.
	secHTTPValues, secHTTPNames, secHTTPContentType, secHTTPModes string
	// legacy is true for 0.3: its type system has no Boolean but has Map, names start with a
	// letter, and binary data is base64 in "data" with datacontentencoding.
	legacy bool
}

var required = []string{"id", "source", "specversion", "type"}

var v10 = &version{
	name: SpecVersion10,
	core: map[string]attrType{
		"id":              tString,
		"source":          tURIRef,
		"specversion":     tString,
		"type":            tString,
		"datacontenttype": tMediaType,
		"dataschema":      tURI,
		"subject":         tString,
		"time":            tTimestamp,
	},
	other: map[string]string{
		"schemaurl":           "schemaurl is the CloudEvents 0.3 name of what 1.0 calls dataschema",
		"datacontentencoding": "datacontentencoding is a CloudEvents 0.3 attribute; 1.0 carries binary data as data_base64 (JSON) or as raw bytes (binary mode)",
	},
	secRequired:        "CloudEvents 1.0 §REQUIRED Attributes",
	secOptional:        "CloudEvents 1.0 §OPTIONAL Attributes",
	secNaming:          "CloudEvents 1.0 §Attribute Naming Convention",
	secTypes:           "CloudEvents 1.0 §Type System",
	secExtensions:      "CloudEvents 1.0 §Extension Context Attributes",
	secContext:         "CloudEvents 1.0 §Context Attributes",
	secJSONTypes:       "JSON Event Format 1.0 §2.2",
	secJSONData:        "JSON Event Format 1.0 §3.1",
	secJSONEnvelope:    "JSON Event Format 1.0 §3",
	secHTTPValues:      "HTTP Protocol Binding 1.0 §3.1.3.2",
	secHTTPNames:       "HTTP Protocol Binding 1.0 §3.1.3.1",
	secHTTPContentType: "HTTP Protocol Binding 1.0 §3.1.1",
	secHTTPModes:       "HTTP Protocol Binding 1.0 §3",
}

var v03 = &version{
	name: SpecVersion03,
	core: map[string]attrType{
		"id":                  tString,
		"source":              tURIRef,
		"specversion":         tString,
		"type":                tString,
		"datacontenttype":     tMediaType,
		"datacontentencoding": tEncoding,
		"schemaurl":           tURIRef,
		"subject":             tString,
		"time":                tTimestamp,
	},
	other: map[string]string{
		"dataschema": "dataschema is the CloudEvents 1.0 name of what 0.3 calls schemaurl",
	},
	secRequired:        "CloudEvents 0.3 §REQUIRED Attributes",
	secOptional:        "CloudEvents 0.3 §OPTIONAL Attributes",
	secNaming:          "CloudEvents 0.3 §Attribute Naming Convention",
	secTypes:           "CloudEvents 0.3 §Type System",
	secExtensions:      "CloudEvents 0.3 §Extension Context Attributes",
	secContext:         "CloudEvents 0.3 §Context Attributes",
	secJSONTypes:       "JSON Event Format 0.3 §2.2",
	secJSONData:        "JSON Event Format 0.3 §3.1",
	secJSONEnvelope:    "JSON Event Format 0.3 §3",
	secHTTPValues:      "HTTP Transport Binding 0.3 §3.1.3.2",
	secHTTPNames:       "HTTP Transport Binding 0.3 §3.1.3.1",
	secHTTPContentType: "HTTP Transport Binding 0.3 §3.1.1",
	secHTTPModes:       "HTTP Transport Binding 0.3 §3",
	legacy:             true,
}

// jsonDataSec cites a subsection of the JSON format's "data" section; 0.3 has none.
func (v *version) jsonDataSec(sub string) string {
	if v.legacy {
		return v.secJSONData
	}
	return v.secJSONData + sub
}

// versionOf returns the rules for a specversion value, or nil.
func versionOf(sv string) *version {
	switch sv {
	case SpecVersion10:
		return v10
	case SpecVersion03:
		return v03
	}
	return nil
}

// Sections of documents that do not differ between the versions this package checks.
const (
	secJSONBatch     = "JSON Event Format 1.0 §4"
	secKafkaModes    = "Kafka Protocol Binding 1.0 §3"
	secKafkaNoBatch  = "Kafka Protocol Binding 1.0 §1.3"
	secKafkaHeaders  = "Kafka Protocol Binding 1.0 §3.2.3"
	secKafkaNames    = "Kafka Protocol Binding 1.0 §3.2.3.1"
	secKafkaCT       = "Kafka Protocol Binding 1.0 §3.2.1"
	secAMQPModes     = "AMQP Protocol Binding 1.0 §3"
	secAMQPNoBatch   = "AMQP Protocol Binding 1.0 §1.3"
	secAMQPHeaders   = "AMQP Protocol Binding 1.0 §3.1.3"
	secAMQPNames     = "AMQP Protocol Binding 1.0 §3.1.3.1"
	secAMQPValues    = "AMQP Protocol Binding 1.0 §3.1.3.2"
	secHTTPBatchMode = "HTTP Protocol Binding 1.0 §3.3"
	secSpecBatch     = "CloudEvents 1.0 §Message (batch-mode message)"
	secSize          = "CloudEvents 1.0 §Size Limits"
	secRFC8259       = "RFC 8259 (JSON)"
)

// maxNameLength is the length attribute names SHOULD NOT exceed.
const maxNameLength = 20

// sizeLimit is the event size intermediaries MUST forward (CloudEvents §Size Limits).
const sizeLimit = 64 * 1024
