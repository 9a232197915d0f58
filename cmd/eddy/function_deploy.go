package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/eddyplatform/eddy/api"
	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
)

// pollInterval is how often build and deploy look at the objects they wait for.
const pollInterval = 200 * time.Millisecond

// functionClient is what build and deploy share: the API client, the namespace and where to
// print.
type functionClient struct {
	g   *globals
	dc  dynamic.Interface
	ns  string
	out io.Writer
}

func (g *globals) functionClient(out io.Writer) (*functionClient, error) {
	dc, err := g.dynamicClient()
	if err != nil {
		return nil, err
	}
	return &functionClient{g: g, dc: dc, ns: g.namespace, out: out}, nil
}

// resource returns the client of a kind (by any of its names) in the namespace.
func (f *functionClient) resource(kind string) (dynamic.ResourceInterface, error) {
	k, err := f.g.registry.Resolve(kind)
	if err != nil {
		return nil, err
	}
	return resourceFor(f.dc, k, "", f.ns), nil
}

func newBuildCommand(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "build [DIR]",
		Short: "Build a function (default the current directory) into an artifact",
		Long: "Build runs the go-function template over the function's directory (a local source: the\n" +
			"API server must run on this machine) as the Build NAME-HASH, HASH being a digest of the\n" +
			"directory's files but func.yaml and hidden ones. Unchanged code maps to the same Build:\n" +
			"when it already succeeded, build does nothing; a failed one is run again. It prints the\n" +
			"steps as they change, the logs of a failing step, and the artifact.",
		Example: "  eddy build\n  eddy build ./hello -n dev",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, fn, err := loadFunction(argOr(args, "."))
			if err != nil {
				return err
			}
			f, err := g.functionClient(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			_, err = f.ensureBuild(ctx, dir, fn)
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the build")
	return cmd
}

func newDeployCommand(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "deploy [DIR]",
		Short: "Build a function if needed and run it as a Service, subscribed to its events",
		Long: "Deploy builds the function (as `eddy build` does), creates or updates the Service NAME\n" +
			"with the image build://NAMESPACE/BUILD and func.yaml's env and annotations, creates or\n" +
			"updates a Trigger per events: entry (and deletes the function's Triggers no longer\n" +
			"listed), waits until the Service is Ready with its latest revision and prints its URL.\n" +
			"Deploying unchanged code and settings changes nothing: no new Build, no new Revision.",
		Example: "  eddy deploy\n  eddy deploy ./hello --timeout 2m",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, fn, err := loadFunction(argOr(args, "."))
			if err != nil {
				return err
			}
			f, err := g.functionClient(cmd.OutOrStdout())
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			return f.deploy(ctx, dir, fn)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the build and the Service")
	return cmd
}

func argOr(args []string, def string) string {
	if len(args) > 0 {
		return args[0]
	}
	return def
}

// ensureBuild makes sure the Build of dir's current code succeeded, creating (or re-running)
// it as needed, and returns its name.
func (f *functionClient) ensureBuild(ctx context.Context, dir string, fn *funcConfig) (string, error) {
	sum, err := contentHash(dir)
	if err != nil {
		return "", err
	}
	name := fn.Name + "-" + sum[:hashLen]
	ri, err := f.resource("builds")
	if err != nil {
		return "", err
	}
	u, err := ri.Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		var b apibuild.Build
		if err := api.FromUnstructured(u, &b); err != nil {
			return "", err
		}
		if b.Status.IsSucceeded() {
			fmt.Fprintf(f.out, "build/%s is up to date\n", name)
			printArtifact(f.out, &b)
			return name, nil
		}
		if b.Status.IsDone() {
			fmt.Fprintf(f.out, "build/%s failed before (%s): running it again\n", name, conditionText(&b))
			if err := f.deleteAndWait(ctx, ri, name); err != nil {
				return "", err
			}
			if err := f.createBuild(ctx, ri, name, dir, fn, sum); err != nil {
				return "", err
			}
		} else {
			fmt.Fprintf(f.out, "build/%s is running\n", name)
		}
	case apierrors.IsNotFound(err):
		if err := f.createBuild(ctx, ri, name, dir, fn, sum); err != nil {
			return "", err
		}
	default:
		return "", friendly(f.g.server, err)
	}
	return name, f.waitBuild(ctx, ri, name)
}

