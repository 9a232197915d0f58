package platformconf

import (
	"fmt"
	"strconv"
	"strings"
)

// allCases returns every case of the suite, in the order they start.
func allCases() []testCase {
	return []testCase{
		// The slow ones first, to overlap with the rest: the restart cases start platforms of
		// their own; the source case waits the full timeout while sources are not reconciled.
		{"R55/SourceKindsDuckShape", testSourceKinds},
		{"R24/BrokerAckedEventSurvivesRestart", testBrokerDurable},
		{"R27/ChannelAckedEventSurvivesRestart", testChannelDurable},

		// A. Data plane: delivery from Eddy to subscribers.
		{"R1/RepliesReadInBothModes", testRepliesBothModes},
		{"R2/DeliveredWithPOST", testDeliveredWithPOST},
		{"R4/StatusTable", testStatusTable},
		{"R5/DuplicatesAccepted", testDuplicatesAccepted},
		{"R6/ExponentialBackoff", testExponentialBackoff},
		{"R6/RetryAfterHonoured", testRetryAfter},
		{"R8/PreferReply", testPreferReply},
		{"R8/Reply202NotRouted", testReply202NotRouted},

		// B. Control plane: lifecycle.
		{"R9/BrokerAddressable", testBrokerAddressable},
		{"R10/TriggersBelongToTheirBroker", testTriggersBelongToBroker},
		{"R11/DeadLetterSinkURIBeforeReady", testDLSResolved},
		{"R11/UnresolvableDeadLetterSinkNotReady", testDLSUnresolvable},
		{"R12/BrokerClassImmutable", testBrokerClassImmutable},
		{"R12/BrokerConfigImmutable", testBrokerConfigImmutable},
		{"R13/TriggerBeforeBroker", testTriggerBeforeBroker},
		{"R13/TriggerOfUnreadyBroker", testTriggerOfUnreadyBroker},
		{"R14/SubscriberURIResolved", testTriggerSubscriberURI},
		{"R14/UnresolvableSubscriber", testTriggerUnresolvableSubscriber},
		{"R14/SubscriberBecomesUnresolvable", testTriggerSubscriberBecomesUnresolvable},
		{"R15/TriggerBrokerImmutable", testTriggerBrokerImmutable},
		{"R15/SubscriberAndFilterMutable", testTriggerMutable},
		{"R16/TriggerReadyMeansSubscribed", testTriggerReadyMeansSubscribed},
		{"R17/ChannelAddressable", testChannelAddressable},
		{"R17/SubscriptionReadyMeansSubscribed", testSubscriptionReadyMeansSubscribed},
		{"R18/ChannelTemplateImmutable", testChannelTemplateImmutable},
		{"R19/SubscriptionBeforeChannel", testSubscriptionBeforeChannel},
		{"R19/ChannelInOtherNamespaceRejected", testSubscriptionOtherNamespace},
		{"R20/PhysicalSubscriptionResolved", testPhysicalSubscription},
		{"R20/UnresolvableReply", testSubscriptionUnresolvableReply},
		{"R20/ReplyBecomesUnresolvable", testSubscriptionReplyBecomesUnresolvable},
		{"R21/NeitherSubscriberNorReplyRejected", testSubscriptionNeedsDestination},
		{"R21/NoReplyDiscardsReplies", testSubscriptionNoReply},
		{"R22/SubscriptionChannelImmutable", testSubscriptionChannelImmutable},
		{"R23/RefToAddressable", testRefToAddressable},
		{"R23/RefWithRelativeURI", testRefRelativeURI},
		{"R23/CoreServiceRef", testCoreServiceRef},

		// C. Event routing.
		{"R25/EachMatchingTriggerDelivers", testEachTriggerDelivers},
		{"R26/ReplyEvaluatedByEveryTrigger", testReplyReevaluated},
		{"R27/EachSubscriptionDelivers", testEachSubscriptionDelivers},
		{"R28.2/LinearBackoffIsConstant", testLinearBackoff},
		{"R28.4/SubscriptionReplyToReplyURI", testSubscriptionReply},
		{"R28.5/ReplyFailureRetriesDelivery", testReplyFailureRetries},
		{"R28.6/DeadLetterErrorExtensions", testDeadLetterExtensions},
		{"R28.6/DeadLetterSinkRetried", testDeadLetterRetried},
		{"R28.6/FailedReplyDeadLettered", testFailedReplyDeadLettered},
		{"R28.6/NoDeadLetterSinkDrops", testNoDLSDrops},
		{"R29/SubscriptionDeliveryReplacesChannels", testSubscriptionDeliveryPrecedence},
		{"R29/ChannelDeliveryApplies", testChannelDeliveryApplies},
		{"R29/TriggerDeliveryReplacesBrokers", testTriggerDeliveryPrecedence},
		{"R30/FilterExactMatch", testFilters},
		{"R31/ConditionsShape", testConditionsShape},
		{"R31/ObservedGenerationWithConditions", testObservedGeneration},

		// D. Channel ingress and egress.
		{"R32/ChannelAcceptsCloudEvents03", testChannelAccepts03},
		{"R33/ChannelAcceptsBinaryAndStructured", testChannelModes},
		{"R34/SpecVersionKept", testSpecVersionKept},
		{"R35/ChannelNonPOST405", testChannelNonPOST},
		{"R36/UnknownChannel404", testUnknownChannel},
		{"R36/DeletedChannel404", testDeletedChannel},
		{"R37/ChannelAccepts202", testChannel202},
		{"R38/ChannelInvalid400", testChannelInvalid},
		{"R38/OversizedBody413", testOversized},
		{"R39/ChannelAttributesUnchanged", testChannelAttributesUnchanged},
		{"R40/EveryReadySubscriberGetsEvents", testEverySubscriber},
		{"R40/DeletedSubscriptionGetsNothingNew", testDeletedSubscription},
		{"R41/ChannelTraceContext", testChannelTrace},
		{"R42/ChannelShape", testChannelShape},
		{"R42/DiscoveryCategory", testChannelCategory},

		// E. Broker ingress.
		{"R3/OptionsAllowsPOST", testOptions},
		{"R43/BrokerAcceptsBinaryAndStructured", testBrokerModes},
		{"R44/BrokerNonPOST405", testBrokerNonPOST},
		{"R45/BrokerAccepts2xx", testBroker2xx},
		{"R46/BrokerInvalid400", testBrokerInvalid},
		{"R47/BrokerDeliversEventsUnchanged", testBrokerAttributesUnchanged},
		{"R48/NoMatchingTrigger2xx", testNoMatchingTrigger},
		{"R48/DeletedTriggerGetsNothingNew", testDeletedTrigger},
		{"R49/MalformedReplyFails", testMalformedReply},
		{"R50/BrokerTraceContext", testBrokerTrace},
		{"R51/BrokerConformanceScenario", testBR0Scenario},

		// F. Sinks.
		{"R52/DeletedBroker404", testDeletedBroker},
		{"R53/BatchAccepted", testBatch},

		// G, H. Sources.
		{"R56/CeOverridesCannotForgeRequiredAttributes", testSourceOverrides},
		{"R56/CeOverridesApplied", testSourceOverridesApplied},
		{"R59/SourceSendsCloudEvents", testSourceSendsCloudEvents},
		{"R60/ApiServerSourceEventTypes", testApiServerSourceTypes},
		{"R61/ApiServerSourceAttributes", testApiServerSourceAttributes},

		// I. The broker-lifecycle test plan.
		{"R63/TestPlan", testPlan},
	}
}

