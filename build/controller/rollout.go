package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/build/builtin"
	"github.com/eddyplatform/eddy/control/reconciler"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The rollout's names.
const (
	// RolloutPathPrefix is where RolloutHandler expects to be mounted: it serves
	// RolloutPathPrefix + "NAMESPACE/NAME".
	RolloutPathPrefix = "/rollouts/"
	// RolloutConfigMapPrefix starts the name of a rollout's ConfigMap: rollout-NAME.
	RolloutConfigMapPrefix = "rollout-"
	// GitHubPushType is the CloudEvent type of GitHub pushes, as GitHubSource sends them.
	GitHubPushType = "dev.knative.source.github.push"

	// LabelRollout on a Build names the rollout that created it.
	LabelRollout = "rollout.eddy.dev/name"
	// AnnotationSequence on a Build orders the pushes of a rollout: higher is newer.
	AnnotationSequence = "rollout.eddy.dev/sequence"
	// AnnotationCommit on a Build (and on the Service's template it rolled out) is the
	// pushed commit.
	AnnotationCommit = "rollout.eddy.dev/commit"
	// AnnotationStatus on a rollout's ConfigMap says what the rollout last did, in a sentence.
	AnnotationStatus = "rollout.eddy.dev/status"
	// AnnotationLatestBuild on a rollout's ConfigMap names the build of the newest push.
	AnnotationLatestBuild = "rollout.eddy.dev/latest-build"
	// AnnotationRolledOut on a rollout's ConfigMap names the build the Service runs.
	AnnotationRolledOut = "rollout.eddy.dev/rolled-out-build"
	// AnnotationRolledOutSequence is that build's sequence.
	AnnotationRolledOutSequence = "rollout.eddy.dev/rolled-out-sequence"
)

// maxPushBytes bounds a push event's body: GitHub caps webhook payloads at 25 MB.
const maxPushBytes = 25 << 20

// PushEvent is what a rollout reads of a GitHub push payload.
type PushEvent struct {
	// Ref is the pushed ref, such as refs/heads/main.
	Ref string `json:"ref"`
	// After is the commit the ref points to after the push.
	After string `json:"after"`
	// Deleted is true when the push deleted the ref.
	Deleted bool `json:"deleted"`
	// Repository is the pushed repository.
	Repository struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
		HTMLURL  string `json:"html_url"`
		SSHURL   string `json:"ssh_url"`
		GitURL   string `json:"git_url"`
	} `json:"repository"`
}

// ParsePush decodes a GitHub push payload and checks what a rollout needs of it: a ref and,
// unless the push deleted the ref, the 40-hex-digit commit after it.
func ParsePush(data []byte) (*PushEvent, error) {
	var p PushEvent
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("push payload: %w", err)
	}
	if p.Ref == "" {
		return nil, errors.New("push payload: no ref")
	}
	p.After = strings.ToLower(p.After)
	if !p.Deleted && (len(p.After) != 40 || strings.Trim(p.After, "0123456789abcdef") != "") {
		return nil, errors.New("push payload: after is not a 40-hex-digit commit")
	}
	if p.After == strings.Repeat("0", 40) {
		p.Deleted = true
	}
	return &p, nil
}

// rolloutConfig is a rollout's ConfigMap's data.
type rolloutConfig struct {
	repository string // owner/repo, or a URL
	branch     string
	url        string // clone URL override
	template   string
	kind       apibuild.TemplateKind
	args       []apibuild.ArgumentSpec
	service    string
	sa         string
	timeout    *metav1.Duration
}

