package main

import (
	"os"
	"path/filepath"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/kinds"
	"github.com/spf13/cobra"
)

// globals are the flags every client verb shares.
type globals struct {
	server    string
	token     string
	namespace string
	registry  *api.Registry
}

// defaultDataDir is where `eddy up` keeps its state and where clients find the token:
// $EDDY_DATA_DIR, else ~/.eddy.
func defaultDataDir() string {
	if d := os.Getenv("EDDY_DATA_DIR"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".eddy"
	}
	return filepath.Join(home, ".eddy")
}

func newRootCommand() *cobra.Command {
	g := &globals{registry: kinds.NewRegistry()}
	root := &cobra.Command{
		Use:           "eddy",
		Short:         "Eddy: a serverless, event-streaming platform",
		Long:          "Eddy runs Knative-style Services, Channels, Brokers, Sources and Builds on one machine\nfrom one binary. `eddy up` starts the platform; the other verbs drive it.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", envOr("EDDY_SERVER", "http://127.0.0.1:7070"), "API server URL (env EDDY_SERVER)")
	pf.StringVarP(&g.namespace, "namespace", "n", "default", "namespace")
	root.AddCommand(
		newUpCommand(g),
		newApplyCommand(g),
		newGetCommand(g),
		newDescribeCommand(g),
		newDeleteCommand(g),
		newLogsCommand(g),
		newVersionCommand(g),
		newEventsCommand(g),
		newConformanceCommand(g),
		newInitCommand(g),
		newBuildCommand(g),
		newDeployCommand(g),
	)
	return root
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
