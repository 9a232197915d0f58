// Package github is the GitHubSource adapter: an http.Handler that receives GitHub webhook
// deliveries, verifies them and turns each into a CloudEvent handed to a sources.Sender, plus
// the calls that register and remove the webhook through the GitHub REST API.
//
// # Requests
//
// A Receiver serves one source. It answers:
//
//   - 202 "accepted" once the event was mapped and the Sender returned nil;
//   - 200 "pong" to a ping (not forwarded unless "ping" is named in EventTypes; the zen and
//     hook id are logged), and 200 "ignored" to an event type outside EventTypes;
//   - 401 when X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of the raw body under
//     the secret (X-Hub-Signature, SHA-1, alone is not accepted);
//   - 400 for a missing or malformed X-GitHub-Event or X-GitHub-Delivery header, a form body
//     without a payload field, or a payload that is not one JSON object;
//   - 405 for a method other than POST, 413 for a body over MaxBodyBytes (GitHub's 25 MiB by
//     default), 415 for a Content-Type other than application/json or
//     application/x-www-form-urlencoded (GitHub's two delivery formats);
//   - 502 when the Sender failed, 503 when it gave up because the request's context ended (the
//     delivery timed out); GitHub records both as failed deliveries, to be redelivered.
//
// Nothing is sent for a request that is rejected, and every request is counted: received =
// sent + failed + dropped, with dropped broken down by reason (ping, filtered, method,
// too_large, read_error, missing_signature, bad_signature, content_type, missing_event,
// invalid_event, missing_delivery, invalid_delivery, bad_form, malformed_json, unmappable).
//
// # Events
//
// The mapping follows Knative's eventing-github adapter (knative-extensions/eventing-github,
// pkg/common/events.go and the source types), but reads the payload as generic JSON so that an
// event type GitHub adds later, unknown to go-github, still becomes a CloudEvent:
//
//   - id: the X-GitHub-Delivery header;
//   - type: dev.knative.source.github.<X-GitHub-Event>;
//   - source: repository.html_url; else, for organisation-level events, organization.html_url
//     or <WebURL>/<organization.login>; else installation.account.html_url, then
//     enterprise.html_url; else <WebURL>/<OwnerAndRepository>; else WebURL. (Knative always
//     uses https://github.com/<ownerAndRepository>; this is the same for repository hooks.)
//   - subject, as Knative: pull_request, issues and milestone → their number; issue_comment and
//     commit_comment → the last path segment of comment.html_url ("2#issuecomment-1");
//     push → the last path segment of compare ("a10867b14bb7...000000000000"); release →
//     release.tag_name; status → sha; create and delete → ref_type; label → label.name; gollum
//     → the page names joined with ","; ping → hook_id; organization, org_block, project,
//     project_card and project_column → action; public, repository, team_add and watch →
//     repository.id; security_advisory → security_advisory.ghsa_id; the others Knative knows
//     → the numeric id of the event's object (check_run.id, deployment.id, member.id, ...).
//     Event types Knative does not map get the same style (see subjectRules): alerts → their
//     number, discussion_comment → like issue_comment, star and repository_import →
//     repository.id, merge_group → head_sha, and any other event → <event>.id or
//     <event>.number when the payload has an object named after the event. Otherwise the
//     subject is omitted.
//   - datacontenttype application/json, data the payload bytes exactly as GitHub signed them
//     (for a form delivery, the decoded payload field);
//   - no time (Knative sets none);
//   - extensions, where the payload has them, as Knative: owner (repository.owner.login or
//     organization.login), repository (repository.name), sender (sender.login), action,
//     installation (installation.id, as a string); create, delete and push: ref; push: pusher,
//     created, deleted, forced (booleans); issues and pull_request: label, assignee;
//     pull_request: number; label: label; pull_request_review: review (its state); release:
//     release (its name); status: state, name, context; membership: scope.
//
// # Registration
//
// Register creates the repository (owner/repo) or organisation (owner) webhook with go-github,
// content type json, for the given events ("*" when none are given: every event), and returns
// its id; UpdateRegistration edits it (secret rotation, events, callback) and Unregister
// deletes it. A custom APIURL selects GitHub Enterprise (go-github's WithEnterpriseURLs).
package github