// parseRolloutConfig reads the data of ConfigMap rollout-NAME.
func parseRolloutConfig(name string, data map[string]string) (*rolloutConfig, error) {
	c := &rolloutConfig{
		repository: strings.TrimSpace(data["repository"]),
		branch:     strings.TrimSpace(data["branch"]),
		url:        strings.TrimSpace(data["url"]),
		template:   strings.TrimSpace(data["template"]),
		kind:       apibuild.TemplateKind(strings.TrimSpace(data["templateKind"])),
		service:    strings.TrimSpace(data["service"]),
		sa:         strings.TrimSpace(data["serviceAccountName"]),
	}
	if c.repository == "" {
		return nil, errors.New("data.repository (owner/repo or the repository's URL) is required")
	}
	if c.branch == "" {
		c.branch = "main"
	}
	if c.template == "" {
		c.template = builtin.GoFunction
	}
	if c.kind == "" {
		c.kind = apibuild.ClusterBuildTemplateKind
	}
	if c.service == "" {
		c.service = name
	}
	if msgs := validation.IsDNS1123Label(c.service); len(msgs) > 0 {
		return nil, fmt.Errorf("data.service %q: %s", c.service, strings.Join(msgs, "; "))
	}
	for i, line := range strings.Split(data["arguments"], "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("data.arguments line %d: want NAME=VALUE", i+1)
		}
		c.args = append(c.args, apibuild.ArgumentSpec{Name: strings.TrimSpace(k), Value: v})
	}
	if t := strings.TrimSpace(data["timeout"]); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil {
			return nil, fmt.Errorf("data.timeout: %w", err)
		}
		c.timeout = &metav1.Duration{Duration: d}
	}
	return c, nil
}

// matches reports whether a push is to the rollout's repository and branch.
func (c *rolloutConfig) matches(p *PushEvent) bool {
	if p.Ref != "refs/heads/"+c.branch {
		return false
	}
	if !strings.Contains(c.repository, "://") && !strings.Contains(c.repository, "@") {
		return strings.EqualFold(c.repository, p.Repository.FullName)
	}
	want := normalizeRepoURL(c.repository)
	for _, u := range []string{p.Repository.CloneURL, p.Repository.HTMLURL, p.Repository.SSHURL, p.Repository.GitURL} {
		if u != "" && normalizeRepoURL(u) == want {
			return true
		}
	}
	return false
}

func normalizeRepoURL(u string) string {
	return strings.TrimSuffix(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(u)), "/"), ".git")
}

// RolloutHandler serves the rollouts' CloudEvent subscribers at RolloutPathPrefix +
// "NAMESPACE/NAME" (mount it at RolloutPathPrefix). A dev.knative.source.github.push event
// for the repository and branch of ConfigMap rollout-NAME creates a Build of the pushed
// commit (201) and cancels the rollout's older builds still running; other events, pushes
// of other repositories or branches, ref deletions and redeliveries are accepted and ignored
// (202). The rollout controller moves the Service when the build succeeds.
func (s *Builds) RolloutHandler() http.Handler {
	return http.HandlerFunc(s.serveRollout)
}