func (f *functionClient) createBuild(ctx context.Context, ri dynamic.ResourceInterface, name, dir string, fn *funcConfig, sum string) error {
	b := &apibuild.Build{
		TypeMeta: metav1.TypeMeta{APIVersion: apibuild.Group + "/" + apibuild.Version, Kind: "Build"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns,
			Labels:      map[string]string{functionLabel: fn.Name},
			Annotations: map[string]string{"eddy.dev/source-sha256": sum}},
		Spec: apibuild.BuildSpec{
			Source:   &apibuild.SourceSpec{Local: &apibuild.LocalSourceSpec{Path: dir}},
			Template: &apibuild.TemplateInstantiationSpec{Name: "go-function", Kind: apibuild.ClusterBuildTemplateKind},
		},
	}
	u, err := api.ToUnstructured(b)
	if err != nil {
		return err
	}
	if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return friendly(f.g.server, err)
	}
	fmt.Fprintf(f.out, "build/%s created (go-function of %s)\n", name, dir)
	return nil
}

func (f *functionClient) deleteAndWait(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	if err := ri.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return poll(ctx, "build/"+name+" to be deleted", func() (bool, error) {
		_, err := ri.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

// waitBuild prints the build's step states as they change until it finishes; when it
// failed, it prints the build's logs and returns an error.
func (f *functionClient) waitBuild(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	start := time.Now()
	seen := map[string]string{}
	var b apibuild.Build
	err := poll(ctx, "build/"+name, func() (bool, error) {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		b = apibuild.Build{}
		if err := api.FromUnstructured(u, &b); err != nil {
			return false, err
		}
		for _, s := range b.Status.StepStates {
			if st := stepText(&s); st != seen[s.Name] {
				seen[s.Name] = st
				fmt.Fprintf(f.out, "  step %s: %s\n", s.Name, st)
			}
		}
		return b.Status.IsDone(), nil
	})
	if err != nil {
		return err
	}
	if b.Status.IsSucceeded() {
		fmt.Fprintf(f.out, "build/%s succeeded in %.1fs\n", name, time.Since(start).Seconds())
		printArtifact(f.out, &b)
		return nil
	}
	fmt.Fprintf(f.out, "build/%s failed: %s\n", name, conditionText(&b))
	if logs, err := f.buildLogs(ctx, name); err == nil && logs != "" {
		fmt.Fprintf(f.out, "--- logs of build/%s ---\n%s", name, logs)
		if !strings.HasSuffix(logs, "\n") {
			fmt.Fprintln(f.out)
		}
	} else if err != nil {
		fmt.Fprintf(f.out, "(no logs: %v)\n", err)
	}
	return fmt.Errorf("build/%s failed: %s", name, conditionText(&b))
}

// buildLogs reads the build's log subresource.
func (f *functionClient) buildLogs(ctx context.Context, name string) (string, error) {
	cfg, err := f.g.restConfig()
	if err != nil {
		return "", err
	}
	u := strings.TrimSuffix(cfg.Host, "/") + fmt.Sprintf("/apis/%s/%s/namespaces/%s/builds/%s/log",
		apibuild.Group, apibuild.Version, url.PathEscape(f.ns), url.PathEscape(name))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return string(body), nil
}

func stepText(s *apibuild.StepState) string {
	switch {
	case s.Terminated != nil:
		t := s.Terminated
		if t.ExitCode == 0 {
			return "done"
		}
		msg := fmt.Sprintf("failed with exit code %d", t.ExitCode)
		if t.Reason != "" {
			msg += " (" + t.Reason + ")"
		}
		return msg
	case s.Running != nil:
		return "running"
	case s.Waiting != nil && s.Waiting.Reason != "":
		return "waiting (" + s.Waiting.Reason + ")"
	}
	return "waiting"
}

func conditionText(b *apibuild.Build) string {
	c := b.Status.Succeeded()
	if c == nil {
		return "no status yet"
	}
	if c.Message == "" {
		return c.Reason
	}
	return c.Reason + ": " + c.Message
}

func printArtifact(out io.Writer, b *apibuild.Build) {
	if a := b.Status.Artifact; a != nil {
		fmt.Fprintf(out, "artifact %s %s (%d bytes)\n", apibuild.ArtifactURI(b.Namespace, b.Name), a.Digest, a.Size)
	}
}

// poll calls cond every pollInterval until it reports true, fails, or ctx ends.
func poll(ctx context.Context, what string, cond func() (bool, error)) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		done, err := cond()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("timed out waiting for %s", what)
			}
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for %s", what)
		case <-t.C:
		}
	}
}

