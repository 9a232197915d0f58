package stub

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/eddyplatform/eddy/bus"
)

// A record is one event in a segment, framed so that a torn or corrupt
// record is detected:
//
//	frame  = length uint32 | crc uint32 | body           (little endian)
//	body   = version uint8 | offset uint64 | time int64 | keyLen uint16 | key | event
//
// length counts the bytes of body, crc is the CRC-32C (Castagnoli) of body,
// time is when the bus stored the record (Unix nanoseconds), key is the
// event's partition key and event is the CloudEvent in structured JSON.
const (
	frameHeaderLen = 8
	bodyFixedLen   = 1 + 8 + 8 + 2
	recordVersion  = 1
	maxKeyLen      = 1<<16 - 1
	// recordOverhead is how many bytes framing adds to an event and its key.
	recordOverhead = frameHeaderLen + bodyFixedLen
	// maxBody is the largest body a reader accepts. It does not depend on
	// Config.MaxEventBytes, so lowering that never makes old records
	// unreadable.
	maxBody = bodyFixedLen + maxKeyLen + maxEventLimit
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShortRecord: the buffer ends inside the record; read more.
	errShortRecord = errors.New("stub: short record")
	// errCorruptRecord: the bytes are not a valid record.
	errCorruptRecord = errors.New("stub: corrupt record")
)

// record is a decoded record. key and data alias the decoded buffer.
type record struct {
	offset int64
	time   int64
	key    []byte
	data   []byte
}

// appendRecord appends the framed record of ev to dst, with offset, time and
// checksum left for stampRecord. It returns ErrInvalidEvent-wrapped errors
// for events that cannot be stored, and ErrEventTooLarge when the event's
// JSON exceeds maxEvent bytes.
func appendRecord(dst []byte, ev *event.Event, maxEvent int) ([]byte, error) {
	if ev == nil {
		return dst, fmt.Errorf("%w: nil event", bus.ErrInvalidEvent)
	}
	if err := ev.Validate(); err != nil {
		return dst, fmt.Errorf("%w: %v", bus.ErrInvalidEvent, err)
	}
	ev = readable(ev)
	if dataMustBeJSON(ev) && !json.Valid(ev.DataEncoded) {
		return dst, fmt.Errorf("%w: event %q: data is not valid JSON but its content type says JSON", bus.ErrInvalidEvent, ev.ID())
	}
	key := bus.PartitionKey(ev)
	if len(key) > maxKeyLen {
		// Cutting a key merges it with others sharing the prefix: order is
		// kept, only parallelism lost.
		key = key[:maxKeyLen]
	}
	start := len(dst)
	dst = append(dst, make([]byte, recordOverhead)...)
	dst = append(dst, key...)
	w := appender{b: dst}
	if err := event.WriteJson(ev, &w); err != nil {
		return dst[:start], fmt.Errorf("%w: %v", bus.ErrInvalidEvent, err)
	}
	dst = w.b
	size := len(dst) - start - recordOverhead - len(key)
	if size > maxEvent {
		return dst[:start], fmt.Errorf("%w: event %q is %d bytes, limit %d", bus.ErrEventTooLarge, ev.ID(), size, maxEvent)
	}
	h := dst[start:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(h)-frameHeaderLen))
	h[frameHeaderLen] = recordVersion
	binary.LittleEndian.PutUint16(h[frameHeaderLen+17:], uint16(len(key)))
	return dst, nil
}

// stampRecord sets the offset and time of the framed record at the start of
// b and fills in its checksum. It returns the frame's length.
func stampRecord(b []byte, offset, time int64) int {
	n := int(binary.LittleEndian.Uint32(b))
	body := b[frameHeaderLen : frameHeaderLen+n]
	binary.LittleEndian.PutUint64(body[1:], uint64(offset))
	binary.LittleEndian.PutUint64(body[9:], uint64(time))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(body, castagnoli))
	return frameHeaderLen + n
}