func (s *Builds) serveRollout(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if i := strings.Index(path, RolloutPathPrefix); i >= 0 {
		path = path[i+len(RolloutPathPrefix):]
	}
	ns, name, ok := strings.Cut(strings.Trim(path, "/"), "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Label(name)) > 0 ||
		len(validation.IsDNS1123Subdomain(RolloutConfigMapPrefix+name)) > 0 {
		http.Error(w, "want "+RolloutPathPrefix+"NAMESPACE/NAME", http.StatusNotFound)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxPushBytes)
	ev, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if ev.Type() != GitHubPushType {
		http.Error(w, "ignored: not a "+GitHubPushType+" event", http.StatusAccepted)
		return
	}
	push, err := ParsePush(ev.Data())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	build, created, err := s.Push(r.Context(), ns, name, push)
	switch {
	case err != nil:
		code := http.StatusInternalServerError
		if status, ok := err.(apierrors.APIStatus); ok {
			code = int(status.Status().Code)
		}
		s.log.Warn("rollout push failed", "rollout", ns+"/"+name, "err", err)
		http.Error(w, err.Error(), code)
	case build == "":
		http.Error(w, "ignored: not a push to the rollout's repository and branch", http.StatusAccepted)
	case !created:
		http.Error(w, "ignored: build "+build+" exists for this commit", http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "build %s created\n", build)
	}
}

// Push creates the Build of a push for the rollout NAMESPACE/NAME, and cancels the rollout's
// older builds still running. It returns the build's name ("" when the push is not for the
// rollout) and whether it was created (false when a build of that commit exists).
func (s *Builds) Push(ctx context.Context, namespace, name string, push *PushEvent) (build string, created bool, err error) {
	var cm corev1.ConfigMap
	if err := s.cfg.Client.Get(ctx, namespace, RolloutConfigMapPrefix+name, &cm); err != nil {
		return "", false, err
	}
	cfg, err := parseRolloutConfig(name, cm.Data)
	if err != nil {
		return "", false, apierrors.NewBadRequest(fmt.Sprintf("ConfigMap %s/%s: %v", namespace, cm.Name, err))
	}
	if push.Deleted || !cfg.matches(push) {
		return "", false, nil
	}
	cloneURL := cfg.url
	if cloneURL == "" {
		cloneURL = push.Repository.CloneURL
	}
	s.rollMu.Lock()
	defer s.rollMu.Unlock()
	builds, err := s.rolloutBuilds(ctx, namespace, name)
	if err != nil {
		return "", false, err
	}
	seq := int64(1)
	if len(builds) > 0 {
		seq = sequence(builds[0]) + 1
	}
	b := &apibuild.Build{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   namespace,
			Name:        rolloutBuildName(name, push.After),
			Labels:      map[string]string{LabelRollout: name},
			Annotations: map[string]string{AnnotationSequence: strconv.FormatInt(seq, 10), AnnotationCommit: push.After},
		},
		Spec: apibuild.BuildSpec{
			Source:             &apibuild.SourceSpec{Git: &apibuild.GitSourceSpec{URL: cloneURL, Revision: push.After}},
			Template:           &apibuild.TemplateInstantiationSpec{Name: cfg.template, Kind: cfg.kind, Arguments: cfg.args},
			ServiceAccountName: cfg.sa,
			Timeout:            cfg.timeout,
		},
	}
	if err := s.cfg.Client.Create(ctx, b); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return b.Name, false, nil
		}
		return "", false, err
	}
	s.log.Info("rollout build created", "rollout", namespace+"/"+name, "build", b.Name, "commit", push.After)
	s.supersede(ctx, append([]*apibuild.Build{b}, builds...))
	return b.Name, true, nil
}

// rolloutBuildName is NAME-COMMIT12, NAME shortened to keep it a DNS label.
func rolloutBuildName(name, commit string) string {
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	return name + "-" + commit[:12]
}

// rolloutBuilds returns the rollout's builds, newest (highest sequence) first.
func (s *Builds) rolloutBuilds(ctx context.Context, namespace, name string) ([]*apibuild.Build, error) {
	sel := labels.SelectorFromSet(labels.Set{LabelRollout: name})
	builds, err := reconciler.List[*apibuild.Build](ctx, s.cfg.Client, namespace, sel)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(builds, func(i, j int) bool { return sequence(builds[i]) > sequence(builds[j]) })
	return builds, nil
}

func sequence(b *apibuild.Build) int64 {
	n, _ := strconv.ParseInt(b.Annotations[AnnotationSequence], 10, 64)
	return n
}

// supersede cancels every build after the first (the newest) that is still running.
func (s *Builds) supersede(ctx context.Context, newestFirst []*apibuild.Build) {
	for _, old := range newestFirst[min(1, len(newestFirst)):] {
		if old.Status.IsDone() || old.IsCancelled() {
			continue
		}
		old.Spec.Status = apibuild.BuildSpecStatusCancelled
		if err := s.cfg.Client.Update(ctx, old); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("cancelling a superseded build", "build", old.Namespace+"/"+old.Name, "err", err)
			continue
		}
		s.log.Info("superseded build cancelled", "build", old.Namespace+"/"+old.Name)
	}
}

