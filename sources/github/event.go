package github

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cloudevents/sdk-go/v2/event"
	gogithub "github.com/google/go-github/v57/github"

	"github.com/eddyplatform/eddy/sources"
)

const (
	// EventTypePrefix prefixes every CloudEvents type the source emits.
	EventTypePrefix = "dev.knative.source.github."
	// DefaultWebURL is the web address of github.com, the base of the sources derived from
	// an owner or repository name.
	DefaultWebURL = "https://github.com"
)

// eventNameRE is what an X-GitHub-Event value looks like (every GitHub event name is lower
// case words joined by underscores).
var eventNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

// ValidEventName reports whether name has the form of a GitHub event name (lower-case
// letters, digits and underscores, starting with a letter, at most 64 bytes). It does not
// require the event to be one GitHub or go-github knows today.
func ValidEventName(name string) bool { return eventNameRE.MatchString(name) }

// EventType returns the CloudEvents type of the GitHub event ghEvent, for example
// dev.knative.source.github.pull_request.
func EventType(ghEvent string) string { return EventTypePrefix + ghEvent }

// EventSource returns the CloudEvents source of a source watching ownerAndRepository
// ("owner/repo" or "org") on the GitHub instance at webURL (DefaultWebURL when empty), for
// example https://github.com/owner/repo.
func EventSource(webURL, ownerAndRepository string) string {
	base := strings.TrimRight(webURL, "/")
	if base == "" {
		base = DefaultWebURL
	}
	if ownerAndRepository == "" {
		return base
	}
	return base + "/" + ownerAndRepository
}

// ErrMalformedPayload is returned (wrapped) by NewEvent when the payload is not one JSON
// object.
var ErrMalformedPayload = errors.New("payload is not a JSON object")

// MapOptions are the per-source settings the mapping needs.
type MapOptions struct {
	// WebURL is the GitHub web address, DefaultWebURL when empty.
	WebURL string
	// OwnerAndRepository is the source's "owner/repo" or "org", the fallback source for events
	// that name neither a repository nor an organisation.
	OwnerAndRepository string
}

// NewEvent maps one webhook delivery to a CloudEvent: ghEvent is the X-GitHub-Event header,
// deliveryID the X-GitHub-Delivery header and payload the JSON body (see the package
// documentation for the rules). The event's data is payload itself, not a copy. It returns an
// error wrapping ErrMalformedPayload when payload is not a JSON object, and an error when
// ghEvent or deliveryID is unusable or the result is not a valid CloudEvent.
func NewEvent(ghEvent, deliveryID string, payload []byte, opts MapOptions) (event.Event, error) {
	if !ValidEventName(ghEvent) {
		return event.Event{}, errors.New("invalid GitHub event name")
	}
	if deliveryID == "" {
		return event.Event{}, errors.New("empty delivery id")
	}
	p, err := parsePayload(payload)
	if err != nil {
		return event.Event{}, err
	}
	ev := event.New(event.CloudEventsVersionV1)
	ev.SetID(deliveryID)
	ev.SetType(EventType(ghEvent))
	ev.SetSource(p.source(opts))
	if s := subject(ghEvent, p); s != "" && ceString(s) {
		ev.SetSubject(s)
	}
	for _, x := range extensions(ghEvent, p) {
		ev.SetExtension(x.name, x.value)
	}
	ev.SetDataContentType(event.ApplicationJSON)
	ev.DataEncoded = payload
	if err := ev.Validate(); err != nil {
		return event.Event{}, fmt.Errorf("mapping %s delivery: %w", ghEvent, err)
	}
	return ev, nil
}

// EventTypeInfos describes, for the EventType registry, the events a source emits: one per
// entry of eventTypes, or one per event go-github knows when eventTypes is empty or holds "*".
func EventTypeInfos(opts MapOptions, eventTypes []string) []sources.EventTypeInfo {
	names := eventTypes
	for _, t := range eventTypes {
		if t == "*" {
			names = nil
			break
		}
	}
	if len(names) == 0 {
		names = gogithub.MessageTypes()
	}
	src := EventSource(opts.WebURL, opts.OwnerAndRepository)
	out := make([]sources.EventTypeInfo, 0, len(names))
	for _, n := range names {
		out = append(out, sources.EventTypeInfo{
			Type:        EventType(n),
			Source:      src,
			Schema:      "https://docs.github.com/webhooks/webhook-events-and-payloads#" + n,
			Description: "The GitHub webhook event " + n + ", its payload unchanged.",
		})
	}
	return out
}

