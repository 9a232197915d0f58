package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/control/apiserver"
	"github.com/eddyplatform/eddy/control/store"
	"github.com/eddyplatform/eddy/control/store/bolt"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	return cmd
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
	if err := os.MkdirAll(o.dataDir, 0o700); err != nil {
		return err
	}
	token, err := apiserver.LoadOrCreateToken(o.dataDir)
	if err != nil {
		return err
	}
	st, err := bolt.Open(filepath.Join(o.dataDir, "store"))
	if err != nil {
		return fmt.Errorf("opening the store in %s: %w", o.dataDir, err)
	}
	defer st.Close()
	if err := ensureNamespaces(ctx, g.registry, st, "default", "eddy-system"); err != nil {
		return err
	}

	metrics := prometheus.NewRegistry()
	metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	apiHandler := apiserver.New(apiserver.Config{
		Store: st, Registry: g.registry, Token: token, Version: version, Logger: log, Metrics: metrics,
	})
	ingress := http.NewServeMux()
	ingress.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })

	apiLn, err := net.Listen("tcp", o.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	ingressLn, err := net.Listen("tcp", o.ingressAddr)
	if err != nil {
		apiLn.Close()
		return fmt.Errorf("--ingress-addr: %w", err)
	}
	servers := []*http.Server{
		{Handler: apiHandler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		{Handler: ingress, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
	}
	errc := make(chan error, len(servers))
	for i, ln := range []net.Listener{apiLn, ingressLn} {
		go func() {
			if err := servers[i].Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	apiURL := "http://" + apiLn.Addr().String()
	ingressURL := "http://" + ingressLn.Addr().String()
	log.Info("eddy is up", "api", apiURL, "ingress", ingressURL, "dataDir", o.dataDir, "version", version)

	if len(o.files) > 0 {
		objs, err := readObjects(g.registry, o.files, strings.NewReader(""))
		if err == nil {
			var dc *dynamic.DynamicClient
			dc, err = dynamic.NewForConfig(&rest.Config{Host: apiURL, BearerToken: token, QPS: 500, Burst: 1000})
			if err == nil {
				err = applyObjects(ctx, dc, g.registry, objs, "default", false, stdout)
			}
		}
		if err != nil {
			log.Error("applying -f files failed", "err", err)
		}
	}
	fmt.Fprintf(stdout, "\nEddy %s is up.\n  API      %s   (token in %s)\n  Ingress  %s\n  Data     %s\n\n%s",
		version, apiURL, filepath.Join(o.dataDir, apiserver.TokenFile), ingressURL, o.dataDir, nextSteps(apiURL, o.dataDir))

	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight requests")
	case err := <-errc:
		log.Error("a listener failed", "err", err)
		shutdown(servers)
		return err
	}
	shutdown(servers)
	log.Info("eddy stopped")
	return nil
}

func nextSteps(apiURL, dataDir string) string {
	env := ""
	if apiURL != "http://127.0.0.1:7070" {
		env = "EDDY_SERVER=" + apiURL + " "
	}
	if dataDir != defaultDataDir() {
		env += "EDDY_TOKEN=$(cat " + filepath.Join(dataDir, apiserver.TokenFile) + ") "
	}
	return "Try, in another terminal:\n" +
		"  " + env + "bin/eddy get namespaces\n" +
		"  " + env + "bin/eddy get configmaps\n" +
		"  " + env + "bin/eddy describe configmap quickstart\n" +
		"Press Ctrl-C to stop.\n"
}

// shutdown drains every server, giving in-flight requests up to ten seconds.
func shutdown(servers []*http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(ctx)
	}
}

// ensureNamespaces creates the namespaces the platform always has.
func ensureNamespaces(ctx context.Context, reg *api.Registry, st store.Store, names ...string) error {
	for _, n := range names {
		ns := &corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: n}}
		obj, k, err := reg.Admit(ns)
		if err != nil {
			return err
		}
		u, err := api.ToUnstructured(obj)
		if err != nil {
			return err
		}
		if _, err := st.Create(ctx, k.Resource(), u); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", n, err)
		}
	}
	return nil
}
