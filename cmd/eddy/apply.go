package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

func newApplyCommand(g *globals) *cobra.Command {
	var files []string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create or update resources from YAML or JSON files",
		Long: "Apply creates the resources a file describes, or updates them when they exist.\n" +
			"It is idempotent: it prints kind/name created, configured or unchanged.\n" +
			"With --dry-run the server defaults and validates without storing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return fmt.Errorf("apply needs -f FILE, -f DIR or -f -")
			}
			objs, err := readObjects(g.registry, files, cmd.InOrStdin())
			if err != nil {
				return err
			}
			dc, err := g.dynamicClient()
			if err != nil {
				return err
			}
			return applyObjects(cmd.Context(), dc, g.registry, objs, g.namespace, dryRun, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory (its *.yaml, *.yml and *.json files) or - for standard input; repeatable")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "default and validate on the server without storing anything")
	return cmd
}

// sourced is a decoded object and the file it came from, for error messages.
type sourced struct {
	obj  api.Object
	file string
}

// readObjects decodes every document of every named file, directory or standard input.
func readObjects(reg *api.Registry, paths []string, stdin io.Reader) ([]sourced, error) {
	var out []sourced
	for _, p := range paths {
		files, err := expand(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			var data []byte
			if f == "-" {
				data, err = io.ReadAll(stdin)
			} else {
				data, err = os.ReadFile(f)
			}
			if err != nil {
				return nil, err
			}
			objs, err := reg.DecodeAll(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for _, o := range objs {
				out = append(out, sourced{obj: o, file: f})
			}
		}
	}
	return out, nil
}

// expand lists the manifest files a -f argument names.
func expand(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no *.yaml, *.yml or *.json files", p)
	}
	return files, nil
}

// applyObjects creates or updates each object, Namespaces first, and reports every failure
// at the end rather than stopping at the first.
func applyObjects(ctx context.Context, dc dynamic.Interface, reg *api.Registry, objs []sourced, defaultNS string, dryRun bool, out io.Writer) error {
	sort.SliceStable(objs, func(i, j int) bool {
		return api.GVK(objs[i].obj).Kind == "Namespace" && api.GVK(objs[j].obj).Kind != "Namespace"
	})
	var failed []string
	for _, s := range objs {
		result, err := applyOne(ctx, dc, reg, s.obj, defaultNS, dryRun)
		name := strings.ToLower(api.GVK(s.obj).Kind) + "/" + s.obj.GetName()
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s (%s): %v", name, s.file, err))
			continue
		}
		if dryRun {
			result += " (dry run)"
		}
		fmt.Fprintf(out, "%s %s\n", name, result)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d objects failed:\n  %s", len(failed), len(objs), strings.Join(failed, "\n  "))
	}
	return nil
}

func applyOne(ctx context.Context, dc dynamic.Interface, reg *api.Registry, obj api.Object, defaultNS string, dryRun bool) (string, error) {
	gvk := api.GVK(obj)
	k, _, err := reg.ForGVK(gvk)
	if err != nil {
		return "", err
	}
	if k.Namespaced && obj.GetNamespace() == "" {
		obj.SetNamespace(defaultNS)
	}
	u, err := api.ToUnstructured(obj)
	if err != nil {
		return "", err
	}
	ri := resourceFor(dc, k, gvk.Version, obj.GetNamespace())
	var dry []string
	if dryRun {
		dry = []string{metav1.DryRunAll}
	}
	if u.GetName() == "" { // generateName: always a new object
		created, err := ri.Create(ctx, u, metav1.CreateOptions{DryRun: dry})
		if err == nil {
			obj.SetName(created.GetName())
		}
		return "created", err
	}
	existing, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = ri.Create(ctx, u, metav1.CreateOptions{DryRun: dry})
		return "created", err
	}
	if err != nil {
		return "", err
	}
	// Labels and annotations that others (controllers, users) added are kept; the file's win.
	u.SetLabels(merge(existing.GetLabels(), u.GetLabels()))
	u.SetAnnotations(merge(existing.GetAnnotations(), u.GetAnnotations()))
	u.SetResourceVersion(existing.GetResourceVersion())
	updated, err := ri.Update(ctx, u, metav1.UpdateOptions{DryRun: dry})
	if err != nil {
		return "", err
	}
	if sameDesiredState(existing, updated) {
		return "unchanged", nil
	}
	return "configured", nil
}

func merge(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	out := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// sameDesiredState reports whether an update changed nothing a user wrote: everything but
// status and server-managed metadata.
func sameDesiredState(a, b *unstructured.Unstructured) bool {
	if a.GetResourceVersion() == b.GetResourceVersion() {
		return true
	}
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy().Object
		delete(c, "status")
		delete(c, "metadata")
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b)) &&
		reflect.DeepEqual(a.GetLabels(), b.GetLabels()) &&
		reflect.DeepEqual(a.GetAnnotations(), b.GetAnnotations())
}
