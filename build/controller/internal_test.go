package controller

import "testing"

func TestServerMatches(t *testing.T) {
	for _, c := range []struct {
		url, annotation string
		want            bool
	}{
		{"https://github.com/a/b.git", "https://github.com", true},
		{"https://github.com/a/b.git", "https://GitHub.com/", true},
		{"https://github.com/a/b.git", "http://github.com", false},
		{"https://github.com/a/b.git", "github.com", true},
		{"https://gitlab.com/a/b.git", "https://github.com", false},
		{"git@github.com:a/b.git", "github.com", true},
		{"ssh://git@github.com:2222/a/b", "github.com:2222", true},
		{"file:///tmp/repo", "", false},
	} {
		scheme, host := gitServer(c.url)
		if got := serverMatches(c.annotation, scheme, host); got != c.want {
			t.Errorf("%s vs %q: %v, want %v", c.url, c.annotation, got, c.want)
		}
	}
}

func TestPushMatches(t *testing.T) {
	p := &PushEvent{Ref: "refs/heads/main"}
	p.Repository.FullName = "Codertocat/Hello-World"
	p.Repository.CloneURL = "https://github.com/Codertocat/Hello-World.git"
	for repo, want := range map[string]bool{
		"codertocat/hello-world":                    true,
		"https://github.com/Codertocat/Hello-World": true,
		"https://github.com/other/x":                false,
		"other/x":                                   false,
	} {
		c, err := parseRolloutConfig("x", map[string]string{"repository": repo})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.matches(p); got != want {
			t.Errorf("%s: %v", repo, got)
		}
	}
}
