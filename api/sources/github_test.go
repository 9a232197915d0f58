package sources_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/sources"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The docs' GitHubSource is rejected for its placeholder repository, with the field path; with
// a real repository it is admitted and defaulted.
func TestKnativeDocsGitHubSource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "knative-docs-github-source.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := reg.DecodeAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if s := mustAdmit(t, objs[0]).(*corev1.Secret); string(s.Data["accessToken"]) != "personal_access_token_value" {
		t.Fatalf("secret %v", s.Data)
	}
	_, _, err = reg.Admit(objs[1])
	expectInvalid(t, "placeholder repository", err, `spec.ownerAndRepository: Invalid value: "<YOUR USER>/<YOUR REPO>"`)

	objs, err = reg.DecodeAll([]byte(strings.Replace(string(data), "ownerAndRepository: <YOUR USER>/<YOUR REPO>", "ownerAndRepository: knative/docs", 1)))
	if err != nil {
		t.Fatal(err)
	}
	gh := mustAdmit(t, objs[1]).(*sources.GitHubSource)
	if gh.Spec.GitHubAPIURL != sources.DefaultGitHubAPIURL || gh.Spec.Owner() != "knative" || gh.Spec.Repository() != "docs" {
		t.Errorf("spec %+v", gh.Spec)
	}
	if gh.Spec.AccessToken.SecretKeyRef.Name != "githubsecret" || gh.Spec.SecretToken.SecretKeyRef.Key != "secretToken" {
		t.Errorf("secret refs %+v %+v", gh.Spec.AccessToken, gh.Spec.SecretToken)
	}
	want := []duck.CloudEventAttributes{{Type: "dev.knative.source.github.pull_request", Source: "https://github.com/knative/docs"}}
	if got := gh.CloudEventAttributes(); len(got) != 1 || got[0] != want[0] {
		t.Errorf("ceAttributes %v", got)
	}
}

// Every event name in octokit's webhook schemas, and every name of Knative's CRD enum, is
// accepted; the 2018 name "pullrequest" and "*" are not.
func TestGitHubEventTypes(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "octokit-webhooks-event-actions.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		event, _, _ := strings.Cut(line, ":")
		n++
		if !sources.IsGitHubEventType(event) {
			t.Errorf("GitHub event %q is rejected", event)
		}
	}
	if n < 60 {
		t.Fatalf("read %d events", n)
	}
	knative := "check_suite,commit_comment,create,delete,deployment,deployment_status,fork,gollum,installation,integration_installation,issue_comment,issues,label,member,membership,milestone,organization,org_block,page_build,ping,project_card,project_column,project,public,pull_request,pull_request_review,pull_request_review_comment,push,release,repository,status,team,team_add,watch"
	for _, event := range strings.Split(knative, ",") {
		if !sources.IsGitHubEventType(event) {
			t.Errorf("Knative's event %q is rejected", event)
		}
	}
	for _, bad := range []string{"pullrequest", "*", "Push", ""} {
		if sources.IsGitHubEventType(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if all := sources.GitHubEventTypes(); len(all) < n || all[0] != "branch_protection_configuration" {
		t.Errorf("GitHubEventTypes() = %v", all)
	}
}

const ghBase = `
apiVersion: sources.knative.dev/v1alpha1
kind: GitHubSource
metadata: {name: gh, namespace: ns}
spec:
  ownerAndRepository: knative/eventing
  eventTypes: [pull_request, push]
  accessToken: {secretKeyRef: {name: gh, key: accessToken}}
  secretToken: {secretKeyRef: {name: gh, key: secretToken}}
  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dumper}}
`

func TestGitHubSourceDefaultsAndOrganization(t *testing.T) {
	obj, err := admit(t, ghBase)
	if err != nil {
		t.Fatal(err)
	}
	gh := obj.(*sources.GitHubSource)
	if gh.Spec.Sink.Ref.Namespace != "ns" || gh.Spec.APIURL() != "https://api.github.com/" {
		t.Errorf("not defaulted: %+v", gh.Spec)
	}
	org, err := admit(t, strings.Replace(ghBase, "knative/eventing", "knative", 1))
	if err != nil {
		t.Fatal(err)
	}
	if s := org.(*sources.GitHubSource).Spec; s.Owner() != "knative" || s.Repository() != "" {
		t.Errorf("organization: %q %q", s.Owner(), s.Repository())
	}
	ghe, err := admit(t, strings.Replace(ghBase, "spec:\n", "spec:\n  githubAPIURL: https://ghe.example.com/api/v3/\n  secure: true\n", 1))
	if err != nil {
		t.Fatal(err)
	}
	if s := ghe.(*sources.GitHubSource).Spec; s.APIURL() != "https://ghe.example.com/api/v3/" || !*s.Secure {
		t.Errorf("enterprise: %+v", s)
	}
}

func TestGitHubSourceValidation(t *testing.T) {
	cases := map[string]struct {
		from, to string
		want     []string
	}{
		"no repository":      {"ownerAndRepository: knative/eventing", "ownerAndRepository: ''", []string{"spec.ownerAndRepository: Required value"}},
		"bad owner":          {"knative/eventing", "-knative/eventing", []string{`spec.ownerAndRepository: Invalid value: "-knative/eventing"`}},
		"bad repository":     {"knative/eventing", "knative/even ting", []string{`spec.ownerAndRepository: Invalid value: "knative/even ting"`}},
		"three parts":        {"knative/eventing", "knative/eventing/x", []string{`spec.ownerAndRepository: Invalid value: "knative/eventing/x"`}},
		"no event types":     {"[pull_request, push]", "[]", []string{"spec.eventTypes: Required value"}},
		"unknown event type": {"[pull_request, push]", "[pull_request, pullrequest]", []string{`spec.eventTypes[1]: Invalid value: "pullrequest": not a GitHub webhook event name`}},
		"duplicate":          {"[pull_request, push]", "[push, push]", []string{`spec.eventTypes[1]: Duplicate value: "push"`}},
		"access token key":   {"{name: gh, key: accessToken}", "{name: gh}", []string{"spec.accessToken.secretKeyRef.key: Required value"}},
		"secret without key": {"secretToken: {secretKeyRef: {name: gh, key: secretToken}}", "secretToken: {secretKeyRef: {name: gh}}", []string{"spec.secretToken.secretKeyRef.key: Required value"}},
		"bad secret name":    {"{name: gh, key: accessToken}", "{name: Bad_Name, key: accessToken}", []string{`spec.accessToken.secretKeyRef.name: Invalid value: "Bad_Name"`}},
		"no sink":            {"  sink: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: dumper}}\n", "", []string{"spec.sink: Required value"}},
		"bad override":       {"spec:\n", "spec:\n  ceOverrides: {extensions: {type: x, Bad: v}}\n", []string{`spec.ceOverrides.extensions[Bad]: Invalid value: "Bad"`, "spec.ceOverrides.extensions[type]: Forbidden"}},
		"api url scheme":     {"spec:\n", "spec:\n  githubAPIURL: ftp://ghe.example.com/\n", []string{`spec.githubAPIURL: Invalid value: "ftp://ghe.example.com/": must be an http or https URL with a host`}},
		"bad account":        {"spec:\n", "spec:\n  serviceAccountName: Bad_SA\n", []string{`spec.serviceAccountName: Invalid value: "Bad_SA"`}},
		"sink other ns":      {"name: dumper}", "name: dumper, namespace: other}", []string{`spec.sink.ref.namespace: Invalid value: "other"`}},
	}
	for name, c := range cases {
		if !strings.Contains(ghBase, c.from) {
			t.Fatalf("%s: %q not in the base document", name, c.from)
		}
		_, err := admit(t, strings.Replace(ghBase, c.from, c.to, 1))
		expectInvalid(t, name, err, c.want...)
	}
}

// A password in githubAPIURL is never echoed in the error.
func TestGitHubSourceAPIURLCredentialsNotEchoed(t *testing.T) {
	_, err := admit(t, strings.Replace(ghBase, "spec:\n", "spec:\n  githubAPIURL: https://bot:hunter2@ghe.example.com/api/v3/\n", 1))
	expectInvalid(t, "credentials", err, "spec.githubAPIURL: Invalid value", "must not carry credentials")
	if err != nil && strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the password is in the error: %v", err)
	}
}

