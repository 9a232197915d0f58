package rabbitmq

import (
	"crypto/sha256"
	"encoding/hex"
)

// RabbitMQ names (exchanges, queues) are at most 255 bytes. Topic and group
// names are [A-Za-z0-9._-], so "/" and "@" never occur in them and separate
// the parts unambiguously:
//
//	<prefix><topic>                    fanout exchange of the topic
//	<prefix><topic>/<group>            queue of a group
//	<prefix><topic>/@groups            the topic's group registry (a queue)
//	<prefix><topic>/@lock              exclusive queue: lock on the registry
//	<prefix>@dead-letter               dead-letter exchange and queue
//
// A group queue name longer than 255 bytes keeps its first part and ends
// with "~" and 32 hex digits of the SHA-256 of "<topic>/<group>" ("~" occurs
// in no other name).
const (
	maxAMQPName    = 255
	groupSep       = "/"
	registrySuffix = "/@groups"
	lockSuffix     = "/@lock"
	deadLetterName = "@dead-letter"
	hashedMark     = "~"
	hashHexLen     = 32
)

// names maps topic and group names onto RabbitMQ names under a prefix.
type names struct {
	prefix string
}

// exchange is the fanout exchange of topic.
func (n names) exchange(topic string) string { return n.prefix + topic }

// queue is the queue of group on topic.
func (n names) queue(topic, group string) string {
	full := topic + groupSep + group
	if len(n.prefix)+len(full) <= maxAMQPName {
		return n.prefix + full
	}
	sum := sha256.Sum256([]byte(full))
	keep := maxAMQPName - len(n.prefix) - len(hashedMark) - hashHexLen
	return n.prefix + full[:keep] + hashedMark + hex.EncodeToString(sum[:])[:hashHexLen]
}

// registry is the queue holding one record per group of topic.
func (n names) registry(topic string) string { return n.prefix + topic + registrySuffix }

// lock is the exclusive queue that serialises changes to topic's registry.
func (n names) lock(topic string) string { return n.prefix + topic + lockSuffix }

// deadLetter names both the dead-letter exchange and its queue.
func (n names) deadLetter() string { return n.prefix + deadLetterName }
