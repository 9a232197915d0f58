package controller

import (
	"os"
	"testing"
)

func FuzzParsePush(f *testing.F) {
	if b, err := os.ReadFile("testdata/github-push-payload.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"ref":"refs/heads/main","after":"0123456789abcdef0123456789abcdef01234567","repository":{"full_name":"a/b"}}`))
	f.Add([]byte(`{"ref":"","after":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePush(data)
		if err != nil {
			return
		}
		if p.Ref == "" || (!p.Deleted && len(p.After) != 40) {
			t.Fatalf("accepted %+v", p)
		}
		if !p.Deleted {
			rolloutBuildName("x", p.After)
		}
	})
}

func FuzzRolloutConfig(f *testing.F) {
	f.Add("owner/repo", "main", "PACKAGE=./cmd\nGOFLAGS=-mod=mod", "10m", "svc")
	f.Add("", "", "bad", "x", "BAD")
	f.Fuzz(func(t *testing.T, repo, branch, args, timeout, service string) {
		c, err := parseRolloutConfig("name", map[string]string{"repository": repo, "branch": branch, "arguments": args, "timeout": timeout, "service": service})
		if err != nil {
			return
		}
		if c.repository == "" || c.branch == "" || c.template == "" || c.service == "" {
			t.Fatalf("incomplete %+v", c)
		}
		for _, a := range c.args {
			if a.Name == "" {
				t.Fatalf("unnamed argument in %+v", c)
			}
		}
	})
}

func FuzzGitServer(f *testing.F) {
	f.Add("https://github.com/a/b.git", "https://github.com")
	f.Add("git@github.com:a/b.git", "github.com")
	f.Add("file:///tmp/x", "")
	f.Fuzz(func(t *testing.T, raw, annotation string) {
		scheme, host := gitServer(raw)
		if serverMatches(annotation, scheme, host) && host == "" {
			t.Fatal("matched an empty host")
		}
	})
}
