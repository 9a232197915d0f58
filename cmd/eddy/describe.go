package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func newDescribeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:               "describe KIND NAME",
		Short:             "Show one resource in detail, with its conditions and recorded events",
		Args:              cobra.ExactArgs(2),
		ValidArgsFunction: completeKindsThenNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := g.registry.Resolve(args[0])
			if err != nil {
				return err
			}
			dc, err := g.dynamicClient()
			if err != nil {
				return err
			}
			u, err := resourceFor(dc, k, "", g.namespace).Get(cmd.Context(), args[1], metav1.GetOptions{})
			if err != nil {
				return friendly(g.server, err)
			}
			evk, err := g.registry.Resolve("events")
			if err != nil {
				return err
			}
			ns := u.GetNamespace()
			if ns == "" {
				ns = "default"
			}
			evs, err := resourceFor(dc, evk, "", ns).List(cmd.Context(), metav1.ListOptions{
				FieldSelector: "involvedObject.name=" + u.GetName() + ",involvedObject.kind=" + k.Kind,
			})
			if err != nil {
				return friendly(g.server, err)
			}
			return describe(cmd.OutOrStdout(), k, u, evs.Items, time.Now())
		},
	}
}

// describe writes a human description of u: metadata, spec, conditions, other status and the
// events recorded about it. Secret values are redacted.
func describe(w io.Writer, k *api.Kind, u *unstructured.Unstructured, events []unstructured.Unstructured, now time.Time) error {
	obj := k.NewStorage()
	if err := api.FromUnstructured(u, obj); err != nil {
		return err
	}
	red := u.DeepCopy()
	if k.Redact != nil {
		k.Redact(red)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 1, ' ', 0)
	fmt.Fprintf(tw, "Name:\t%s\n", obj.GetName())
	if obj.GetNamespace() != "" {
		fmt.Fprintf(tw, "Namespace:\t%s\n", obj.GetNamespace())
	}
	fmt.Fprintf(tw, "Kind:\t%s (%s)\n", k.Kind, red.GetAPIVersion())
	fmt.Fprintf(tw, "Labels:\t%s\n", kv(obj.GetLabels()))
	fmt.Fprintf(tw, "Annotations:\t%s\n", kv(obj.GetAnnotations()))
	fmt.Fprintf(tw, "Created:\t%s (%s ago)\n", obj.GetCreationTimestamp().UTC().Format(time.RFC3339), age(obj.GetCreationTimestamp(), now))
	fmt.Fprintf(tw, "Generation:\t%d\n", obj.GetGeneration())
	fmt.Fprintf(tw, "UID:\t%s\n", obj.GetUID())
	tw.Flush()

	body := red.DeepCopy().Object
	delete(body, "apiVersion")
	delete(body, "kind")
	delete(body, "metadata")
	status, _ := body["status"].(map[string]any)
	delete(body, "status")
	if len(body) > 0 {
		if err := writeYAMLSection(w, "", body); err != nil {
			return err
		}
	}
	if so, ok := obj.(api.StatusObject); ok {
		st := so.GetStatus()
		fmt.Fprintf(w, "Conditions:\n")
		if len(st.Conditions) == 0 {
			fmt.Fprintf(w, "  <none>\n")
		} else {
			ctw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
			fmt.Fprintln(ctw, "  TYPE\tSTATUS\tAGE\tREASON\tMESSAGE")
			for _, c := range st.Conditions {
				fmt.Fprintf(ctw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, age(c.LastTransitionTime, now), c.Reason, c.Message)
			}
			ctw.Flush()
		}
		if status != nil {
			delete(status, "conditions")
		}
	}
	if len(status) > 0 {
		if err := writeYAMLSection(w, "Status", status); err != nil {
			return err
		}
	}
	return writeEvents(w, events, now)
}

func writeYAMLSection(w io.Writer, title string, v map[string]any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	indent := ""
	if title != "" {
		fmt.Fprintf(w, "%s:\n", title)
		indent = "  "
	}
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if line != "" && line[0] != ' ' && line[0] != '-' && indent == "" {
			// top-level keys read as section titles: "spec:" → "Spec:"
			line = strings.ToUpper(line[:1]) + line[1:]
		}
		fmt.Fprintf(w, "%s%s\n", indent, line)
	}
	return nil
}

func writeEvents(w io.Writer, events []unstructured.Unstructured, now time.Time) error {
	fmt.Fprintf(w, "Events:\n")
	if len(events) == 0 {
		fmt.Fprintf(w, "  <none>\n")
		return nil
	}
	evs := make([]corev1.Event, len(events))
	for i := range events {
		if err := api.FromUnstructured(&events[i], &evs[i]); err != nil {
			return err
		}
	}
	last := func(e corev1.Event) time.Time {
		if !e.LastTimestamp.IsZero() {
			return e.LastTimestamp.Time
		}
		return e.CreationTimestamp.Time
	}
	sort.SliceStable(evs, func(i, j int) bool { return last(evs[i]).Before(last(evs[j])) })
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tFROM\tMESSAGE")
	for _, e := range evs {
		when := age(metav1.NewTime(last(e)), now)
		if e.Count > 1 {
			when = fmt.Sprintf("%s (x%d)", when, e.Count)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Type, e.Reason, when, e.Source.Component, e.Message)
	}
	return tw.Flush()
}

func kv(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := m[k]
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		parts[i] = k + "=" + v
	}
	return strings.Join(parts, "\n\t")
}
