package pubsub

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Pub/Sub resource ids (the last part of a topic or subscription name) are 3
// to 255 characters from [A-Za-z0-9-_.~+%], start with a letter and do not
// start with "goog". Bus names are 1 to 200 characters from [A-Za-z0-9._-]
// starting with a letter or digit, so
//
//	topic:        <prefix>-<topic>
//	subscription: <prefix>-<topic>~<group>
//
// are valid ids (the prefix starts with a letter, not "goog", and is at most
// MaxTopicPrefixLen long) and map different names to different ids: "~" does
// not occur in bus names, so it separates topic and group unambiguously. A
// subscription id longer than 255 characters keeps its first 222 characters
// and ends with "~" and 32 hex digits of the SHA-256 of "<topic>~<group>".
const (
	maxResourceID = 255
	hashSuffixLen = 1 + 32 // "~" and 32 hex digits
	groupSep      = "~"
	// deletedTopic is the topic Pub/Sub gives subscriptions whose topic was
	// deleted.
	deletedTopic = "_deleted-topic_"
)

// topicID returns the Pub/Sub topic id of a bus topic.
func topicID(prefix, topic string) string {
	return prefix + "-" + topic
}

// subscriptionID returns the Pub/Sub subscription id of a group on a topic.
func subscriptionID(prefix, topic, group string) string {
	id := prefix + "-" + topic + groupSep + group
	if len(id) <= maxResourceID {
		return id
	}
	sum := sha256.Sum256([]byte(topic + groupSep + group))
	return id[:maxResourceID-hashSuffixLen] + groupSep + hex.EncodeToString(sum[:16])
}

// topicName and subscriptionName return full resource names.
func topicName(project, prefix, topic string) string {
	return "projects/" + project + "/topics/" + topicID(prefix, topic)
}

func subscriptionName(project, prefix, topic, group string) string {
	return "projects/" + project + "/subscriptions/" + subscriptionID(prefix, topic, group)
}

// ownedSubscription reports whether a subscription attached to one of the
// bus's topics was made by a bus with this prefix: its id is in the prefix's
// namespace and has a topic~group separator. DeleteTopic deletes those and
// leaves others (made by hand, say) alone, as Pub/Sub does.
func ownedSubscription(prefix, name string) bool {
	id := name[strings.LastIndex(name, "/")+1:]
	return strings.HasPrefix(id, prefix+"-") && strings.Contains(id[len(prefix)+1:], groupSep)
}
