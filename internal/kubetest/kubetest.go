// Package kubetest runs a real Kubernetes control plane for tests: an etcd and a
// kube-apiserver, built from source by hack/kube.sh at the versions pinned in
// hack/kube/go.mod, each started afresh per call to Start on free loopback ports with its data
// in the test's temporary directory.
//
// There is no scheduler, controller manager or kubelet: objects are stored and watched, but
// nothing acts on them (Pods stay Pending, no ServiceAccount "default" appears, deleting a
// Namespace leaves it Terminating). The ServiceAccount admission plugin is off so Pods can be
// created without one.
//
// # Binaries
//
// Start looks for kube-apiserver and etcd in the directory hack/kube.sh builds into,
// ${EDDY_KUBE_CACHE:-$HOME/.cache/eddy/kube}/<kubernetes version>-<etcd version>/, reading
// both versions from hack/kube/go.mod. When either is missing Start runs hack/kube.sh itself,
// so a plain `make test` builds them on first use (about six minutes on two cores, well within
// go test's default ten-minute timeout; later runs reuse them). When the build fails the test
// fails, naming the command to run by hand.
package kubetest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminUser is the user Env.Config authenticates as; it is in the group system:masters, which
// RBAC lets do anything.
const AdminUser = "kubetest-admin"

// startTimeout bounds how long Start waits for etcd and then for kube-apiserver's /readyz.
const startTimeout = 90 * time.Second

// Env is a running etcd and kube-apiserver. Both stop when the test that started them ends.
type Env struct {
	// Config reaches the API server as AdminUser: a bearer token, and the server's CA
	// certificate in TLSClientConfig.CAData. Copy it (rest.CopyConfig) before changing it.
	Config *rest.Config
	// URL is the API server's address, https://127.0.0.1:PORT, the same as Config.Host.
	URL string
	// Kubeconfig is the path of a kubeconfig file holding Config, for code that loads one.
	Kubeconfig string
	// EtcdURL is etcd's client address, http://127.0.0.1:PORT.
	EtcdURL string
	// Dir is the temporary directory with etcd's data, the certificates, keys and logs.
	Dir string
}

// Dynamic returns a dynamic client for e, failing t if it cannot be built.
func (e *Env) Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	c, err := dynamic.NewForConfig(rest.CopyConfig(e.Config))
	if err != nil {
		t.Fatalf("kubetest: dynamic client: %v", err)
	}
	return c
}

// Start starts etcd and kube-apiserver, waits until the API server's /readyz answers 200 and
// returns the environment. t's cleanup kills both process groups and waits for them. Start
// fails t if the binaries cannot be found or built, or the servers do not come up in time.
func Start(t testing.TB) *Env {
	t.Helper()
	bins, err := binaries(t)
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	dir := t.TempDir()
	env := &Env{Dir: dir}
	var procs []*proc
	t.Cleanup(func() {
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].stop()
		}
		if t.Failed() {
			for _, p := range procs {
				t.Logf("kubetest: last lines of %s's log (%s):\n%s", p.name, p.log, tail(p.log, 40))
			}
		}
	})

	start := time.Now()
	etcd, err := startEtcd(bins, dir, env)
	if etcd != nil {
		procs = append(procs, etcd)
	}
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	api, err := startAPIServer(bins, dir, env)
	if api != nil {
		procs = append(procs, api)
	}
	if err != nil {
		t.Fatalf("kubetest: %v", err)
	}
	t.Logf("kubetest: etcd and kube-apiserver ready at %s in %v", env.URL, time.Since(start).Round(time.Millisecond))
	return env
}

// proc is a started server, alone in its process group.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd.Wait returns
	err  error         // cmd.Wait's result, set before done closes
	once sync.Once
}

