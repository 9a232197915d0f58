package sources

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// GitHubSourceVersion is the version of GitHubSource, as Knative's eventing-github serves it.
const GitHubSourceVersion = VersionV1alpha1

// DefaultGitHubAPIURL is the GitHub API a GitHubSource talks to when spec.githubAPIURL is
// empty; GitHub Enterprise sets its own (such as https://ghe.example.com/api/v3/).
const DefaultGitHubAPIURL = "https://api.github.com/"

// The CloudEvents attributes of the events a GitHubSource sends, as eventing-github sets them:
// type dev.knative.source.github.<X-GitHub-Event>, source https://github.com/<owner/repo>.
const (
	GitHubEventTypePrefix   = "dev.knative.source.github"
	GitHubEventSourcePrefix = "https://github.com"
)

// GitHubEventType returns the CloudEvents type of a GitHub webhook event, such as
// dev.knative.source.github.pull_request for "pull_request".
func GitHubEventType(ghEventType string) string { return GitHubEventTypePrefix + "." + ghEventType }

// GitHubEventSource returns the CloudEvents source of the events of ownerAndRepository.
func GitHubEventSource(ownerAndRepository string) string {
	return GitHubEventSourcePrefix + "/" + ownerAndRepository
}

// GitHubSource registers a webhook on a GitHub repository or organization and sends the
// webhook deliveries it receives to its sink as CloudEvents.
type GitHubSource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              GitHubSourceSpec   `json:"spec,omitempty"`
	Status            GitHubSourceStatus `json:"status,omitempty"`
}

// GitHubSourceSpec is the desired state of a GitHubSource.
type GitHubSourceSpec struct {
	// ServiceAccountName is the ServiceAccount the receive adapter runs as, "default" when
	// empty.
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// OwnerAndRepository is "owner/repository", or "organization" for every repository of an
	// organization. Required; immutable (the webhook is registered there).
	OwnerAndRepository string `json:"ownerAndRepository"`
	// EventTypes are the GitHub webhook event names to receive (X-GitHub-Event values such
	// as pull_request or push). At least one.
	EventTypes []string `json:"eventTypes"`
	// AccessToken is the Secret key holding a GitHub token allowed to manage webhooks. With
	// it Eddy registers (and on deletion removes) the webhook; without it (unlike Knative,
	// where it is required) you register status.url as the webhook's payload URL yourself.
	AccessToken SecretValueFromSource `json:"accessToken,omitempty"`
	// SecretToken is the Secret key holding the webhook secret that signs deliveries.
	SecretToken SecretValueFromSource `json:"secretToken"`
	// GitHubAPIURL is the GitHub API base URL; defaults to DefaultGitHubAPIURL. Immutable.
	GitHubAPIURL string `json:"githubAPIURL,omitempty"`
	// Secure asks for an https webhook URL (true) or http (false); unset follows the
	// scheme of the receive adapter's URL.
	Secure *bool `json:"secure,omitempty"`
	// SourceSpec holds the sink and the CloudEvents overrides.
	duck.SourceSpec `json:",inline"`
}

// GitHubSourceStatus is the observed state of a GitHubSource.
type GitHubSourceStatus struct {
	duck.SourceStatus `json:",inline"`
	// WebhookIDKey is the ID of the webhook registered on GitHub.
	WebhookIDKey string `json:"webhookIDKey,omitempty"`
	// URL is the address of the source's webhook receiver on Eddy's ingress port: the
	// webhook's payload URL.
	URL string `json:"url,omitempty"`
}

// GetStatus returns the condition-bearing part of the status.
func (s *GitHubSource) GetStatus() *api.Status { return &s.Status.Status }

// Owner returns the owner (user or organization) part of spec.ownerAndRepository.
func (s *GitHubSourceSpec) Owner() string {
	owner, _, _ := strings.Cut(s.OwnerAndRepository, "/")
	return owner
}

// Repository returns the repository part of spec.ownerAndRepository, "" for an organization.
func (s *GitHubSourceSpec) Repository() string {
	_, repo, _ := strings.Cut(s.OwnerAndRepository, "/")
	return repo
}