// payload is a decoded webhook body, one level at a time: values stay raw JSON until a rule
// asks for them.
type payload map[string]json.RawMessage

// parsePayload checks that b is exactly one JSON object and decodes its top level.
func parsePayload(b []byte) (payload, error) {
	if !json.Valid(b) {
		return nil, fmt.Errorf("%w: invalid JSON", ErrMalformedPayload)
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil || p == nil {
		return nil, fmt.Errorf("%w: top level is not an object", ErrMalformedPayload)
	}
	return p, nil
}

// raw returns the raw JSON at path, nil when a step is missing, null or not an object.
func (p payload) raw(path ...string) json.RawMessage {
	cur := p
	for i, k := range path {
		v, ok := cur[k]
		if !ok || isNull(v) {
			return nil
		}
		if i == len(path)-1 {
			return v
		}
		var next payload
		if json.Unmarshal(v, &next) != nil || next == nil {
			return nil
		}
		cur = next
	}
	return nil
}

// str returns the string or number at path as text ("" when absent or of another kind).
func (p payload) str(path ...string) string {
	s, _ := scalar(p.raw(path...))
	return s
}

// scalar renders a JSON string or number as text; ok is false for other kinds.
func scalar(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9'):
		return string(v), true
	}
	return "", false
}

// ceString reports whether s is a CloudEvents String: valid UTF-8 without control characters
// (which could not travel in an HTTP header either). Values that are not are left out.
func ceString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func isNull(v json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(v), []byte("null")) }

// source picks the event's CloudEvents source (see the package documentation).
func (p payload) source(opts MapOptions) string {
	web := strings.TrimRight(opts.WebURL, "/")
	if web == "" {
		web = DefaultWebURL
	}
	if u := p.str("repository", "html_url"); usableURL(u) {
		return u
	}
	if u := p.str("organization", "html_url"); usableURL(u) {
		return u
	}
	if login := p.str("organization", "login"); validLogin(login) {
		return web + "/" + login
	}
	if u := p.str("installation", "account", "html_url"); usableURL(u) {
		return u
	}
	if u := p.str("enterprise", "html_url"); usableURL(u) {
		return u
	}
	return EventSource(web, opts.OwnerAndRepository)
}