func launch(name, logPath, bin string, args ...string) (*proc, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so stop reaches anything it forks; and killed if the test
	// binary dies first, so no server outlives a crashed test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop kills p's process group and waits for p to exit. The data is throwaway, so there is
// no graceful shutdown.
func (p *proc) stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// exited reports p's exit, if it has exited.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

func startEtcd(bins, dir string, env *Env) (*proc, error) {
	var lastErr error
	for attempt := range 3 {
		ports, err := freePorts(2)
		if err != nil {
			return nil, err
		}
		client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
		peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
		data := filepath.Join(dir, fmt.Sprintf("etcd-%d", attempt))
		p, err := launch("etcd", filepath.Join(dir, fmt.Sprintf("etcd-%d.log", attempt)), filepath.Join(bins, "etcd"),
			"--name=kubetest",
			"--data-dir="+data,
			"--listen-client-urls="+client,
			"--advertise-client-urls="+client,
			"--listen-peer-urls="+peer,
			"--initial-advertise-peer-urls="+peer,
			"--initial-cluster=kubetest="+peer,
			"--initial-cluster-state=new",
			"--unsafe-no-fsync",
			"--log-level=warn",
		)
		if err != nil {
			return nil, err
		}
		err = waitUp(p, http.DefaultClient, client+"/health", func(body []byte) bool {
			return bytes.Contains(body, []byte(`"health":"true"`))
		})
		if err == nil {
			env.EtcdURL = client
			return p, nil
		}
		p.stop()
		lastErr = err
		if !portTaken(err) {
			return p, err
		}
	}
	return nil, lastErr
}

func startAPIServer(bins, dir string, env *Env) (*proc, error) {
	token, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, fmt.Appendf(nil, "%s,%s,%s,\"system:masters\"\n", token, AdminUser, AdminUser), 0o600); err != nil {
		return nil, err
	}
	saKey := filepath.Join(dir, "service-account.key")
	if err := writeRSAKey(saKey); err != nil {
		return nil, err
	}
	caPEM, certFile, keyFile, err := writeServingCert(dir)
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}

	var lastErr error
	for attempt := range 3 {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		url := "https://127.0.0.1:" + strconv.Itoa(ports[0])
		cfg := &rest.Config{
			Host:            url,
			BearerToken:     token,
			TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
			QPS:             200,
			Burst:           400,
		}
		p, err := launch("kube-apiserver", filepath.Join(dir, fmt.Sprintf("kube-apiserver-%d.log", attempt)), filepath.Join(bins, "kube-apiserver"),
			"--etcd-servers="+env.EtcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port="+strconv.Itoa(ports[0]),
			"--cert-dir="+certDir,
			"--tls-cert-file="+certFile,
			"--tls-private-key-file="+keyFile,
			"--token-auth-file="+tokens,
			"--authorization-mode=RBAC",
			"--service-account-key-file="+saKey,
			"--service-account-signing-key-file="+saKey,
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-cluster-ip-range=10.0.0.0/24",
			"--endpoint-reconciler-type=none", // the lease reconciler refuses a loopback address
			"--disable-admission-plugins=ServiceAccount",
			"--profiling=false",
			"--v=0",
		)
		if err != nil {
			return nil, err
		}
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			p.stop()
			return nil, err
		}
		err = waitUp(p, hc, url+"/readyz", nil)
		if err == nil {
			env.URL = url
			env.Config = cfg
			env.Kubeconfig = filepath.Join(dir, "kubeconfig")
			if err := writeKubeconfig(env.Kubeconfig, cfg); err != nil {
				return p, err
			}
			return p, nil
		}
		p.stop()
		lastErr = err
		if !portTaken(err) {
			return p, err
		}
	}
	return nil, lastErr
}

var errExited = errors.New("exited")

// portTaken reports whether err says a server exited because another process took its port
// between freePorts and the server's bind, which is worth another try on other ports.
func portTaken(err error) bool {
	return errors.Is(err, errExited) && strings.Contains(err.Error(), "address already in use")
}

