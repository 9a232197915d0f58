package nats

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxToken is the longest token a name maps to before it is shortened with
// a hash. JetStream allows 255 characters in stream and consumer names, and
// the file store makes directories of them; 130 leaves room for the prefixes
// and the ordered groups' partition suffixes.
const maxToken = 128

// token maps a topic or group name ([A-Za-z0-9._-], see bus.ValidateName)
// onto a NATS name token: letters, digits and '-' stay, '_' becomes "__" and
// '.' becomes "_2E", so that the token is a valid stream name, consumer name
// and subject token, and different names never share a token. A token longer
// than maxToken is cut to 96 characters and given "_H" and 32 hex digits of
// the name's SHA-256; such tokens are the only ones longer than maxToken, so
// they cannot equal the token of another name either.
func token(name string) string {
	var b strings.Builder
	b.Grow(len(name) + 8)
	for i := 0; i < len(name); i++ {
		switch c := name[i]; c {
		case '_':
			b.WriteString("__")
		case '.':
			b.WriteString("_2E")
		default:
			b.WriteByte(c)
		}
	}
	t := b.String()
	if len(t) <= maxToken {
		return t
	}
	sum := sha256.Sum256([]byte(name))
	return t[:96] + "_H" + hex.EncodeToString(sum[:16])
}

// naming derives the NATS names of topics and groups from the configured
// prefixes.
type naming struct {
	streamPrefix  string
	subjectPrefix string
}

// stream is the name of the JetStream stream holding topic.
func (n naming) stream(topic string) string { return n.streamPrefix + token(topic) }

// subject is the subject of one partition of topic.
func (n naming) subject(topic string, partition int) string {
	return n.subjectPrefix + "." + token(topic) + "." + strconv.Itoa(partition)
}

// subjects lists the subjects of a topic with the given partitions.
func (n naming) subjects(topic string, partitions int) []string {
	s := make([]string, partitions)
	for i := range s {
		s[i] = n.subject(topic, i)
	}
	return s
}

// consumer is the durable name of an unordered group's consumer.
func consumerName(group string) string { return token(group) }

// partitionConsumer is the durable name of an ordered group's consumer of
// one partition. Group tokens never contain "_P", so these names do not
// collide with an unordered group's.
func partitionConsumer(group string, partition int) string {
	return token(group) + "_P" + strconv.Itoa(partition)
}

// partitionsOf recovers the partition count of a stream from its subjects,
// which New's streams list as <prefix>.<token>.0 ... <prefix>.<token>.N-1. It
// returns 0 if the subjects are not of that form.
func (n naming) partitionsOf(topic string, subjects []string) int {
	if len(subjects) == 0 {
		return 0
	}
	seen := make([]bool, len(subjects))
	base := n.subjectPrefix + "." + token(topic) + "."
	for _, s := range subjects {
		rest, ok := strings.CutPrefix(s, base)
		if !ok {
			return 0
		}
		p, err := strconv.Atoi(rest)
		if err != nil || p < 0 || p >= len(subjects) || seen[p] || strconv.Itoa(p) != rest {
			return 0
		}
		seen[p] = true
	}
	return len(subjects)
}
