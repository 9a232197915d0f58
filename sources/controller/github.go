package controller

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eddyplatform/eddy/api/sources"
	"github.com/eddyplatform/eddy/control/reconciler"
	eddysources "github.com/eddyplatform/eddy/sources"
	"github.com/eddyplatform/eddy/sources/github"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
)

// GitHubFinalizer keeps a deleted GitHubSource until its webhook is removed from GitHub.
const GitHubFinalizer = "githubsources.sources.knative.dev"

// githubRoutes serves each GitHubSource's receiver at GitHubPathPrefix{namespace}/{name}.
type githubRoutes struct {
	mu        sync.RWMutex
	receivers map[string]*github.Receiver // namespace/name
}

func newGitHubRoutes() *githubRoutes { return &githubRoutes{receivers: map[string]*github.Receiver{}} }

func (g *githubRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.Trim(strings.TrimPrefix(r.URL.Path, GitHubPathPrefix), "/")
	g.mu.RLock()
	rc, ok := g.receivers[key]
	g.mu.RUnlock()
	if !ok {
		http.Error(w, "no GitHubSource at "+r.URL.Path, http.StatusNotFound)
		return
	}
	rc.ServeHTTP(w, r)
}

func (g *githubRoutes) get(key string) *github.Receiver {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.receivers[key]
}

func (g *githubRoutes) set(key string, rc *github.Receiver) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.receivers[key] = rc
}

func (g *githubRoutes) remove(key string) {
	g.mu.Lock()
	rc, ok := g.receivers[key]
	delete(g.receivers, key)
	g.mu.Unlock()
	if ok {
		rc.Close()
	}
}

// githubReconciler runs GitHubSources: a receiver on the ingress port, and with an access
// token the webhook on GitHub that delivers to it.
type githubReconciler struct{ *Sources }

func (r *githubReconciler) Reconcile(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return reconciler.Permanent(err)
	}
	src := &sources.GitHubSource{}
	if err := r.cfg.Client.Get(ctx, ns, name, src); apierrors.IsNotFound(err) {
		r.github.remove(key)
		r.forgetEventTypes(ctx, ns, "GitHubSource", name)
		return nil
	} else if err != nil {
		return err
	}
	if src.DeletionTimestamp != nil {
		return r.finalize(ctx, key, src)
	}
	orig := reconciler.DeepCopy(src)
	err = r.reconcile(ctx, key, src)
	src.Status.ObservedGeneration = src.Generation
	if _, serr := r.cfg.Client.UpdateStatusIfChanged(ctx, orig, src); serr != nil {
		return serr
	}
	return err
}

// callbackURL is where the source's receiver listens.
func (r *githubReconciler) callbackURL(ns, name string) string {
	return strings.TrimSuffix(r.cfg.IngressURL, "/") + GitHubPathPrefix + ns + "/" + name
}