// YAML builders. Specs are written in YAML flow style, one field a line.

// specYAML indents fields under "spec:".
func specYAML(fields ...string) string {
	if len(fields) == 0 {
		return "spec: {}\n"
	}
	return "spec:\n  " + strings.Join(fields, "\n  ") + "\n"
}

// q quotes a string for YAML.
func q(s string) string { return strconv.Quote(s) }

// uriDest is a Destination with a uri.
func uriDest(u string) string { return "{uri: " + q(u) + "}" }

// refDest is a Destination with a ref to a kind in the case's namespace.
func refDest(k kind, name string) string {
	return fmt.Sprintf("{ref: {apiVersion: %s, kind: %s, name: %s}}", k.APIVersion, k.Kind, q(name))
}

// deliveryYAML is a delivery spec: retry, backoff policy and delay, and a dead-letter sink
// destination ("" for none).
func deliveryYAML(retry int, policy, delay, dls string) string {
	parts := []string{fmt.Sprintf("retry: %d", retry)}
	if policy != "" {
		parts = append(parts, "backoffPolicy: "+policy)
	}
	if delay != "" {
		parts = append(parts, "backoffDelay: "+delay)
	}
	if dls != "" {
		parts = append(parts, "deadLetterSink: "+dls)
	}
	return "delivery: {" + strings.Join(parts, ", ") + "}"
}

