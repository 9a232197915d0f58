package main

import (
	"fmt"
	"strings"

	"github.com/eddyplatform/eddy/api"
	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newDeleteCommand(g *globals) *cobra.Command {
	var files []string
	var ignoreNotFound bool
	cmd := &cobra.Command{
		Use:               "delete (-f FILE|DIR|- | KIND NAME...)",
		Short:             "Delete resources named in files or on the command line",
		ValidArgsFunction: completeKindsThenNames(g),
		RunE: func(cmd *cobra.Command, args []string) error {
			type ref struct {
				kind      *api.Kind
				namespace string
				name      string
			}
			var refs []ref
			switch {
			case len(files) > 0 && len(args) == 0:
				objs, err := readObjects(g.registry, files, cmd.InOrStdin())
				if err != nil {
					return err
				}
				for _, s := range objs {
					k, _, err := g.registry.ForGVK(api.GVK(s.obj))
					if err != nil {
						return err
					}
					ns := s.obj.GetNamespace()
					if ns == "" {
						ns = g.namespace
					}
					refs = append(refs, ref{k, ns, s.obj.GetName()})
				}
			case len(files) == 0 && len(args) >= 2:
				k, err := g.registry.Resolve(args[0])
				if err != nil {
					return err
				}
				for _, name := range args[1:] {
					refs = append(refs, ref{k, g.namespace, name})
				}
			default:
				return fmt.Errorf("delete needs either -f FILE or KIND NAME...")
			}
			dc, err := g.dynamicClient()
			if err != nil {
				return err
			}
			var failed []string
			for _, r := range refs {
				err := resourceFor(dc, r.kind, "", r.namespace).Delete(cmd.Context(), r.name, metav1.DeleteOptions{})
				label := strings.ToLower(r.kind.Kind) + "/" + r.name
				switch {
				case err == nil:
					fmt.Fprintf(cmd.OutOrStdout(), "%s deleted\n", label)
				case apierrors.IsNotFound(err) && ignoreNotFound:
				default:
					failed = append(failed, fmt.Sprintf("%s: %v", label, friendly(g.server, err)))
				}
			}
			if len(failed) > 0 {
				return fmt.Errorf("%s", strings.Join(failed, "\n"))
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "file, directory or - naming the resources to delete")
	cmd.Flags().BoolVar(&ignoreNotFound, "ignore-not-found", false, "treat a missing resource as deleted")
	return cmd
}