// deploy builds the function, then creates or updates its Service and Triggers and waits
// for the Service.
func (f *functionClient) deploy(ctx context.Context, dir string, fn *funcConfig) error {
	build, err := f.ensureBuild(ctx, dir, fn)
	if err != nil {
		return err
	}
	ri, err := f.resource("services.serving.knative.dev")
	if err != nil {
		return err
	}
	if err := f.applyService(ctx, ri, fn, apibuild.ArtifactURI(f.ns, build)); err != nil {
		return err
	}
	if err := f.applyTriggers(ctx, fn); err != nil {
		return err
	}
	return f.waitService(ctx, ri, fn.Name)
}

// desiredTemplate is the revision template func.yaml and the build ask for.
func (f *functionClient) desiredTemplate(fn *funcConfig, image string) serving.RevisionTemplateSpec {
	var env []corev1.EnvVar
	for _, k := range sortedKeys(fn.Env) {
		env = append(env, corev1.EnvVar{Name: k, Value: fn.Env[k]})
	}
	t := serving.RevisionTemplateSpec{}
	if len(fn.Annotations) > 0 {
		t.Annotations = map[string]string{}
		for k, v := range fn.Annotations {
			t.Annotations[k] = v
		}
	}
	t.Spec.Containers = []corev1.Container{{Image: image, Env: env}}
	return t
}

// applyService creates the function's Service, or updates its template when the image, the
// env or func.yaml's annotations differ; an unchanged Service is not written (no Revision).
func (f *functionClient) applyService(ctx context.Context, ri dynamic.ResourceInterface, fn *funcConfig, image string) error {
	want := f.desiredTemplate(fn, image)
	managed := strings.Join(sortedKeys(fn.Annotations), ",")
	u, err := ri.Get(ctx, fn.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		svc := &serving.Service{
			TypeMeta: metav1.TypeMeta{APIVersion: serving.Group + "/" + serving.Version, Kind: "Service"},
			ObjectMeta: metav1.ObjectMeta{Name: fn.Name, Namespace: f.ns,
				Labels:      map[string]string{functionLabel: fn.Name},
				Annotations: map[string]string{managedAnnotations: managed}},
		}
		svc.Spec.Template = want
		u, err := api.ToUnstructured(svc)
		if err != nil {
			return err
		}
		if _, err := ri.Create(ctx, u, metav1.CreateOptions{}); err != nil {
			return friendly(f.g.server, err)
		}
		fmt.Fprintf(f.out, "service/%s created (image %s)\n", fn.Name, image)
		return nil
	}
	if err != nil {
		return friendly(f.g.server, err)
	}
	var svc serving.Service
	if err := api.FromUnstructured(u, &svc); err != nil {
		return err
	}
	// A copy of the template as it is (RevisionTemplateSpec's DeepCopy is ObjectMeta's).
	var old serving.RevisionTemplateSpec
	if data, err := json.Marshal(&svc.Spec.Template); err != nil {
		return err
	} else if err := json.Unmarshal(data, &old); err != nil {
		return err
	}
	t := &svc.Spec.Template
	// Annotations func.yaml set last time and no longer sets are removed; the rest stay.
	for _, k := range strings.Split(svc.Annotations[managedAnnotations], ",") {
		if _, ok := fn.Annotations[k]; !ok && k != "" {
			delete(t.Annotations, k)
		}
	}
	for k, v := range want.Annotations {
		if t.Annotations == nil {
			t.Annotations = map[string]string{}
		}
		t.Annotations[k] = v
	}
	if len(t.Spec.Containers) == 0 {
		t.Spec.Containers = []corev1.Container{{}}
	}
	c := &t.Spec.Containers[0]
	if c.Image != image {
		c.Image, c.Command, c.Args = image, nil, nil
	}
	if !reflect.DeepEqual(c.Env, want.Spec.Containers[0].Env) && (len(c.Env) > 0 || len(want.Spec.Containers[0].Env) > 0) {
		c.Env = want.Spec.Containers[0].Env
	}
	if apiequality.Semantic.DeepEqual(&old, t) && svc.Annotations[managedAnnotations] == managed {
		fmt.Fprintf(f.out, "service/%s unchanged\n", fn.Name)
		return nil
	}
	if !apiequality.Semantic.DeepEqual(&old, t) {
		t.Name = "" // a new template needs a new revision name: let the controller pick it
	}
	if svc.Annotations == nil {
		svc.Annotations = map[string]string{}
	}
	svc.Annotations[managedAnnotations] = managed
	if svc.Labels == nil {
		svc.Labels = map[string]string{}
	}
	svc.Labels[functionLabel] = fn.Name
	nu, err := api.ToUnstructured(&svc)
	if err != nil {
		return err
	}
	delete(nu.Object, "status")
	if _, err := ri.Update(ctx, nu, metav1.UpdateOptions{}); err != nil {
		return friendly(f.g.server, err)
	}
	fmt.Fprintf(f.out, "service/%s configured (image %s)\n", fn.Name, image)
	return nil
}

