package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/platform"
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// upOptions are `eddy up`'s flags.
type upOptions struct {
	dataDir     string
	apiAddr     string
	ingressAddr string
	files       []string
	logLevel    string
	logFormat   string
	bus         string
	busConfig   []string
	busSecret   string
	kubeconfig  string
}

func newUpCommand(g *globals) *cobra.Command {
	o := &upOptions{}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole platform in this process",
		Long: "Up runs every Eddy component in one process: the store, the API, the controllers and the\n" +
			"ingress (the data plane's one HTTP port). It applies -f files once it is ready, and on\n" +
			"SIGINT or SIGTERM drains in-flight requests and exits 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runUp(ctx, g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "where the store, the token and the buses' data live (env EDDY_DATA_DIR)")
	f.StringVar(&o.apiAddr, "api-addr", "127.0.0.1:7070", "address of the control-plane API")
	f.StringVar(&o.ingressAddr, "ingress-addr", "127.0.0.1:8080", "address of the data plane's HTTP port (events in, requests to services)")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "file or directory of resources to apply once the platform is up; repeatable")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "text or json")
	f.StringVar(&o.bus, "bus", envOr("EDDY_BUS", "stub"), "the default bus's type: stub, kafka, rabbitmq, pubsub or nats (env EDDY_BUS); a ClusterBus named \"default\" overrides it")
	f.StringArrayVar(&o.busConfig, "bus-config", nil, "a setting of the default bus, KEY=VALUE (the bus package's ParseConfig keys); repeatable")
	f.StringVar(&o.busSecret, "bus-secret-file", "", "a file of KEY=VALUE lines with the default bus's credentials (never logged)")
	f.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the Kubernetes API that ApiServerSources watch (env KUBECONFIG)")
	return cmd
}

// busSettings reads --bus-config and --bus-secret-file.
func (o *upOptions) busSettings() (map[string]string, map[string][]byte, error) {
	config := map[string]string{}
	for _, kv := range o.busConfig {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--bus-config %q: want KEY=VALUE", kv)
		}
		config[k] = v
	}
	if o.busSecret == "" {
		return config, nil, nil
	}
	raw, err := os.ReadFile(o.busSecret)
	if err != nil {
		return nil, nil, fmt.Errorf("--bus-secret-file: %w", err)
	}
	secret := map[string][]byte{}
	for i, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("--bus-secret-file %s line %d: want KEY=VALUE", o.busSecret, i+1) // the line itself may hold a secret
		}
		secret[strings.TrimSpace(k)] = []byte(strings.TrimSpace(v))
	}
	return config, secret, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

func runUp(ctx context.Context, g *globals, o *upOptions, stdout, stderr io.Writer) error {
	log, err := newLogger(stderr, o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	busConfig, busSecret, err := o.busSettings()
	if err != nil {
		return err
	}
	p, err := platform.Start(ctx, platform.Config{
		DataDir: o.dataDir, APIAddr: o.apiAddr, IngressAddr: o.ingressAddr,
		Version: version, Logger: log, DisplayOut: stdout,
		Bus: messaging.BusType(o.bus), BusConfig: busConfig, BusSecret: busSecret, Kubeconfig: o.kubeconfig,
	})
	if err != nil {
		return err
	}
	defer p.Shutdown(context.Background())

	if len(o.files) > 0 {
		objs, err := readObjects(g.registry, o.files, strings.NewReader(""))
		if err == nil {
			var dc *dynamic.DynamicClient
			dc, err = dynamic.NewForConfig(&rest.Config{Host: p.APIURL, BearerToken: p.Token, QPS: 500, Burst: 1000})
			if err == nil {
				err = applyObjects(ctx, dc, g.registry, objs, "default", false, stdout)
			}
		}
		if err != nil {
			log.Error("applying -f files failed", "err", err)
		}
	}
	fmt.Fprintf(stdout, "\nEddy %s is up.\n  API      %s   (token in %s)\n  Ingress  %s\n  Bus      %s (the default)\n  Data     %s\n\n%s",
		version, p.APIURL, filepath.Join(o.dataDir, apiserver.TokenFile), p.IngressURL, o.bus, o.dataDir, nextSteps(p.APIURL, p.IngressURL, o.dataDir))

	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests")
	case err := <-p.Err():
		log.Error("a listener failed", "err", err)
		return err
	}
	p.Shutdown(context.Background())
	log.Info("eddy stopped")
	return nil
}

func nextSteps(apiURL, ingressURL, dataDir string) string {
	env := ""
	if apiURL != "http://127.0.0.1:7070" {
		env = "EDDY_SERVER=" + apiURL + " "
	}
	if dataDir != defaultDataDir() {
		env += "EDDY_TOKEN=$(cat " + filepath.Join(dataDir, apiserver.TokenFile) + ") "
	}
	return "Try, in another terminal:\n" +
		"  " + env + "bin/eddy get brokers,triggers\n" +
		"  curl -i " + ingressURL + "/brokers/default/default \\\n" +
		"    -H 'ce-specversion: 1.0' -H 'ce-id: 1' -H 'ce-source: /curl' -H 'ce-type: dev.eddy.greeting' \\\n" +
		"    -H 'Content-Type: application/json' -d '{\"hello\":\"world\"}'\n" +
		"  curl " + ingressURL + "/display/quickstart        # the events the quickstart's display received\n" +
		"  " + env + "bin/eddy describe trigger greetings\n" +
		"Press Ctrl-C to stop.\n"
}