// reconcileRollout moves a rollout's Service to its newest succeeded build when that is
// newer than the one it runs, cancels superseded builds, and says what it did in the
// ConfigMap's annotations.
func (s *Builds) reconcileRollout(ctx context.Context, key string) error {
	ns, cmName := splitKey(key)
	name, ok := strings.CutPrefix(cmName, RolloutConfigMapPrefix)
	if !ok || name == "" {
		return nil
	}
	var cm corev1.ConfigMap
	if err := s.cfg.Client.Get(ctx, ns, cmName, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	}
	ann := map[string]string{}
	for k, v := range cm.Annotations {
		ann[k] = v
	}
	cfg, err := parseRolloutConfig(name, cm.Data)
	if err != nil {
		ann[AnnotationStatus] = "invalid: " + err.Error()
		return s.annotate(ctx, &cm, ann)
	}
	builds, err := s.rolloutBuilds(ctx, ns, name)
	if err != nil {
		return err
	}
	if len(builds) == 0 {
		ann[AnnotationStatus] = "waiting for a push to branch " + cfg.branch
		return s.annotate(ctx, &cm, ann)
	}
	s.supersede(ctx, builds)
	rolledSeq, _ := strconv.ParseInt(ann[AnnotationRolledOutSequence], 10, 64)
	for _, b := range builds {
		if !b.Status.IsSucceeded() {
			continue
		}
		if seq := sequence(b); seq > rolledSeq {
			if err := s.rollOut(ctx, cfg.service, b); err != nil {
				if !apierrors.IsNotFound(err) {
					return err
				}
				ann[AnnotationStatus] = fmt.Sprintf("build %s succeeded but Service %s/%s does not exist", b.Name, ns, cfg.service)
				return s.annotate(ctx, &cm, ann)
			}
			ann[AnnotationRolledOut] = b.Name
			ann[AnnotationRolledOutSequence] = strconv.FormatInt(seq, 10)
		}
		break
	}
	newest := builds[0]
	ann[AnnotationLatestBuild] = newest.Name
	commit := newest.Annotations[AnnotationCommit]
	c := newest.Status.Succeeded()
	switch {
	case newest.Status.IsSucceeded() && ann[AnnotationRolledOut] == newest.Name:
		ann[AnnotationStatus] = fmt.Sprintf("Service %s runs commit %s (build %s)", cfg.service, commit, newest.Name)
	case newest.Status.IsDone():
		keeps := "keeps its image"
		if r := ann[AnnotationRolledOut]; r != "" {
			keeps = "keeps build " + r
		}
		ann[AnnotationStatus] = fmt.Sprintf("build %s of commit %s failed (%s: %s); Service %s %s", newest.Name, commit, c.Reason, c.Message, cfg.service, keeps)
	default:
		ann[AnnotationStatus] = fmt.Sprintf("building commit %s (build %s)", commit, newest.Name)
	}
	return s.annotate(ctx, &cm, ann)
}

// rollOut sets the image of the Service's template to the build's artifact.
func (s *Builds) rollOut(ctx context.Context, service string, b *apibuild.Build) error {
	var svc serving.Service
	if err := s.cfg.Client.Get(ctx, b.Namespace, service, &svc); err != nil {
		return err
	}
	image := apibuild.ArtifactURI(b.Namespace, b.Name)
	tmpl := &svc.Spec.Template
	if len(tmpl.Spec.Containers) == 0 {
		tmpl.Spec.Containers = []corev1.Container{{}}
	}
	c := &tmpl.Spec.Containers[0]
	if c.Image == image && len(c.Command) == 0 {
		return nil
	}
	c.Image, c.Command = image, nil
	tmpl.Name = "" // a named revision would clash with the next one
	if tmpl.Annotations == nil {
		tmpl.Annotations = map[string]string{}
	}
	tmpl.Annotations[AnnotationCommit] = b.Annotations[AnnotationCommit]
	if err := s.cfg.Client.Update(ctx, &svc); err != nil {
		return err
	}
	s.log.Info("rolled out", "service", b.Namespace+"/"+service, "image", image)
	return nil
}

// annotate writes the ConfigMap's annotations when they changed.
func (s *Builds) annotate(ctx context.Context, cm *corev1.ConfigMap, ann map[string]string) error {
	same := len(ann) == len(cm.Annotations)
	for k, v := range ann {
		if cm.Annotations[k] != v {
			same = false
		}
	}
	if same {
		return nil
	}
	cm.Annotations = ann
	return s.cfg.Client.Update(ctx, cm)
}