func TestGitHubSourceUpdate(t *testing.T) {
	k, _ := reg.ForGroupKind(schema.GroupKind{Group: sources.Group, Kind: "GitHubSource"})
	old, err := admit(t, ghBase)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(from, to string) api.Object {
		obj, err := admit(t, strings.Replace(ghBase, from, to, 1))
		if err != nil {
			t.Fatal(err)
		}
		return obj
	}
	if err := k.CheckUpdate(old, changed("[pull_request, push]", "[issues]")); err != nil {
		t.Errorf("changing eventTypes must be allowed: %v", err)
	}
	expectInvalid(t, "repository", k.CheckUpdate(old, changed("knative/eventing", "knative/serving")),
		`spec.ownerAndRepository: Invalid value: "knative/serving": field is immutable`)
	expectInvalid(t, "api url", k.CheckUpdate(old, changed("spec:\n", "spec:\n  githubAPIURL: https://ghe.example.com/api/v3/\n")),
		"spec.githubAPIURL: Invalid value", "field is immutable")
}

func TestGitHubSourceConditions(t *testing.T) {
	var s sources.GitHubSourceStatus
	s.InitializeConditions()
	if c := s.GetCondition("Ready"); c == nil || c.Status != corev1.ConditionUnknown {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkSecrets()
	s.MarkSink("http://dumper.ns.svc.cluster.local")
	if s.IsReady() {
		t.Fatal("ready without a webhook")
	}
	s.MarkWebhookConfigured("12345")
	if !s.IsReady() || s.WebhookIDKey != "12345" || s.SinkURI != "http://dumper.ns.svc.cluster.local" {
		t.Fatalf("not ready: %+v", s)
	}
	s.MarkNoSecrets("SecretNotFound", "secret %q has no key %q", "gh", "accessToken")
	if c := s.GetCondition("Ready"); !c.IsFalse() || c.Reason != "SecretNotFound" || c.Message != `secret "gh" has no key "accessToken"` {
		t.Fatalf("Ready %+v", c)
	}
	s.MarkSecrets()
	s.MarkSink("")
	if c := s.GetCondition("SinkProvided"); !c.IsFalse() || c.Reason != "SinkEmpty" || s.IsReady() {
		t.Fatalf("SinkProvided %+v", c)
	}
	s.MarkNoSink("NotFound", "no Service %q", "dumper")
	s.MarkWebhookNotConfigured("WebhookFailed", "GitHub said 422")
	if s.GetCondition("WebhookConfigured").Reason != "WebhookFailed" || s.SinkURI != "" {
		t.Fatalf("%+v", s)
	}
}
