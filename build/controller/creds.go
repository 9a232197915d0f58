package controller

import (
	"context"
	"net/url"
	"sort"
	"strings"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
)

// Annotations that link Secrets to a build's service account and git servers.
const (
	// AnnotationServiceAccount names the service account a Secret belongs to, as Kubernetes
	// annotates service-account token Secrets. Eddy has no ServiceAccount kind: a Secret
	// with this annotation is one of that account's secrets.
	AnnotationServiceAccount = "kubernetes.io/service-account.name"
	// AnnotationGitPrefix starts Knative's build.knative.dev/git-0, git-1… annotations,
	// whose values name the git servers a Secret authenticates to.
	AnnotationGitPrefix = "build.knative.dev/git-"
	// DefaultServiceAccount is the account of a Build that names none.
	DefaultServiceAccount = "default"
)

// credentials returns the git credentials of a Build: those of the first Secret (by name)
// of its service account, in its namespace, with a build.knative.dev/git-N annotation that
// matches the source's server and a type fit for the URL's scheme (kubernetes.io/basic-auth
// for http(s), kubernetes.io/ssh-auth for ssh and scp-like URLs).
func (s *Builds) credentials(ctx context.Context, b *apibuild.Build) (executor.Credentials, error) {
	if b.Spec.Source == nil || b.Spec.Source.Git == nil {
		return executor.Credentials{}, nil
	}
	sa := b.Spec.ServiceAccountName
	if sa == "" {
		sa = DefaultServiceAccount
	}
	secrets, err := reconciler.List[*corev1.Secret](ctx, s.cfg.Client, b.Namespace, nil)
	if err != nil {
		return executor.Credentials{}, err
	}
	scheme, host := gitServer(b.Spec.Source.Git.URL)
	for _, sec := range secrets {
		if sec.Annotations[AnnotationServiceAccount] != sa {
			continue
		}
		var keys []string
		for k := range sec.Annotations {
			if strings.HasPrefix(k, AnnotationGitPrefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !serverMatches(sec.Annotations[k], scheme, host) {
				continue
			}
			switch {
			case sec.Type == corev1.SecretTypeBasicAuth && (scheme == "http" || scheme == "https"):
				return executor.Credentials{GitUsername: sec.Data[corev1.BasicAuthUsernameKey], GitPassword: sec.Data[corev1.BasicAuthPasswordKey]}, nil
			case sec.Type == corev1.SecretTypeSSHAuth && scheme == "ssh":
				return executor.Credentials{SSHKey: sec.Data[corev1.SSHAuthPrivateKey], KnownHosts: sec.Data["known_hosts"]}, nil
			}
		}
	}
	return executor.Credentials{}, nil
}

// gitServer returns the scheme (ssh for scp-like URLs) and host[:port] of a git URL, lower
// case; empty for a URL it cannot parse or a local one.
func gitServer(raw string) (scheme, host string) {
	if !strings.Contains(raw, "://") {
		if at := strings.IndexByte(raw, '@'); at >= 0 {
			if colon := strings.IndexByte(raw[at:], ':'); colon > 0 {
				return "ssh", strings.ToLower(raw[at+1 : at+colon])
			}
		}
		return "", ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", ""
	}
	return strings.ToLower(u.Scheme), strings.ToLower(u.Host)
}

// serverMatches reports whether a git-N annotation value names the server: a URL must have
// the same scheme and host, a bare host (as Knative's ssh annotations are) the same host.
func serverMatches(annotation, scheme, host string) bool {
	if host == "" {
		return false
	}
	annotation = strings.TrimSpace(annotation)
	if strings.Contains(annotation, "://") {
		u, err := url.Parse(annotation)
		return err == nil && strings.EqualFold(u.Scheme, scheme) && strings.EqualFold(u.Host, host)
	}
	return strings.EqualFold(strings.TrimSuffix(annotation, "/"), host)
}