func (r *githubReconciler) reconcile(ctx context.Context, key string, src *sources.GitHubSource) error {
	st := &src.Status
	st.InitializeConditions()
	ns := src.Namespace
	secret, err := r.secretValue(ctx, ns, src.Spec.SecretToken.SecretKeyRef)
	if err != nil {
		st.MarkNoSecrets("SecretTokenNotFound", "%v", err)
		r.github.remove(key)
		return nil
	}
	var token []byte
	if !src.Spec.AccessToken.IsEmpty() {
		if token, err = r.secretValue(ctx, ns, src.Spec.AccessToken.SecretKeyRef); err != nil {
			st.MarkNoSecrets("AccessTokenNotFound", "%v", err)
			r.github.remove(key)
			return nil
		}
	}
	st.MarkSecrets()
	sink, overrides, err := r.resolveSink(ctx, ns, &src.Spec.SourceSpec)
	if err != nil {
		st.MarkNoSink("NotFound", "%v", err)
		r.github.remove(key)
		return nil
	}
	st.MarkSink(sink.String())

	// The receiver: one per source, updated in place (secret rotation, event types, sink).
	sender := eddysources.NewSinkSender(r.cfg.HTTPClient, eddysources.DefaultPolicy)
	sender.SetSink(sink, overrides)
	rcfg := github.ReceiverConfig{Secret: secret, OwnerAndRepository: src.Spec.OwnerAndRepository, EventTypes: src.Spec.EventTypes,
		Sender: r.counted("GitHubSource/"+key, sender), Logger: r.log.With("githubsource", key), Metrics: r.cfg.Metrics, Namespace: ns, Name: src.Name}
	if rc := r.github.get(key); rc != nil {
		if err := rc.Update(rcfg); err != nil {
			st.MarkWebhookNotConfigured("ReceiverFailed", "%v", err)
			return err
		}
	} else {
		rc, err := github.NewReceiver(rcfg)
		if err != nil {
			st.MarkWebhookNotConfigured("ReceiverFailed", "%v", err)
			return reconciler.Permanent(err)
		}
		r.github.set(key, rc)
	}
	infos := github.EventTypeInfos(github.MapOptions{OwnerAndRepository: src.Spec.OwnerAndRepository}, src.Spec.EventTypes)
	st.CloudEventAttributes = attributes(infos)
	r.recordEventTypes(ctx, src, "GitHubSource", infos)

	// The webhook on GitHub, when there is an access token to register it with.
	callback := r.callbackURL(ns, src.Name)
	st.URL = callback
	if len(token) == 0 {
		st.MarkWebhookConfigured("")
		return nil
	}
	if !slices.Contains(src.Finalizers, GitHubFinalizer) {
		src.Finalizers = append(src.Finalizers, GitHubFinalizer)
		if err := r.cfg.Client.Update(ctx, src); err != nil {
			return err
		}
	}
	reg := github.RegisterConfig{APIURL: src.Spec.GitHubAPIURL, Token: string(token), OwnerAndRepository: src.Spec.OwnerAndRepository,
		EventTypes: src.Spec.EventTypes, CallbackURL: callback, Secret: secret}
	if st.WebhookIDKey != "" {
		id, _ := strconv.ParseInt(st.WebhookIDKey, 10, 64)
		if err := github.UpdateRegistration(ctx, reg, id); err != nil {
			st.MarkWebhookNotConfigured("UpdateFailed", "%v", err)
			return err
		}
		st.MarkWebhookConfigured(st.WebhookIDKey)
		return nil
	}
	id, err := github.Register(ctx, reg)
	if err != nil {
		st.MarkWebhookNotConfigured("RegistrationFailed", "registering the webhook on %s: %v", src.Spec.OwnerAndRepository, err)
		return err
	}
	st.MarkWebhookConfigured(strconv.FormatInt(id, 10))
	return nil
}

// finalize removes a deleted source's webhook from GitHub, then lets the source go.
func (r *githubReconciler) finalize(ctx context.Context, key string, src *sources.GitHubSource) error {
	r.github.remove(key)
	if !slices.Contains(src.Finalizers, GitHubFinalizer) {
		return nil
	}
	if id, err := strconv.ParseInt(src.Status.WebhookIDKey, 10, 64); err == nil && !src.Spec.AccessToken.IsEmpty() {
		token, err := r.secretValue(ctx, src.Namespace, src.Spec.AccessToken.SecretKeyRef)
		if err != nil {
			return fmt.Errorf("removing the webhook of %s: %w", key, err)
		}
		if err := github.Unregister(ctx, github.RegisterConfig{APIURL: src.Spec.GitHubAPIURL, Token: string(token), OwnerAndRepository: src.Spec.OwnerAndRepository}, id); err != nil {
			return fmt.Errorf("removing the webhook of %s: %w", key, err)
		}
	}
	src.Finalizers = slices.DeleteFunc(src.Finalizers, func(f string) bool { return f == GitHubFinalizer })
	return r.cfg.Client.Update(ctx, src)
}
