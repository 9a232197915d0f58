package process

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"time"
)

// newProbeClient returns the HTTP client of readiness probes: no connection reuse (each
// probe is a new connection, as a kubelet's), no certificate checks for https, and no
// redirects followed (a redirect is a success).
func newProbeClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // as a kubelet's probes
			DialContext:       (&net.Dialer{Timeout: time.Second}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// probe runs one readiness probe against p, bounded by the probe's timeout.
func (r *Runtime) probe(ctx context.Context, s probeSpec, p *proc) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	switch s.kind {
	case probeHTTP:
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.scheme+"://"+p.addr+s.path, nil)
		if err != nil {
			return err
		}
		for k, v := range s.headers {
			req.Header[k] = v
		}
		if h := s.headers.Get("Host"); h != "" {
			req.Host = h
		}
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", "eddy-probe/1")
		}
		resp, err := r.probeHTTP.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("GET %s: %s", s.path, resp.Status)
		}
		return nil
	case probeExec:
		cmd := exec.CommandContext(ctx, s.command[0], s.command[1:]...)
		cmd.Env, cmd.Dir = p.env, p.dir
		setGroupCancel(cmd)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("exec %s: %v: %s", s.command[0], err, trimOutput(string(out)))
		}
		return nil
	default:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", p.addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