// fastRetry is a delivery spec that retries n times 10ms apart (linear), with dls.
func fastRetry(n int, dls string) string { return deliveryYAML(n, "linear", "PT0.01S", dls) }

// mkBroker creates a Broker with the spec fields and returns its address once it is Ready.
func (t *caseT) mkBroker(name string, fields ...string) string {
	t.Helper()
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: {name: %s}\n%s", q(name), specYAML(fields...))
	return t.address(kindBroker, name)
}

// mkTrigger creates a Trigger of broker with the spec fields and waits for it to be Ready.
func (t *caseT) mkTrigger(name, broker string, fields ...string) {
	t.Helper()
	t.apply("apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: {name: %s}\n%s", q(name),
		specYAML(append([]string{"broker: " + q(broker)}, fields...)...))
	t.ready(kindTrigger, name)
}

// mkChannel creates a Channel with the spec fields and returns its address once it is Ready.
func (t *caseT) mkChannel(name string, fields ...string) string {
	t.Helper()
	t.apply("apiVersion: messaging.knative.dev/v1\nkind: Channel\nmetadata: {name: %s}\n%s", q(name), specYAML(fields...))
	return t.address(kindChannel, name)
}

// channelRef is the spec.channel of a Subscription to Channel name.
func channelRef(name string) string {
	return fmt.Sprintf("channel: {apiVersion: messaging.knative.dev/v1, kind: Channel, name: %s}", q(name))
}

// mkSubscription creates a Subscription to Channel channel with the spec fields and waits for
// it to be Ready.
func (t *caseT) mkSubscription(name, channel string, fields ...string) {
	t.Helper()
	t.apply("apiVersion: messaging.knative.dev/v1\nkind: Subscription\nmetadata: {name: %s}\n%s", q(name),
		specYAML(append([]string{channelRef(channel)}, fields...)...))
	t.ready(kindSubscription, name)
}

// flow is a Channel with one Subscription, or a Broker with one Trigger: the two ways
// events reach a subscriber, for the cases that check both.
type flow struct {
	Name string // "Subscription" or "Trigger"
	// setup creates the addressable and its subscription with the subscription's spec fields
	// and returns the address events are sent to.
	setup func(t *caseT, fields ...string) string
}

// flows are the two delivery paths.
var flows = []flow{
	{"Subscription", func(t *caseT, fields ...string) string {
		addr := t.mkChannel("ch")
		t.mkSubscription("sub", "ch", fields...)
		return addr
	}},
	{"Trigger", func(t *caseT, fields ...string) string {
		addr := t.mkBroker("br")
		t.mkTrigger("tr", "br", fields...)
		return addr
	}},
}

// eachFlow runs f as a subtest for each delivery path.
func (t *caseT) eachFlow(f func(t *caseT, fl flow)) {
	for _, fl := range flows {
		t.Run(fl.Name, func(t *caseT) { f(t, fl) })
	}
}

// subscriber is the spec field of a subscriber at sink s.
func subscriber(s *sink) string { return "subscriber: " + uriDest(s.URL) }

// reply is the spec field of a Subscription's reply to sink s.
func reply(s *sink) string { return "reply: " + uriDest(s.URL) }
