package executor

import (
	"errors"
	"fmt"
	"strings"
)

// RevisionKind says what a git revision names.
type RevisionKind int

// The kinds of revisions.
const (
	// RevisionDefault is the remote's default branch (its HEAD): the empty revision, or
	// "HEAD".
	RevisionDefault RevisionKind = iota
	// RevisionCommit is a full commit SHA (40 hex digits).
	RevisionCommit
	// RevisionRef is a full ref name, such as refs/heads/main or refs/pull/1/head.
	RevisionRef
	// RevisionName is a branch or tag name, looked up as refs/heads/<name>, then
	// refs/tags/<name>; when no such ref exists and Revision.Abbrev is true, an abbreviated
	// commit SHA.
	RevisionName
)

// Revision is a parsed git revision.
type Revision struct {
	// Kind says what Name is.
	Kind RevisionKind
	// Name is the branch or tag name, the full ref name, or the commit SHA (lowercase);
	// empty for RevisionDefault.
	Name string
	// Abbrev is true for a RevisionName that could be an abbreviated commit SHA (4 to 39
	// hex digits).
	Abbrev bool
}

// String returns the revision as it would be written in a request.
func (r Revision) String() string { return r.Name }

// maxRevisionLen bounds a revision's length.
const maxRevisionLen = 1024

// ParseRevision parses a build source's revision: empty or "HEAD" (the default branch), a
// full commit SHA, a full ref name (refs/...), or a branch or tag name (which may also be
// an abbreviated SHA). Names follow git's ref name rules (git check-ref-format): no
// control characters, space, ~ ^ : ? * [ \ or "@{"; no ".." or "//"; no component starting
// with "." or ending with ".lock"; not starting with "-" or "/", not ending with "/" or
// ".".
func ParseRevision(s string) (Revision, error) {
	switch {
	case s == "" || s == "HEAD":
		return Revision{Kind: RevisionDefault}, nil
	case len(s) > maxRevisionLen:
		return Revision{}, fmt.Errorf("revision is %d bytes long, more than %d", len(s), maxRevisionLen)
	case len(s) == 40 && isHex(s):
		return Revision{Kind: RevisionCommit, Name: strings.ToLower(s)}, nil
	}
	if err := checkRefName(s); err != nil {
		return Revision{}, fmt.Errorf("revision %q: %w", s, err)
	}
	if strings.HasPrefix(s, "refs/") {
		return Revision{Kind: RevisionRef, Name: s}, nil
	}
	return Revision{Kind: RevisionName, Name: s, Abbrev: len(s) >= 4 && len(s) < 40 && isHex(s)}, nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// checkRefName applies git's rules for ref names (and branch names) to s.
func checkRefName(s string) error {
	switch {
	case s == "@":
		return errors.New(`"@" is not a valid ref name`)
	case strings.HasPrefix(s, "-"):
		return errors.New(`must not start with "-"`)
	case strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return errors.New(`must not start or end with "/"`)
	case strings.HasSuffix(s, "."):
		return errors.New(`must not end with "."`)
	case strings.Contains(s, ".."):
		return errors.New(`must not contain ".."`)
	case strings.Contains(s, "//"):
		return errors.New(`must not contain "//"`)
	case strings.Contains(s, "@{"):
		return errors.New(`must not contain "@{"`)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fmt.Errorf("must not contain %q", c)
		}
	}
	for _, comp := range strings.Split(s, "/") {
		if strings.HasPrefix(comp, ".") {
			return errors.New(`no part may start with "."`)
		}
		if strings.HasSuffix(comp, ".lock") {
			return errors.New(`no part may end with ".lock"`)
		}
	}
	return nil
}

// Validate checks what every executor requires of a request: unique step names, at most
// one source, a git source with a URL and a valid revision, a local source with a path, and
// a non-negative timeout. It does not check whether the steps can run.
func (r Request) Validate() error {
	if r.Timeout < 0 {
		return errors.New("timeout must not be negative")
	}
	if r.Source.Git != nil && r.Source.Local != nil {
		return errors.New("source: at most one of git and local may be set")
	}
	if g := r.Source.Git; g != nil {
		if g.URL == "" {
			return errors.New("source.git.url is required")
		}
		if _, err := ParseRevision(g.Revision); err != nil {
			return fmt.Errorf("source.git.revision: %w", err)
		}
	}
	if l := r.Source.Local; l != nil && l.Path == "" {
		return errors.New("source.local.path is required")
	}
	seen := make(map[string]int, len(r.Steps))
	for i, c := range r.Steps {
		name := StepName(c, i)
		if j, dup := seen[name]; dup {
			return fmt.Errorf("steps[%d] and steps[%d] are both named %q", j, i, name)
		}
		seen[name] = i
	}
	return nil
}
