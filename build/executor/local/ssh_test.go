package local_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	corev1 "k8s.io/api/core/v1"

	"github.com/eddyplatform/eddy/build/executor"
	"github.com/eddyplatform/eddy/build/executor/executortest"
	"github.com/eddyplatform/eddy/build/executor/local"
)

// sshGitServer is an SSH server that runs git's own git-upload-pack for the clients whose
// key it knows, as a git host does.
type sshGitServer struct {
	addr    string
	hostKey ssh.Signer
}

func newKey(t *testing.T) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pem.EncodeToMemory(block)
}

func serveGitSSH(t *testing.T, authorized ssh.PublicKey) *sshGitServer {
	t.Helper()
	if _, err := exec.LookPath("git-upload-pack"); err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	hostKey, _ := newKey(t)
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(key.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
				if err != nil {
					return
				}
				go ssh.DiscardRequests(reqs)
				for nc := range chans {
					if nc.ChannelType() != "session" {
						nc.Reject(ssh.UnknownChannelType, "sessions only")
						continue
					}
					ch, chReqs, err := nc.Accept()
					if err != nil {
						return
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						serveSession(ch, chReqs)
					}()
				}
			}()
		}
	}()
	return &sshGitServer{addr: ln.Addr().String(), hostKey: hostKey}
}

// serveSession runs the git-upload-pack an exec request asks for.
func serveSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" {
			req.Reply(false, nil)
			continue
		}
		var exe struct{ Command string }
		if err := ssh.Unmarshal(req.Payload, &exe); err != nil {
			req.Reply(false, nil)
			return
		}
		// "git-upload-pack '/path'"
		prog, arg, _ := strings.Cut(exe.Command, " ")
		if prog != "git-upload-pack" {
			req.Reply(false, nil)
			return
		}
		req.Reply(true, nil)
		cmd := exec.Command("git-upload-pack", strings.Trim(arg, "'"))
		cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
		cmd.WaitDelay = time.Second
		status := 0
		if err := cmd.Run(); err != nil {
			status = 1
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{uint32(status)}))
		return
	}
}

func (s *sshGitServer) knownHosts(t *testing.T, key ssh.PublicKey) []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, key) + "\n")
}

func TestSSHSource(t *testing.T) {
	clientSigner, clientPEM := newKey(t)
	srv := serveGitSSH(t, clientSigner.PublicKey())
	repo := executortest.NewRepo(t)
	c1 := repo.Commit(map[string]string{"a.txt": "one\n"}, "one")
	repo.Commit(map[string]string{"a.txt": "two\n"}, "two")
	url := "ssh://git@" + srv.addr + repo.Dir
	otherHost, _ := newKey(t)
	step := corev1.Container{Name: "read", Command: []string{"/bin/sh", "-c", "cat a.txt; env; cat .git/config"}}
	secret := string(clientPEM[40:80])

	for _, tc := range []struct {
		name     string
		insecure bool
		creds    executor.Credentials
		want     executor.Reason
		message  string
	}{
		{name: "KnownHosts", creds: executor.Credentials{SSHKey: clientPEM, KnownHosts: srv.knownHosts(t, srv.hostKey.PublicKey())}, want: executor.ReasonSucceeded},
		{name: "InsecureIgnoreHostKey", insecure: true, creds: executor.Credentials{SSHKey: clientPEM}, want: executor.ReasonSucceeded},
		{name: "WrongHostKey", creds: executor.Credentials{SSHKey: clientPEM, KnownHosts: srv.knownHosts(t, otherHost.PublicKey())}, want: executor.ReasonSourceFailed},
		{name: "NoKey", creds: executor.Credentials{KnownHosts: srv.knownHosts(t, srv.hostKey.PublicKey())}, want: executor.ReasonSourceFailed, message: "SSH key"},
		{name: "BadKey", creds: executor.Credentials{SSHKey: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-garbage\n-----END OPENSSH PRIVATE KEY-----\n")}, want: executor.ReasonSourceFailed, message: "SSH key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			e := newExecutor(t, local.Config{InsecureIgnoreHostKey: tc.insecure, Logger: slogTo(&logs)})
			run := start(t, e, executor.Request{
				Source:      executor.Source{Git: &executor.GitSource{URL: url, Revision: c1}},
				Credentials: tc.creds,
				Steps:       []corev1.Container{step},
			})
			res := wait(t, run)
			if res.Reason != tc.want || !strings.Contains(res.Message, tc.message) {
				t.Fatalf("result %+v, want %s with message containing %q", res, tc.want, tc.message)
			}
			lines, _ := run.Logs("read", 0)
			all := strings.Join(lines, "\n") + res.Message + logs.String()
			for _, s := range []string{secret, "secret-garbage", "PRIVATE KEY"} {
				if strings.Contains(all, s) {
					t.Errorf("%q shows in logs or results:\n%s", s, all)
				}
			}
			if tc.want == executor.ReasonSucceeded && (res.Commit != c1 || len(lines) == 0 || lines[0] != "one") {
				t.Errorf("commit %s, logs %q", res.Commit, lines)
			}
		})
	}
}

// TestSSHDefaultKnownHosts checks that without KnownHosts nor InsecureIgnoreHostKey the
// machine's known hosts decide.
func TestSSHDefaultKnownHosts(t *testing.T) {
	clientSigner, clientPEM := newKey(t)
	srv := serveGitSSH(t, clientSigner.PublicKey())
	repo := executortest.NewRepo(t)
	c1 := repo.Commit(map[string]string{"a.txt": "one\n"}, "one")
	url := "ssh://git@" + srv.addr + repo.Dir
	other, _ := newKey(t)
	for _, tc := range []struct {
		name string
		key  ssh.PublicKey
		want executor.Reason
	}{
		{"Unknown", other.PublicKey(), executor.ReasonSourceFailed},
		{"Known", srv.hostKey.PublicKey(), executor.ReasonSucceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(file, srv.knownHosts(t, tc.key), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv("SSH_KNOWN_HOSTS", file)
			e := newExecutor(t, local.Config{})
			res := wait(t, start(t, e, executor.Request{
				Source:      executor.Source{Git: &executor.GitSource{URL: url, Revision: "main"}},
				Credentials: executor.Credentials{SSHKey: clientPEM},
				Steps:       []corev1.Container{{Name: "s", Command: []string{"true"}}},
			}))
			if res.Reason != tc.want {
				t.Fatalf("result %+v, want %s", res, tc.want)
			}
			if tc.want == executor.ReasonSucceeded && res.Commit != c1 {
				t.Errorf("commit %s, want %s", res.Commit, c1)
			}
		})
	}
}