// waitUp polls url until it answers 200 (and ok accepts the body, if ok is set), p exits, or
// startTimeout passes.
func waitUp(p *proc, hc *http.Client, url string, ok func([]byte) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer yet"
	for {
		if gone, err := p.exited(); gone {
			return fmt.Errorf("%s %w before it was ready (%v); its log %s ends:\n%s", p.name, errExited, err, p.log, tail(p.log, 20))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := hc.Do(req)
		if err == nil {
			body, _ := readSome(resp)
			if resp.StatusCode == http.StatusOK && (ok == nil || ok(body)) {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, firstLines(body, 5))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %v (last: %s); its log %s ends:\n%s", p.name, startTimeout, last, p.log, tail(p.log, 20))
		case <-tick.C:
		}
	}
}

func readSome(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err := b.ReadFrom(http.MaxBytesReader(nil, resp.Body, 64<<10))
	return b.Bytes(), err
}

// freePorts returns n distinct loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writeRSAKey writes a new RSA private key, which kube-apiserver both signs service account
// tokens with and verifies them by.
func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeServingCert writes a self-signed certificate for 127.0.0.1 and localhost, which is
// both the API server's serving certificate and the CA that clients trust.
func writeServingCert(dir string) (caPEM []byte, certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, "", "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubetest-apiserver"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, "", "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", "", err
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile = filepath.Join(dir, "serving.crt")
	keyFile = filepath.Join(dir, "serving.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		return nil, "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, "", "", err
	}
	return caPEM, certFile, keyFile, nil
}

func writeKubeconfig(path string, cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["kubetest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{Token: cfg.BearerToken}
	kc.Contexts["kubetest"] = &clientcmdapi.Context{Cluster: "kubetest", AuthInfo: AdminUser, Namespace: "default"}
	kc.CurrentContext = "kubetest"
	return clientcmd.WriteToFile(*kc, path)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(b)), "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, " | ")
}

var (
	buildMu sync.Mutex
	built   string // the binaries' directory once found, for the rest of the test binary's life
)

// binaries returns the directory holding kube-apiserver and etcd, running hack/kube.sh when
// either is missing.
func binaries(t testing.TB) (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	if built != "" {
		return built, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir, err := cacheDir(root)
	if err != nil {
		return "", err
	}
	if executable(filepath.Join(dir, "kube-apiserver")) && executable(filepath.Join(dir, "etcd")) {
		built = dir
		return dir, nil
	}
	script := filepath.Join(root, "hack", "kube.sh")
	t.Logf("kubetest: %s lacks kube-apiserver or etcd; running %s (the first build takes about six minutes)", dir, script)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Dir = root
	if base := os.Getenv("EDDY_KUBE_CACHE"); base != "" {
		cmd.Env = append(os.Environ(), "EDDY_KUBE_CACHE="+filepath.Dir(dir))
	}
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	t.Logf("kubetest: %s took %v:\n%s", script, time.Since(start).Round(time.Second), strings.TrimSpace(stderr.String()))
	if err != nil {
		return "", fmt.Errorf("%s failed (%v); run it by hand to see why: (cd %s && hack/kube.sh)", script, err, root)
	}
	if got := lastLine(stdout.String()); got != dir {
		return "", fmt.Errorf("%s built into %q, not %q as hack/kube/go.mod says", script, got, dir)
	}
	if !executable(filepath.Join(dir, "kube-apiserver")) || !executable(filepath.Join(dir, "etcd")) {
		return "", fmt.Errorf("%s succeeded but %s still lacks kube-apiserver or etcd", script, dir)
	}
	built = dir
	return dir, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// repoRoot finds the repository root: the nearest directory at or above the working
// directory (a package's directory, under go test) holding hack/kube/go.mod.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if _, err := os.Stat(filepath.Join(d, "hack", "kube", "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no hack/kube/go.mod at or above %s", wd)
		}
		d = parent
	}
}

// cacheDir returns the directory hack/kube.sh builds kube-apiserver and etcd into for the
// repository at root: ${EDDY_KUBE_CACHE:-$HOME/.cache/eddy/kube}/<kubernetes version>-<etcd
// version>, the versions being those root/hack/kube/go.mod requires.
func cacheDir(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "hack", "kube", "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	kver, ever, err := modVersions(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.Name(), err)
	}
	base := os.Getenv("EDDY_KUBE_CACHE")
	if base != "" {
		// Absolute, so that hack/kube.sh, run from the repository root, agrees.
		if base, err = filepath.Abs(base); err != nil {
			return "", err
		}
	} else {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no EDDY_KUBE_CACHE and no home directory: %w", err)
		}
		base = filepath.Join(home, ".cache", "eddy", "kube")
	}
	return filepath.Join(base, kver+"-"+ever), nil
}

// modVersions reads a go.mod file and returns the versions it requires of k8s.io/kubernetes
// and go.etcd.io/etcd/server/v3, reading it as hack/kube.sh does: the first line naming the
// module followed by a version, in a require block or a one-line require.
func modVersions(r io.Reader) (kubernetes, etcd string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "require" {
			f = f[1:]
		}
		if len(f) < 2 || !strings.HasPrefix(f[1], "v") {
			continue
		}
		switch f[0] {
		case "k8s.io/kubernetes":
			if kubernetes == "" {
				kubernetes = f[1]
			}
		case "go.etcd.io/etcd/server/v3":
			if etcd == "" {
				etcd = f[1]
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", err
	}
	if kubernetes == "" || etcd == "" {
		return "", "", errors.New("no requirement of k8s.io/kubernetes or go.etcd.io/etcd/server/v3")
	}
	if !validVersion(kubernetes) || !validVersion(etcd) {
		return "", "", fmt.Errorf("unexpected versions %q, %q", kubernetes, etcd)
	}
	return kubernetes, etcd, nil
}

// validVersion accepts what may safely name a directory: v, then letters, digits, '.', '-',
// '+'.
func validVersion(v string) bool {
	if len(v) < 2 || v[0] != 'v' || strings.Contains(v, "..") {
		return false
	}
	for _, c := range v[1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}