// applyTriggers creates or updates a Trigger per events: entry, subscribing the Service,
// and deletes the function's Triggers that func.yaml no longer lists.
func (f *functionClient) applyTriggers(ctx context.Context, fn *funcConfig) error {
	k, err := f.g.registry.Resolve("triggers.eventing.knative.dev")
	if err != nil {
		return err
	}
	wanted := map[string]bool{}
	for i, e := range fn.Events {
		tr := &eventing.Trigger{
			TypeMeta: metav1.TypeMeta{APIVersion: k.Group + "/" + k.StorageVersion().Name, Kind: "Trigger"},
			ObjectMeta: metav1.ObjectMeta{Name: fn.triggerName(i), Namespace: f.ns,
				Labels: map[string]string{functionLabel: fn.Name}},
			Spec: eventing.TriggerSpec{
				Broker:     e.Broker,
				Subscriber: duck.Destination{Ref: &duck.KReference{APIVersion: serving.Group + "/" + serving.Version, Kind: "Service", Name: fn.Name}},
			},
		}
		if len(e.Filter.Attributes) > 0 {
			tr.Spec.Filter = &eventing.TriggerFilter{Attributes: eventing.TriggerFilterAttributes(e.Filter.Attributes)}
		}
		wanted[tr.Name] = true
		result, err := applyOne(ctx, f.dc, f.g.registry, tr, f.ns, false)
		if err != nil {
			return fmt.Errorf("trigger/%s: %w", tr.Name, friendly(f.g.server, err))
		}
		fmt.Fprintf(f.out, "trigger/%s %s (broker %s → service/%s)\n", tr.Name, result, e.Broker, fn.Name)
	}
	ri := resourceFor(f.dc, k, "", f.ns)
	list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: functionLabel + "=" + fn.Name})
	if err != nil {
		return friendly(f.g.server, err)
	}
	for _, t := range list.Items {
		if !wanted[t.GetName()] {
			if err := ri.Delete(ctx, t.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			fmt.Fprintf(f.out, "trigger/%s deleted (no longer in %s)\n", t.GetName(), funcFile)
		}
	}
	return nil
}

// waitService waits until the Service observed its latest generation and is Ready with its
// latest created revision, then prints its URL and how to reach it.
func (f *functionClient) waitService(ctx context.Context, ri dynamic.ResourceInterface, name string) error {
	var svc serving.Service
	err := poll(ctx, "service/"+name+" to be ready", func() (bool, error) {
		u, err := ri.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		svc = serving.Service{}
		if err := api.FromUnstructured(u, &svc); err != nil {
			return false, err
		}
		st := &svc.Status
		return st.ObservedGeneration >= svc.Generation && st.IsReady() && st.LatestCreatedRevisionName != "" &&
			st.LatestReadyRevisionName == st.LatestCreatedRevisionName && st.URL != "", nil
	})
	if err != nil {
		if c := svc.Status.GetCondition(api.ConditionReady); c != nil {
			return fmt.Errorf("%w: Ready %s %s: %s (see `eddy describe ksvc %s`)", err, c.Status, c.Reason, c.Message, name)
		}
		return err
	}
	fmt.Fprintf(f.out, "service/%s is ready: revision %s\nURL: %s\n", name, svc.Status.LatestReadyRevisionName, svc.Status.URL)
	if u, err := url.Parse(svc.Status.URL); err == nil && u.Port() != "" {
		fmt.Fprintf(f.out, "Try: curl -H 'Host: %s' http://127.0.0.1:%s/\n", u.Hostname(), u.Port())
	}
	return nil
}
