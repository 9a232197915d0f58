package platformconf_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/eddyplatform/eddy/api/messaging"
	platformconf "github.com/eddyplatform/eddy/conformance/platform"
	eddy "github.com/eddyplatform/eddy/platform"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// The shared brokers the suite uses when they run.
const (
	rabbitAddr = "127.0.0.1:5672" // user guest, password guest
	natsAddr   = "127.0.0.1:4222" // with JetStream
)

// runID marks every name this run creates on the shared brokers.
var runID = func() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}()

// logger is the platforms' logger: silent unless EDDY_TEST_LOG names a level (debug, info,
// warn, error), then to stderr. The suite makes deliveries and reconciles fail on purpose, so
// warnings and errors are the norm here.
func logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv("EDDY_TEST_LOG"))); err != nil || os.Getenv("EDDY_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// eddyTarget returns a Target that starts Eddy in this process with the given default bus.
// Its ApiServerSources watch the platform's own API, which follows Kubernetes' REST
// conventions, through apiProxy: Kubernetes clients send a bearer token only over TLS, and
// the platform's API is plain HTTP on loopback, so the proxy adds the token. Restart stops
// the platform and starts it again over the same data directory and bus.
func eddyTarget(bus messaging.BusType, config map[string]string, secret map[string][]byte) platformconf.Target {
	return platformconf.Target{
		Bus: string(bus),
		Start: func(t *testing.T) *platformconf.Platform {
			dir := t.TempDir()
			proxy := &apiProxy{}
			srv := httptest.NewServer(proxy)
			t.Cleanup(srv.Close)
			cfg := eddy.Config{
				DataDir: dir, APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
				Bus: bus, BusConfig: config, BusSecret: secret, Logger: logger(),
				BuildCacheDir: t.TempDir(), Kubeconfig: writeKubeconfig(t, dir, srv.URL),
			}
			r := &running{cfg: cfg, proxy: proxy}
			t.Cleanup(r.stop)
			return r.start(t)
		},
	}
}

// apiProxy forwards requests to the platform's API with its bearer token.
type apiProxy struct {
	mu     sync.Mutex
	target *url.URL
	token  string
}

func (p *apiProxy) set(api, token string) error {
	u, err := url.Parse(api)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.target, p.token = u, token
	p.mu.Unlock()
	return nil
}

func (p *apiProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	target, token := p.target, p.token
	p.mu.Unlock()
	if target == nil {
		http.Error(w, "the platform is not running", http.StatusServiceUnavailable)
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Header.Set("Authorization", "Bearer "+token)
		},
		FlushInterval: -1, // watches stream
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	rp.ServeHTTP(w, r)
}

// writeKubeconfig writes a kubeconfig for the API at server (no credentials: the proxy adds
// them) and returns its path.
func writeKubeconfig(t *testing.T, dir, server string) string {
	path := filepath.Join(dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: eddy
  cluster: {server: %q}
users:
- name: eddy
  user: {}
contexts:
- name: eddy
  context: {cluster: eddy, user: eddy}
current-context: eddy
`, server)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// running is one in-process platform, restartable.
type running struct {
	cfg    eddy.Config
	proxy  *apiProxy
	mu     sync.Mutex
	p      *eddy.Platform
	cancel context.CancelFunc
}

func (r *running) start(t *testing.T) *platformconf.Platform {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := eddy.Start(ctx, r.cfg)
	if err != nil {
		cancel()
		t.Fatalf("starting Eddy on the %s bus: %v", r.cfg.Bus, err)
	}
	if err := r.proxy.set(p.APIURL, p.Token); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.p, r.cancel = p, cancel
	r.mu.Unlock()
	return &platformconf.Platform{API: p.APIURL, Token: p.Token, Ingress: p.IngressURL,
		Restart: func(t *testing.T) *platformconf.Platform {
			r.stop()
			return r.start(t)
		}}
}

func (r *running) stop() {
	r.mu.Lock()
	p, cancel := r.p, r.cancel
	r.p, r.cancel = nil, nil
	r.mu.Unlock()
	if p != nil {
		cancel()
		p.Shutdown(context.Background())
	}
}

// TestMain turns off client-go's WatchList protocol for the ApiServerSources of this
// process. They watch the platform's own API (see eddyTarget), which answers watches with
// sendInitialEvents=true as plain watches, without the initial events and the bookmark
// client-go ≥0.35 waits for; a Kubernetes API server implements it. Without WatchList,
// client-go lists, then watches.
func TestMain(m *testing.M) {
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}

// reachable reports whether something listens at addr.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestStub(t *testing.T) {
	t.Parallel()
	platformconf.Run(t, eddyTarget(messaging.BusStub, nil, nil))
}

func TestRabbitMQ(t *testing.T) {
	t.Parallel()
	if !reachable(rabbitAddr) {
		t.Skipf("RabbitMQ is not running at %s: the suite runs on it when it is (user guest/guest)", rabbitAddr)
	}
	prefix := "eddyconf-" + runID + "."
	t.Cleanup(func() { sweepRabbitMQ(t, prefix) })
	platformconf.Run(t, eddyTarget(messaging.BusRabbitMQ,
		map[string]string{"url": "amqp://" + rabbitAddr + "/", "prefix": prefix, "reconnectBackoff": "50ms"},
		map[string][]byte{"username": []byte("guest"), "password": []byte("guest")}))
}

func TestNATS(t *testing.T) {
	t.Parallel()
	if !reachable(natsAddr) {
		t.Skipf("nats-server is not running at %s: the suite runs on it when it is (with JetStream)", natsAddr)
	}
	streams := "eddyconf_" + runID + "_"
	t.Cleanup(func() { sweepNATS(t, streams) })
	platformconf.Run(t, eddyTarget(messaging.BusNATS, map[string]string{
		"url": "nats://" + natsAddr, "stream_prefix": streams, "subject_prefix": "eddyconf." + runID,
		"partitions": "2", "max_age": "1h", "reconnect_wait": "100ms",
	}, nil))
}

func TestKafka(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("cannot start the in-process kfake Kafka cluster (github.com/twmb/franz-go/pkg/kfake): %v", err)
	}
	t.Cleanup(c.Close)
	platformconf.Run(t, eddyTarget(messaging.BusKafka, map[string]string{
		"brokers": strings.Join(c.ListenAddrs(), ","), "topicPrefix": "conf" + runID + ".",
		"partitions": "3", "replicationFactor": "3",
		"sessionTimeout": "10s", "heartbeatInterval": "1s", "rebalanceTimeout": "10s",
		"commitInterval": "100ms", "metadataRefresh": "2s", "dialTimeout": "10s",
	}, nil))
}

func TestPubSub(t *testing.T) {
	t.Parallel()
	var srv *pstest.Server
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("cannot start the in-process Pub/Sub server (cloud.google.com/go/pubsub/v2/pstest): %v", r)
			}
		}()
		srv = pstest.NewServer()
	}()
	t.Cleanup(func() { srv.Close() })
	platformconf.Run(t, eddyTarget(messaging.BusPubSub, map[string]string{
		"project": "eddy-conformance", "endpoint": srv.Addr, "topicPrefix": "conf" + runID,
	}, nil))
}

// sweepRabbitMQ deletes the queues and exchanges left under prefix (by a case that failed
// before its cleanup), when rabbitmqctl is there to list them.
func sweepRabbitMQ(t *testing.T, prefix string) {
	list := func(what string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "rabbitmqctl", "-q", "--no-table-headers", what, "name").Output()
		if err != nil {
			return nil
		}
		var names []string
		for _, line := range strings.Split(string(out), "\n") {
			if name := strings.TrimSpace(line); strings.HasPrefix(name, prefix) {
				names = append(names, name)
			}
		}
		return names
	}
	queues, exchanges := list("list_queues"), list("list_exchanges")
	if len(queues)+len(exchanges) == 0 {
		return
	}
	conn, err := amqp.Dial("amqp://guest:guest@" + rabbitAddr + "/")
	if err != nil {
		t.Logf("sweep: %v", err)
		return
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Logf("sweep: %v", err)
		return
	}
	for _, q := range queues {
		if _, err := ch.QueueDelete(q, false, false, false); err != nil {
			t.Logf("sweep: deleting queue %s: %v", q, err)
			return
		}
	}
	for _, x := range exchanges {
		if err := ch.ExchangeDelete(x, false, false); err != nil {
			t.Logf("sweep: deleting exchange %s: %v", x, err)
			return
		}
	}
	t.Logf("sweep: removed the queues %v and exchanges %v left under %s", queues, exchanges, prefix)
}

// sweepNATS deletes the streams left under prefix.
func sweepNATS(t *testing.T, prefix string) {
	nc, err := natsgo.Connect("nats://" + natsAddr)
	if err != nil {
		t.Logf("sweep: %v", err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Logf("sweep: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var del []string
	names := js.StreamNames(ctx)
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix) {
			del = append(del, n)
		}
	}
	for _, n := range del {
		if err := js.DeleteStream(ctx, n); err != nil {
			t.Logf("sweep: deleting stream %s: %v", n, err)
		}
	}
	if len(del) > 0 {
		t.Logf("sweep: removed %d streams left under %s", len(del), prefix)
	}
}
