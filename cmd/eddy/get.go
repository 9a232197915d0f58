package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"
)

func newGetCommand(g *globals) *cobra.Command {
	var (
		allNamespaces bool
		output        string
		selector      string
	)
	cmd := &cobra.Command{
		Use:   "get KIND[,KIND...] [NAME...]",
		Short: "List resources, or show some by name",
		Long: "Get prints a table of resources of one kind (READY, REASON, AGE and the kind's own columns),\n" +
			"or the objects themselves with -o yaml|json. KIND is a singular, plural, short name or kind.group.\n" +
			"Secret values are never printed.",
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeKindsThenNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			kindNames := strings.Split(args[0], ",")
			if len(kindNames) > 1 {
				if len(args) > 1 {
					return fmt.Errorf("names can't be given with several kinds (%s)", args[0])
				}
				for i, kn := range kindNames {
					if i > 0 {
						fmt.Fprintln(cmd.OutOrStdout())
					}
					sub := append([]string{kn}, args[1:]...)
					if err := cmd.RunE(cmd, sub); err != nil {
						return err
					}
				}
				return nil
			}
			k, err := g.registry.Resolve(args[0])
			if err != nil {
				return err
			}
			dc, err := g.dynamicClient()
			if err != nil {
				return err
			}
			ns := g.namespace
			if allNamespaces {
				ns = ""
			}
			ri := resourceFor(dc, k, "", ns)
			var items []unstructured.Unstructured
			if len(args) > 1 {
				for _, name := range args[1:] {
					u, err := ri.Get(cmd.Context(), name, metav1.GetOptions{})
					if err != nil {
						return friendly(g.server, err)
					}
					items = append(items, *u)
				}
			} else {
				l, err := ri.List(cmd.Context(), metav1.ListOptions{LabelSelector: selector})
				if err != nil {
					return friendly(g.server, err)
				}
				items = l.Items
			}
			return printObjects(cmd.OutOrStdout(), k, items, output, allNamespaces && k.Namespaced, len(args) > 1 && len(items) == 1)
		},
	}
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "list across all namespaces")
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: wide, yaml or json")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "label selector, such as app=hello,tier!=db")
	return cmd
}

// printObjects writes items as a table or as YAML/JSON; secret values are never printed.
func printObjects(w io.Writer, k *api.Kind, items []unstructured.Unstructured, output string, withNamespace, single bool) error {
	switch output {
	case "", "wide":
		typed := make([]api.Object, 0, len(items))
		for i := range items {
			obj := k.NewStorage()
			if err := api.FromUnstructured(&items[i], obj); err != nil {
				return err
			}
			typed = append(typed, obj)
		}
		if len(typed) == 0 {
			fmt.Fprintf(w, "No %s found.\n", k.Plural)
			return nil
		}
		return printTable(w, k, typed, output == "wide", withNamespace, time.Now())
	case "yaml", "json":
		shown := make([]any, len(items))
		for i := range items {
			u := items[i].DeepCopy()
			if k.Redact != nil {
				k.Redact(u)
			}
			shown[i] = u.Object
		}
		var v any = shown
		if single {
			v = shown[0]
		} else {
			v = map[string]any{"apiVersion": "v1", "kind": "List", "items": shown}
		}
		var data []byte
		var err error
		if output == "yaml" {
			data, err = yaml.Marshal(v)
		} else {
			data, err = json.MarshalIndent(v, "", "  ")
			data = append(data, '\n')
		}
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	default:
		return fmt.Errorf("unknown output format %q: use wide, yaml or json", output)
	}
}

// printTable writes the kubectl-like table of objects of kind k.
func printTable(w io.Writer, k *api.Kind, objs []api.Object, wide, withNamespace bool, now time.Time) error {
	_, conditioned := k.NewStorage().(api.StatusObject)
	var header []string
	if withNamespace {
		header = append(header, "NAMESPACE")
	}
	header = append(header, "NAME")
	for _, c := range k.Columns {
		if !c.Wide || wide {
			header = append(header, c.Name)
		}
	}
	if conditioned {
		header = append(header, "READY", "REASON")
	}
	header = append(header, "AGE")
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	sort.SliceStable(objs, func(i, j int) bool {
		if objs[i].GetNamespace() != objs[j].GetNamespace() {
			return objs[i].GetNamespace() < objs[j].GetNamespace()
		}
		return objs[i].GetName() < objs[j].GetName()
	})
	for _, o := range objs {
		var row []string
		if withNamespace {
			row = append(row, o.GetNamespace())
		}
		row = append(row, o.GetName())
		for _, c := range k.Columns {
			if !c.Wide || wide {
				row = append(row, cell(c.Value(o)))
			}
		}
		if so, ok := o.(api.StatusObject); ok {
			ready, reason := "Unknown", ""
			if c := so.GetStatus().GetCondition(readyType(k)); c != nil {
				ready, reason = string(c.Status), c.Reason
			}
			row = append(row, ready, cell(reason))
		}
		row = append(row, age(o.GetCreationTimestamp(), now))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// readyType is the condition a kind's READY column shows: Succeeded for run-to-completion
// kinds that report it, Ready otherwise.
func readyType(k *api.Kind) api.ConditionType {
	if k.Kind == "Build" {
		return api.ConditionSucceeded
	}
	return api.ConditionReady
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "\t", " ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return "<none>"
	}
	return s
}

func age(t metav1.Time, now time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t.Time))
}

// completeKindsThenNames completes the first argument with kind names and later ones with
// object names from the server.
func completeKindsThenNames(g *globals) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) == 0 {
			var names []string
			for _, k := range g.registry.Kinds() {
				names = append(names, k.Plural)
				names = append(names, k.ShortNames...)
			}
			sort.Strings(names)
			return names, cobra.ShellCompDirectiveNoFileComp
		}
		k, err := g.registry.Resolve(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		dc, err := g.dynamicClient()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
		defer cancel()
		l, err := resourceFor(dc, k, "", g.namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, it := range l.Items {
			names = append(names, it.GetName())
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}
