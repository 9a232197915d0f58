package sources

import "sort"

// gitHubEventTypes are the GitHub webhook event names (X-GitHub-Event values) a GitHubSource
// may ask for: the enum of Knative's GitHubSource CRD, every event GitHub documents for
// github.com webhooks, and the GitHub Enterprise Server events (cache_sync, content_reference,
// enterprise, integration_installation, integration_installation_repositories, user).
var gitHubEventTypes = map[string]bool{}

func init() {
	for _, name := range []string{
		"branch_protection_configuration", "branch_protection_rule", "cache_sync", "check_run",
		"check_suite", "code_scanning_alert", "commit_comment", "content_reference", "create",
		"custom_property", "custom_property_values", "delete", "dependabot_alert", "deploy_key",
		"deployment", "deployment_protection_rule", "deployment_review", "deployment_status",
		"discussion", "discussion_comment", "enterprise", "exemption_request_push_ruleset",
		"exemption_request_secret_scanning", "fork", "github_app_authorization", "gollum",
		"installation", "installation_repositories", "installation_target",
		"integration_installation", "integration_installation_repositories", "issue_comment",
		"issue_dependencies", "issues", "label", "marketplace_purchase", "member", "membership",
		"merge_group", "meta", "milestone", "org_block", "organization", "package", "page_build",
		"personal_access_token_request", "ping", "project", "project_card", "project_column",
		"projects_v2", "projects_v2_item", "projects_v2_status_update", "public", "pull_request",
		"pull_request_review", "pull_request_review_comment", "pull_request_review_thread",
		"push", "registry_package", "release", "repository", "repository_advisory",
		"repository_dispatch", "repository_import", "repository_ruleset",
		"repository_vulnerability_alert", "secret_scanning_alert",
		"secret_scanning_alert_location", "secret_scanning_scan", "security_advisory",
		"security_and_analysis", "sponsorship", "star", "status", "sub_issues", "team",
		"team_add", "user", "watch", "workflow_dispatch", "workflow_job", "workflow_run",
	} {
		gitHubEventTypes[name] = true
	}
}

// IsGitHubEventType reports whether name is a GitHub webhook event name a GitHubSource
// accepts. Knative's CRD allows a fixed list of 34 names; Eddy allows every event GitHub
// documents (github.com and GitHub Enterprise Server), and still rejects anything else
// (such as "pullrequest" or "*"), since GitHub would refuse to register the webhook.
func IsGitHubEventType(name string) bool { return gitHubEventTypes[name] }

// GitHubEventTypes returns the accepted GitHub webhook event names, sorted.
func GitHubEventTypes() []string {
	out := make([]string, 0, len(gitHubEventTypes))
	for name := range gitHubEventTypes {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}
