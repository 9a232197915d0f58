package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// logsOptions are `eddy logs`'s flags.
type logsOptions struct {
	follow   bool
	tail     int
	instance string
}

func newLogsCommand(g *globals) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs KIND/NAME",
		Short: "Print the output of a revision's instances, a service's latest revision, or a build's steps",
		Long: "Logs prints what a revision's instances wrote to stdout and stderr, each line prefixed\n" +
			"with its instance. KIND/NAME is revision/NAME, or service/NAME (ksvc/NAME) for the\n" +
			"service's latest ready revision.",
		Example: "  eddy logs ksvc/helloworld-go\n  eddy logs revision/helloworld-go-00001 -f --tail 20\n  eddy logs build/hello-build -f",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until interrupted")
	f.IntVar(&o.tail, "tail", 0, "print only the last N lines of each instance (0: every line kept)")
	f.StringVar(&o.instance, "instance", "", "only this instance")
	return cmd
}

func runLogs(cmd *cobra.Command, g *globals, o *logsOptions, ref string) error {
	kind, name, ok := strings.Cut(ref, "/")
	if !ok || name == "" {
		return fmt.Errorf("name what to show as KIND/NAME, such as revision/hello-00001 or ksvc/hello")
	}
	k, err := g.registry.Resolve(kind)
	if err != nil {
		return err
	}
	rev := name
	path := "/apis/serving.knative.dev/v1/namespaces/%s/revisions/%s/log?%s"
	switch k.Kind {
	case "Build":
		path = "/apis/build.knative.dev/v1alpha1/namespaces/%s/builds/%s/log?%s"
	case "Revision":
	case "Service", "Configuration":
		dc, err := g.dynamicClient()
		if err != nil {
			return err
		}
		u, err := resourceFor(dc, k, "", g.namespace).Get(cmd.Context(), name, metav1.GetOptions{})
		if err != nil {
			return friendly(g.server, err)
		}
		latest, _, _ := unstructured.NestedString(u.Object, "status", "latestReadyRevisionName")
		if latest == "" {
			latest, _, _ = unstructured.NestedString(u.Object, "status", "latestCreatedRevisionName")
		}
		if latest == "" {
			return fmt.Errorf("%s %s has no revision yet", strings.ToLower(k.Kind), name)
		}
		rev = latest
	default:
		return fmt.Errorf("%s has no logs: use revision/NAME, service/NAME or build/NAME", k.Plural)
	}
	cfg, err := g.restConfig()
	if err != nil {
		return err
	}
	q := url.Values{}
	if o.follow {
		q.Set("follow", "true")
	}
	if o.tail > 0 {
		q.Set("tailLines", strconv.Itoa(o.tail))
	}
	if o.instance != "" {
		q.Set("instance", o.instance)
	}
	u := strings.TrimSuffix(cfg.Host, "/") + fmt.Sprintf(path, url.PathEscape(g.namespace), url.PathEscape(rev), q.Encode())
	req, err := http.NewRequestWithContext(cmd.Context(), "GET", u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return friendly(g.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("logs of %s %s: %s: %s", strings.ToLower(k.Kind), rev, resp.Status, strings.TrimSpace(string(body)))
	}
	_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
	return err
}