// encodeRecord returns the framed record of r; used by tests and tools.
func encodeRecord(r record) []byte {
	b := make([]byte, recordOverhead, recordOverhead+len(r.key)+len(r.data))
	b = append(append(b, r.key...), r.data...)
	binary.LittleEndian.PutUint32(b, uint32(len(b)-frameHeaderLen))
	b[frameHeaderLen] = recordVersion
	binary.LittleEndian.PutUint16(b[frameHeaderLen+17:], uint16(len(r.key)))
	stampRecord(b, r.offset, r.time)
	return b
}

// decodeRecord decodes the record at the start of b, whose body may be at
// most maxBody bytes. It returns the record and the frame's length, or
// errShortRecord if b ends inside a plausible record, or errCorruptRecord.
func decodeRecord(b []byte, maxBody int) (record, int, error) {
	if len(b) < frameHeaderLen {
		return record{}, 0, errShortRecord
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < bodyFixedLen || n > maxBody {
		return record{}, 0, errCorruptRecord
	}
	if len(b) < frameHeaderLen+n {
		return record{}, 0, errShortRecord
	}
	body := b[frameHeaderLen : frameHeaderLen+n]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[4:]) || body[0] != recordVersion {
		return record{}, 0, errCorruptRecord
	}
	r := record{
		offset: int64(binary.LittleEndian.Uint64(body[1:])),
		time:   int64(binary.LittleEndian.Uint64(body[9:])),
	}
	k := int(binary.LittleEndian.Uint16(body[17:]))
	if bodyFixedLen+k > n || r.offset < 0 {
		return record{}, 0, errCorruptRecord
	}
	r.key = body[bodyFixedLen : bodyFixedLen+k]
	r.data = body[bodyFixedLen+k:]
	return r, frameHeaderLen + n, nil
}

// decodeEvent decodes a record's event.
func decodeEvent(data []byte) (*event.Event, error) {
	ev := &event.Event{}
	if err := ev.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return ev, nil
}

// readable returns ev, or a copy that the SDK reads back as it was written.
//
// The SDK writes data as raw JSON when the media type, lowercased, is a JSON
// one, but reads it back as raw JSON only if the media type is one as it
// stands: "Application/JSON" data would be written as JSON and read as a
// string, or not at all. Media types are case-insensitive, so the copy's
// lowercased datacontenttype means the same. And empty JSON data would be
// written as nothing at all (`"data":}`): the copy has no data instead.
func readable(ev *event.Event) *event.Event {
	if ev.DataEncoded == nil {
		return ev
	}
	ct := ev.DataContentType()
	typ, params, hasParams := strings.Cut(ct, ";")
	written := strings.ToLower(strings.TrimSpace(typ))
	read := ct
	if hasParams {
		read = strings.TrimSpace(typ)
	}
	mismatch := isJSONMediaType(written) != isJSONMediaType(read)
	empty := len(ev.DataEncoded) == 0 && isJSONMediaType(written) && !ev.DataBase64
	if !mismatch && !empty {
		return ev
	}
	c := *ev
	if empty {
		c.DataEncoded = nil
	}
	if mismatch {
		norm := written
		if hasParams {
			norm += ";" + params
		}
		c.Context = ev.Context.Clone()
		_ = c.Context.SetDataContentType(norm)
	}
	return &c
}

// isJSONMediaType is the SDK's test (event.isJSON) for a media type whose
// data goes into structured JSON as it is.
func isJSONMediaType(mt string) bool {
	switch mt {
	case "", event.ApplicationJSON, event.TextJSON, event.ApplicationCloudEventsJSON, event.ApplicationCloudEventsBatchJSON:
		return true
	}
	return false
}

// dataMustBeJSON reports whether the SDK writes ev's data into structured
// JSON as it is, which then must be valid JSON.
func dataMustBeJSON(ev *event.Event) bool {
	if len(ev.DataEncoded) == 0 {
		return false
	}
	base64 := ev.DataBase64
	if ev.SpecVersion() == event.CloudEventsVersionV03 {
		base64 = ev.Context.DeprecatedGetDataContentEncoding() != ""
	}
	if base64 {
		return false
	}
	typ, _, _ := strings.Cut(ev.DataContentType(), ";")
	return isJSONMediaType(strings.ToLower(strings.TrimSpace(typ)))
}

// appender is an io.Writer that appends to a byte slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}
