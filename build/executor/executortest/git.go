package executortest

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a git repository made for a test, with a worktree, whose default branch is main.
type Repo struct {
	// Dir is the repository's directory: a URL go-git and git accept.
	Dir  string
	t    testing.TB
	repo *git.Repository
	when time.Time
}

// NewRepo makes an empty repository in a new temporary directory of t.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	return NewRepoAt(t, t.TempDir())
}

// NewRepoAt makes an empty repository in dir.
func NewRepoAt(t testing.TB, dir string) *Repo {
	t.Helper()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Repo{Dir: dir, t: t, repo: repo, when: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (r *Repo) signature() *object.Signature {
	r.when = r.when.Add(time.Minute)
	return &object.Signature{Name: "Eddy Test", Email: "test@eddy.dev", When: r.when}
}

// Commit writes files (path relative to the repository: content) and commits them, with
// every other change of the worktree, on the current branch. It returns the commit's SHA.
func (r *Repo) Commit(files map[string]string, msg string) string {
	r.t.Helper()
	for name, content := range files {
		p := filepath.Join(r.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatal(err)
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: r.signature()})
	if err != nil {
		r.t.Fatal(err)
	}
	return h.String()
}

// Tag tags commit: with an annotated tag object if annotated, else a lightweight tag.
func (r *Repo) Tag(name, commit string, annotated bool) {
	r.t.Helper()
	var opts *git.CreateTagOptions
	if annotated {
		opts = &git.CreateTagOptions{Tagger: r.signature(), Message: "tag " + name}
	}
	if _, err := r.repo.CreateTag(name, plumbing.NewHash(commit), opts); err != nil {
		r.t.Fatal(err)
	}
}

// Branch makes a branch pointing at commit.
func (r *Repo) Branch(name, commit string) {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), plumbing.NewHash(commit))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatal(err)
	}
}

// SetConfig sets a git configuration option of the repository, such as
// ("uploadpack", "allowReachableSHA1InWant", "true"), which git's servers read.
func (r *Repo) SetConfig(section, key, value string) {
	r.t.Helper()
	cfg, err := r.repo.Config()
	if err != nil {
		r.t.Fatal(err)
	}
	cfg.Raw.Section(section).SetOption(key, value)
	if err := r.repo.SetConfig(cfg); err != nil {
		r.t.Fatal(err)
	}
}

// GitHTTPBackend returns the path of git's smart HTTP server (git http-backend), or skips t
// when git is not installed.
func GitHTTPBackend(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Skipf("git is not installed: %v", err)
	}
	p := filepath.Join(strings.TrimSpace(string(out)), "git-http-backend")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("git http-backend is not installed: %v", err)
	}
	return p
}

// ServeGitHTTP serves the repositories under root over git's smart HTTP protocol, with git
// http-backend, and returns the server's base URL: the repository root/x is at base + "/x".
// When user is not empty, requests must carry it and password as basic auth. It skips t
// when git is not installed.
func ServeGitHTTP(t testing.TB, root, user, password string) string {
	t.Helper()
	backend := &cgi.Handler{
		Path: GitHTTPBackend(t),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if user != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
