#!/usr/bin/env python3
"""Writes expected.tsv: the CloudEvent (type, source, subject) each corpus file maps to.

An independent re-statement, in Python, of the rules documented in ../doc.go, so that the Go
mapping is checked against something it was not derived from. Run from this folder:
    python3 expected.py > expected.tsv
"""
import csv, json, re, sys

WEB = "https://github.com"
OWNER_AND_REPO = "Codertocat/Hello-World"  # the tests' configured source


def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or d.get(k) is None:
            return None
        d = d[k]
    return d


def text(v):
    if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
        return ""
    return str(v)


def last_segment(v):
    v = text(v)
    i = v.rfind("/")
    return v[i + 1:] if i >= 0 else ""


def is_url(v):
    return isinstance(v, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]", v) is not None


def source(p):
    for path in (("repository", "html_url"), ("organization", "html_url")):
        if is_url(get(p, *path)):
            return get(p, *path)
    login = get(p, "organization", "login")
    if isinstance(login, str) and login:
        return WEB + "/" + login
    for path in (("installation", "account", "html_url"), ("enterprise", "html_url")):
        if is_url(get(p, *path)):
            return get(p, *path)
    return WEB + "/" + OWNER_AND_REPO


F = lambda *path: (lambda p: text(get(p, *path)))
L = lambda *path: (lambda p: last_segment(get(p, *path)))
RULES = {
    "check_run": F("check_run", "id"), "check_suite": F("check_suite", "id"),
    "commit_comment": L("comment", "html_url"), "issue_comment": L("comment", "html_url"),
    "discussion_comment": L("comment", "html_url"),
    "create": F("ref_type"), "delete": F("ref_type"),
    "deployment": F("deployment", "id"), "deployment_status": F("deployment", "id"),
    "discussion": F("discussion", "id"), "fork": F("forkee", "id"),
    "gollum": lambda p: ",".join(text(pg.get("page_name")) for pg in p.get("pages") or []),
    "installation": F("installation", "id"), "installation_repositories": F("installation", "id"),
    "issues": F("issue", "number"), "label": F("label", "name"),
    "member": F("member", "id"), "membership": F("member", "id"), "milestone": F("milestone", "number"),
    "organization": F("action"), "org_block": F("action"), "project": F("action"),
    "project_card": F("action"), "project_column": F("action"), "repository_dispatch": F("action"),
    "page_build": F("id"), "ping": F("hook_id"), "meta": F("hook_id"),
    "public": F("repository", "id"), "repository": F("repository", "id"), "team_add": F("repository", "id"),
    "watch": F("repository", "id"), "star": F("repository", "id"), "repository_import": F("repository", "id"),
    "pull_request": F("pull_request", "number"), "pull_request_review_thread": F("pull_request", "number"),
    "pull_request_review": F("review", "id"), "pull_request_review_comment": F("comment", "id"),
    "push": L("compare"), "release": F("release", "tag_name"),
    "repository_vulnerability_alert": F("alert", "id"),
    "security_advisory": F("security_advisory", "ghsa_id"), "status": F("sha"), "team": F("team", "id"),
    "branch_protection_rule": F("rule", "id"), "code_scanning_alert": F("alert", "number"),
    "dependabot_alert": F("alert", "number"), "secret_scanning_alert": F("alert", "number"),
    "deploy_key": F("key", "id"), "deployment_review": F("workflow_run", "id"),
    "marketplace_purchase": F("marketplace_purchase", "account", "id"),
    "merge_group": F("merge_group", "head_sha"), "sponsorship": F("sponsorship", "node_id"),
    "workflow_dispatch": F("workflow"), "github_app_authorization": lambda p: "",
}


def subject(event, p):
    if event in RULES:
        return RULES[event](p).strip()
    return (text(get(p, event, "id")) or text(get(p, event, "number"))).strip()


def main():
    out = csv.writer(sys.stdout, delimiter="\t", lineterminator="\n")
    out.writerow(["file", "type", "source", "subject"])
    with open("webhooks/SIGNATURES.tsv") as f:
        rows = [r for r in csv.reader(f, delimiter="\t") if r and not r[0].startswith("#")][1:]
    for event, name, *_ in rows:
        with open("webhooks/" + name, "rb") as f:
            p = json.loads(f.read())
        out.writerow([name, "dev.knative.source.github." + event, source(p), subject(event, p)])


main()
