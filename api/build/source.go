package build

import (
	"net/url"
	"regexp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// SourceSpec is the input of a Build: exactly one of Git and Local. GCS and Custom decode, as
// 2018 manifests carry them, but are rejected.
type SourceSpec struct {
	// Git is a repository to clone.
	Git *GitSourceSpec `json:"git,omitempty"`
	// Local is a directory on the machine Eddy runs on (Eddy's own form).
	Local *LocalSourceSpec `json:"local,omitempty"`
	// GCS is Knative's Google Cloud Storage source; Eddy rejects it.
	GCS *GCSSourceSpec `json:"gcs,omitempty"`
	// Custom is Knative's source container; Eddy rejects it.
	Custom *corev1.Container `json:"custom,omitempty"`
	// SubPath is a relative directory inside the source that the steps build.
	SubPath string `json:"subPath,omitempty"`
}

// GitSourceSpec is a Git repository and the revision to check out.
type GitSourceSpec struct {
	// URL is the repository: http, https, ssh, git or file URL, or user@host:path.
	URL string `json:"url"`
	// Revision is a branch, tag, commit or ref; empty for the remote's default branch.
	Revision string `json:"revision,omitempty"`
}

// LocalSourceSpec is a directory used as the source as it is.
type LocalSourceSpec struct {
	// Path is an absolute directory path.
	Path string `json:"path"`
}

// GCSSourceSpec is Knative's source from Google Cloud Storage, kept so that such manifests
// decode and are rejected with a clear error.
type GCSSourceSpec struct {
	// Type is Archive or Manifest.
	Type string `json:"type,omitempty"`
	// Location is the gs:// URL of the archive or manifest.
	Location string `json:"location,omitempty"`
}

var gitSchemes = []string{"http", "https", "ssh", "git", "file"}

// scpLikeRE is git's scp-like syntax for ssh: user@host:path.
var scpLikeRE = regexp.MustCompile(`^[A-Za-z0-9_~][A-Za-z0-9._~-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[^\s\x00-\x1f\x7f]+$`)

func (s *SourceSpec) validate(p *field.Path) field.ErrorList {
	if s == nil {
		return nil
	}
	var errs field.ErrorList
	var set []string
	if s.Git != nil {
		set = append(set, "git")
		errs = append(errs, s.Git.validate(p.Child("git"))...)
	}
	if s.Local != nil {
		set = append(set, "local")
		errs = append(errs, s.Local.validate(p.Child("local"))...)
	}
	if s.GCS != nil {
		errs = append(errs, field.Forbidden(p.Child("gcs"), "Eddy does not fetch sources from Google Cloud Storage: use git or local"))
	}
	if s.Custom != nil {
		errs = append(errs, field.Forbidden(p.Child("custom"), "Eddy does not run custom source containers: use git or local, or fetch the source in a step"))
	}
	switch {
	case len(set) > 1:
		errs = append(errs, field.Forbidden(p.Child(set[1]), "set exactly one of git and local"))
	case len(set) == 0 && s.GCS == nil && s.Custom == nil:
		errs = append(errs, field.Required(p, "set one of git and local"))
	}
	if s.SubPath != "" {
		sp := p.Child("subPath")
		switch {
		case strings.HasPrefix(s.SubPath, "/"):
			errs = append(errs, field.Invalid(sp, s.SubPath, "must be a relative path"))
		case hasDotDot(s.SubPath):
			errs = append(errs, field.Invalid(sp, s.SubPath, `may not contain ".."`))
		case hasControl(s.SubPath):
			errs = append(errs, field.Invalid(sp, s.SubPath, "may not contain control characters"))
		}
	}
	return errs
}

func (g *GitSourceSpec) validate(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	up := p.Child("url")
	switch u, err := url.Parse(g.URL); {
	case g.URL == "":
		errs = append(errs, field.Required(up, ""))
	case !strings.Contains(g.URL, "://") && scpLikeRE.MatchString(g.URL):
		// user@host:path, git's scp-like ssh form
	case err != nil || u.Scheme == "":
		// url.Parse's error repeats the URL, which may hold credentials: say nothing of it.
		errs = append(errs, field.Invalid(up, redactURL(g.URL), "must be a URL with the scheme http, https, ssh, git or file, or user@host:path"))
	case !slices.Contains(gitSchemes, strings.ToLower(u.Scheme)):
		errs = append(errs, field.Invalid(up, redactURL(g.URL), "the scheme must be http, https, ssh, git or file"))
	default:
		scheme := strings.ToLower(u.Scheme)
		_, hasPassword := u.User.Password()
		switch {
		case hasPassword, u.User != nil && (scheme == "http" || scheme == "https"):
			errs = append(errs, field.Invalid(up, redactURL(g.URL), "may not carry credentials: put them in a secret of spec.serviceAccountName"))
		case u.RawQuery != "" || u.ForceQuery:
			errs = append(errs, field.Invalid(up, redactURL(g.URL), "may not have a query"))
		}
		if strings.HasPrefix(u.Host, "-") || strings.HasPrefix(u.User.Username(), "-") {
			// git would pass them to ssh as options (CVE-2017-1000117)
			errs = append(errs, field.Invalid(up, redactURL(g.URL), `the host and user may not start with "-"`))
		}
		if scheme == "file" {
			if !strings.HasPrefix(u.Path, "/") {
				errs = append(errs, field.Invalid(up, redactURL(g.URL), "a file URL needs an absolute path"))
			}
		} else if u.Host == "" {
			errs = append(errs, field.Invalid(up, redactURL(g.URL), "needs a host"))
		}
		if hasControl(g.URL) || strings.ContainsAny(g.URL, " \t") {
			errs = append(errs, field.Invalid(up, redactURL(g.URL), "may not contain white space or control characters"))
		}
	}
	if r := g.Revision; r != "" {
		rp := p.Child("revision")
		switch {
		case strings.HasPrefix(r, "-"):
			errs = append(errs, field.Invalid(rp, r, `may not start with "-"`))
		case strings.IndexFunc(r, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0:
			errs = append(errs, field.Invalid(rp, r, "may not contain white space or control characters"))
		case strings.Contains(r, ".."):
			errs = append(errs, field.Invalid(rp, r, `may not contain ".."`))
		}
	}
	return errs
}

func (l *LocalSourceSpec) validate(p *field.Path) field.ErrorList {
	pp := p.Child("path")
	switch {
	case l.Path == "":
		return field.ErrorList{field.Required(pp, "")}
	case !strings.HasPrefix(l.Path, "/"):
		return field.ErrorList{field.Invalid(pp, l.Path, "must be an absolute path")}
	case hasDotDot(l.Path):
		return field.ErrorList{field.Invalid(pp, l.Path, `may not contain ".."`)}
	case hasControl(l.Path):
		return field.ErrorList{field.Invalid(pp, l.Path, "may not contain control characters")}
	}
	return nil
}

// redactURL returns raw for error messages with what may hold a password or token replaced:
// the user information before an "@" and the query.
func redactURL(raw string) string {
	if q := strings.IndexByte(raw, '?'); q >= 0 {
		raw = raw[:q] + "?xxxxx"
	}
	start := 0
	if i := strings.Index(raw, "://"); i >= 0 {
		start = i + 3
	}
	rest := raw[start:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return raw[:start] + "xxxxx" + rest[at:]
	}
	return raw
}

func hasDotDot(p string) bool {
	return slices.Contains(strings.Split(p, "/"), "..")
}

func hasControl(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0
}
