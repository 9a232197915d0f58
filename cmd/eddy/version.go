package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"time"

	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/spf13/cobra"
)

func newVersionCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the client's and the server's versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "Client: eddy %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			c := http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get(g.server + "/version")
			if err != nil {
				fmt.Fprintf(cmd.OutOrStdout(), "Server: unreachable at %s\n", g.server)
				return nil
			}
			defer resp.Body.Close()
			var v apiserver.VersionInfo
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				return fmt.Errorf("reading %s/version: %w", g.server, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Server: eddy %s (%s, %s) at %s\n", v.GitVersion, v.GoVersion, v.Platform, g.server)
			return nil
		},
	}
}