// APIURL returns spec.githubAPIURL, or DefaultGitHubAPIURL when it is empty.
func (s *GitHubSourceSpec) APIURL() string {
	if s.GitHubAPIURL == "" {
		return DefaultGitHubAPIURL
	}
	return s.GitHubAPIURL
}

// CloudEventAttributes returns the type and source of each event type the source sends, for
// status.ceAttributes.
func (s *GitHubSource) CloudEventAttributes() []duck.CloudEventAttributes {
	out := make([]duck.CloudEventAttributes, 0, len(s.Spec.EventTypes))
	for _, et := range s.Spec.EventTypes {
		out = append(out, duck.CloudEventAttributes{Type: GitHubEventType(et), Source: GitHubEventSource(s.Spec.OwnerAndRepository)})
	}
	return out
}

// SetDefaults sets spec.githubAPIURL and the sink ref's namespace.
func (s *GitHubSource) SetDefaults() {
	if s.Spec.GitHubAPIURL == "" {
		s.Spec.GitHubAPIURL = DefaultGitHubAPIURL
	}
	s.Spec.SourceSpec.SetDefaults(s.Namespace)
}

var (
	// gitHubOwner is a GitHub user or organization login: letters, digits and inner hyphens
	// (GitHub Enterprise also allows underscores), at most 39 characters.
	gitHubOwner = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,37}[A-Za-z0-9])?$`)
	// gitHubRepository is a repository name: letters, digits, '.', '-' and '_', at most 100.
	gitHubRepository = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
)

// ValidateOwnerAndRepository checks an "owner/repository" or "organization" string and returns
// why it is malformed, or "".
func ValidateOwnerAndRepository(s string) string {
	owner, repo, hasRepo := strings.Cut(s, "/")
	switch {
	case !gitHubOwner.MatchString(owner):
		return `must be "owner/repository" or "organization": the owner is a GitHub login (letters, digits and hyphens, at most 39)`
	case hasRepo && (!gitHubRepository.MatchString(repo) || repo == "." || repo == ".."):
		return `must be "owner/repository" or "organization": the repository name has letters, digits, '.', '-' and '_' (at most 100)`
	}
	return ""
}

// Validate checks the spec: ownerAndRepository, eventTypes (GitHub webhook event names, see
// IsGitHubEventType), both Secret references, githubAPIURL, serviceAccountName, the sink and
// the overrides.
func (s *GitHubSource) Validate() field.ErrorList {
	sp := field.NewPath("spec")
	var errs field.ErrorList
	switch {
	case s.Spec.OwnerAndRepository == "":
		errs = append(errs, field.Required(sp.Child("ownerAndRepository"), `"owner/repository" or "organization"`))
	default:
		if msg := ValidateOwnerAndRepository(s.Spec.OwnerAndRepository); msg != "" {
			errs = append(errs, field.Invalid(sp.Child("ownerAndRepository"), s.Spec.OwnerAndRepository, msg))
		}
	}
	if len(s.Spec.EventTypes) == 0 {
		errs = append(errs, field.Required(sp.Child("eventTypes"), "at least one GitHub webhook event name, such as pull_request"))
	}
	seen := map[string]bool{}
	for i, et := range s.Spec.EventTypes {
		p := sp.Child("eventTypes").Index(i)
		switch {
		case seen[et]:
			errs = append(errs, field.Duplicate(p, et))
		case !IsGitHubEventType(et):
			errs = append(errs, field.Invalid(p, et, "not a GitHub webhook event name (an X-GitHub-Event value such as pull_request, push or issues)"))
		}
		seen[et] = true
	}
	errs = append(errs, s.Spec.AccessToken.validate(sp.Child("accessToken"), false, "a GitHub access token")...)
	errs = append(errs, s.Spec.SecretToken.validate(sp.Child("secretToken"), true, "the webhook secret")...)
	errs = append(errs, validateAPIURL(sp.Child("githubAPIURL"), s.Spec.GitHubAPIURL)...)
	errs = append(errs, validateServiceAccountName(sp.Child("serviceAccountName"), s.Spec.ServiceAccountName)...)
	return append(errs, s.Spec.SourceSpec.Validate(sp, s.Namespace)...)
}

// validateAPIURL checks an optional http(s) URL that must not carry credentials; a rejected
// URL is shown without its password.
func validateAPIURL(p *field.Path, s string) field.ErrorList {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, "<unparsable URL>", "must be an http or https URL")}
	case u.User != nil:
		return field.ErrorList{field.Invalid(p, u.Redacted(), "must not carry credentials: the access token comes from spec.accessToken")}
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return field.ErrorList{field.Invalid(p, s, "must be an http or https URL with a host")}
	case u.RawQuery != "" || u.Fragment != "":
		return field.ErrorList{field.Invalid(p, s, "must not have a query or a fragment")}
	}
	return nil
}

// ValidateUpdate rejects a change of spec.ownerAndRepository or spec.githubAPIURL: the
// registered webhook belongs to them (create a new source instead).
func (s *GitHubSource) ValidateUpdate(old *GitHubSource) field.ErrorList {
	sp := field.NewPath("spec")
	errs := apivalidation.ValidateImmutableField(s.Spec.OwnerAndRepository, old.Spec.OwnerAndRepository, sp.Child("ownerAndRepository"))
	return append(errs, apivalidation.ValidateImmutableField(s.Spec.APIURL(), old.Spec.APIURL(), sp.Child("githubAPIURL"))...)
}

// The conditions of a GitHubSource, Knative's names.
const (
	// GitHubSourceConditionSecretsProvided is True when both Secret keys were read.
	GitHubSourceConditionSecretsProvided api.ConditionType = "SecretsProvided"
	// GitHubSourceConditionSinkProvided is True when the sink resolved to a URL.
	GitHubSourceConditionSinkProvided = duck.SourceConditionSinkProvided
	// GitHubSourceConditionWebhookConfigured is True when the webhook is registered on GitHub.
	GitHubSourceConditionWebhookConfigured api.ConditionType = "WebhookConfigured"
)

// GitHubSourceConditionSet is the condition set of a GitHubSource: Ready follows
// SecretsProvided, SinkProvided and WebhookConfigured.
var GitHubSourceConditionSet = api.NewLivingConditionSet(
	GitHubSourceConditionSecretsProvided,
	GitHubSourceConditionSinkProvided,
	GitHubSourceConditionWebhookConfigured,
)

func (s *GitHubSourceStatus) manage() *api.ConditionManager {
	return GitHubSourceConditionSet.Manage(&s.Status)
}

// InitializeConditions sets every missing condition to Unknown.
func (s *GitHubSourceStatus) InitializeConditions() { s.manage().InitializeConditions() }

// IsReady reports whether Ready is True.
func (s *GitHubSourceStatus) IsReady() bool { return s.manage().IsHappy() }

// MarkSecrets records that both Secret keys were read.
func (s *GitHubSourceStatus) MarkSecrets() { s.manage().MarkTrue(GitHubSourceConditionSecretsProvided) }

// MarkNoSecrets records why a Secret key could not be read. The message names the Secret
// and key, never a value.
func (s *GitHubSourceStatus) MarkNoSecrets(reason, format string, args ...any) {
	s.manage().MarkFalse(GitHubSourceConditionSecretsProvided, reason, format, args...)
}

// MarkSink records the resolved sink URL (SinkProvided False with reason SinkEmpty when uri
// is empty).
func (s *GitHubSourceStatus) MarkSink(uri string) {
	markSink(GitHubSourceConditionSet, &s.SourceStatus, uri)
}

// MarkNoSink records why the sink did not resolve.
func (s *GitHubSourceStatus) MarkNoSink(reason, format string, args ...any) {
	markNoSink(GitHubSourceConditionSet, &s.SourceStatus, reason, format, args...)
}

// MarkWebhookConfigured records the ID of the webhook registered on GitHub.
func (s *GitHubSourceStatus) MarkWebhookConfigured(id string) {
	s.WebhookIDKey = id
	s.manage().MarkTrue(GitHubSourceConditionWebhookConfigured)
}

// MarkWebhookNotConfigured records why the webhook could not be registered.
func (s *GitHubSourceStatus) MarkWebhookNotConfigured(reason, format string, args ...any) {
	s.manage().MarkFalse(GitHubSourceConditionWebhookConfigured, reason, format, args...)
}