// usableURL reports whether s is an absolute URL that a CloudEvents source can carry.
func usableURL(s string) bool {
	if s == "" || len(s) > 2048 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// subjectRule computes an event's subject from its payload; "" omits it.
type subjectRule func(p payload) string

func field(path ...string) subjectRule { return func(p payload) string { return p.str(path...) } }

// lastSegment keeps what follows the last "/" of the URL at path, as Knative does for
// comment.html_url and compare.
func lastSegment(path ...string) subjectRule {
	return func(p payload) string {
		u := p.str(path...)
		if i := strings.LastIndex(u, "/"); i >= 0 {
			return u[i+1:]
		}
		return ""
	}
}

// pageNames joins gollum's pages[].page_name with ",".
func pageNames(p payload) string {
	var pages []payload
	if json.Unmarshal(p.raw("pages"), &pages) != nil {
		return ""
	}
	names := make([]string, 0, len(pages))
	for _, pg := range pages {
		if pg != nil {
			names = append(names, pg.str("page_name"))
		}
	}
	return strings.Join(names, ",")
}

// subjectRules holds the subject of each event type; the first group is Knative's, the
// second extends its choices to event types it does not map.
var subjectRules = map[string]subjectRule{
	// Knative eventing-github.
	"check_run":                             field("check_run", "id"),
	"check_suite":                           field("check_suite", "id"),
	"commit_comment":                        lastSegment("comment", "html_url"),
	"create":                                field("ref_type"),
	"delete":                                field("ref_type"),
	"deployment":                            field("deployment", "id"),
	"deployment_status":                     field("deployment", "id"),
	"discussion":                            field("discussion", "id"),
	"fork":                                  field("forkee", "id"),
	"gollum":                                pageNames,
	"installation":                          field("installation", "id"),
	"installation_repositories":             field("installation", "id"),
	"integration_installation":              field("installation", "id"),
	"integration_installation_repositories": field("installation", "id"),
	"issue_comment":                         lastSegment("comment", "html_url"),
	"issues":                                field("issue", "number"),
	"label":                                 field("label", "name"),
	"member":                                field("member", "id"),
	"membership":                            field("member", "id"),
	"milestone":                             field("milestone", "number"),
	"organization":                          field("action"),
	"org_block":                             field("action"),
	"page_build":                            field("id"),
	"ping":                                  field("hook_id"),
	"project":                               field("action"),
	"project_card":                          field("action"),
	"project_column":                        field("action"),
	"public":                                field("repository", "id"),
	"pull_request":                          field("pull_request", "number"),
	"pull_request_review":                   field("review", "id"),
	"pull_request_review_comment":           field("comment", "id"),
	"push":                                  lastSegment("compare"),
	"release":                               field("release", "tag_name"),
	"repository":                            field("repository", "id"),
	"repository_vulnerability_alert":        field("alert", "id"),
	"security_advisory":                     field("security_advisory", "ghsa_id"),
	"status":                                field("sha"),
	"team":                                  field("team", "id"),
	"team_add":                              field("repository", "id"),
	"watch":                                 field("repository", "id"),

	// Eddy, for event types Knative does not map.
	"branch_protection_rule":          field("rule", "id"),
	"code_scanning_alert":             field("alert", "number"),
	"custom_property":                 field("definition", "property_name"),
	"dependabot_alert":                field("alert", "number"),
	"deploy_key":                      field("key", "id"),
	"deployment_protection_rule":      field("deployment", "id"),
	"deployment_review":               field("workflow_run", "id"),
	"discussion_comment":              lastSegment("comment", "html_url"),
	"marketplace_purchase":            field("marketplace_purchase", "account", "id"),
	"merge_group":                     field("merge_group", "head_sha"),
	"meta":                            field("hook_id"),
	"pull_request_review_thread":      field("pull_request", "number"),
	"repository_dispatch":             field("action"),
	"repository_import":               field("repository", "id"),
	"secret_scanning_alert":           field("alert", "number"),
	"secret_scanning_alert_location":  field("alert", "number"),
	"sponsorship":                     field("sponsorship", "node_id"),
	"star":                            field("repository", "id"),
	"workflow_dispatch":               field("workflow"),
	"installation_target":             field("installation", "id"),
	"github_app_authorization":        func(payload) string { return "" },
	"security_and_analysis":           field("repository", "id"),
	"repository_advisory":             field("repository_advisory", "ghsa_id"),
	"branch_protection_configuration": field("repository", "id"),
	"custom_property_values":          field("repository", "id"),
}

// subject computes the subject of a ghEvent delivery.
func subject(ghEvent string, p payload) string {
	if rule := subjectRules[ghEvent]; rule != nil {
		return rule(p)
	}
	// An event Eddy does not know: the id, else the number, of the object named after it.
	if s := p.str(ghEvent, "id"); s != "" {
		return s
	}
	return p.str(ghEvent, "number")
}

// extension is one CloudEvents extension attribute.
type extension struct {
	name  string
	value any
}

// extensions lists the Knative extension attributes the payload has (see the package
// documentation), in a fixed order.
func extensions(ghEvent string, p payload) []extension {
	var out []extension
	addStr := func(name string, path ...string) {
		if s, ok := scalar(p.raw(path...)); ok && s != "" && ceString(s) {
			out = append(out, extension{name, s})
		}
	}
	addBool := func(name string, path ...string) {
		switch string(bytes.TrimSpace(p.raw(path...))) {
		case "true":
			out = append(out, extension{name, true})
		case "false":
			out = append(out, extension{name, false})
		}
	}
	addInt := func(name string, path ...string) {
		s, ok := scalar(p.raw(path...))
		if !ok || s == "" || !ceString(s) {
			return
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			out = append(out, extension{name, int32(n)})
			return
		}
		out = append(out, extension{name, s})
	}

	if p.raw("repository", "owner", "login") != nil {
		addStr("owner", "repository", "owner", "login")
	} else {
		addStr("owner", "organization", "login")
	}
	addStr("repository", "repository", "name")
	addStr("sender", "sender", "login")
	addStr("action", "action")
	addStr("installation", "installation", "id")

	switch ghEvent {
	case "create", "delete":
		addStr("ref", "ref")
	case "push":
		addStr("ref", "ref")
		addStr("pusher", "pusher", "name")
		addBool("created", "created")
		addBool("deleted", "deleted")
		addBool("forced", "forced")
	case "issues":
		addStr("label", "label", "name")
		addStr("assignee", "assignee", "login")
	case "pull_request":
		addInt("number", "number")
		addStr("label", "label", "name")
		addStr("assignee", "assignee", "login")
	case "label":
		addStr("label", "label", "name")
	case "pull_request_review":
		addStr("review", "review", "state")
	case "release":
		addStr("release", "release", "name")
	case "status":
		addStr("state", "state")
		addStr("name", "name")
		addStr("context", "context")
	case "membership":
		addStr("scope", "scope")
	}
	return out
}
