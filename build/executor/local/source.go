package local

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/memory"
	"golang.org/x/crypto/ssh"

	"github.com/eddyplatform/eddy/build/executor"
)

// gitRemote is a git source's URL as given to go-git and recorded in the workspace (without
// any password), and how to authenticate to it.
type gitRemote struct {
	url  string
	auth transport.AuthMethod
}

// remote works out the URL and authentication of a git source. Its errors never hold
// credentials.
func (r *run) remote(rawURL string) (gitRemote, error) {
	ep, err := transport.NewEndpoint(rawURL)
	if err != nil {
		return gitRemote{}, errors.New("source.git.url is not a valid git URL")
	}
	creds := r.req.Credentials
	switch ep.Protocol {
	case "http", "https":
		u, err := url.Parse(rawURL)
		if err != nil {
			return gitRemote{}, errors.New("source.git.url is not a valid git URL")
		}
		user, pass := ep.User, ep.Password
		if len(creds.GitUsername) > 0 || len(creds.GitPassword) > 0 {
			user, pass = string(creds.GitUsername), string(creds.GitPassword)
		}
		if ep.Password != "" {
			r.secrets = append(r.secrets, []byte(ep.Password))
		}
		u.User = nil
		rem := gitRemote{url: u.String()}
		if user != "" || pass != "" {
			rem.auth = &githttp.BasicAuth{Username: user, Password: pass}
		}
		return rem, nil
	case "ssh":
		if len(creds.SSHKey) == 0 {
			return gitRemote{}, fmt.Errorf("%s is an ssh URL but the build has no SSH key in its credentials", redactURL(rawURL))
		}
		user := ep.User
		if user == "" {
			user = "git"
		}
		if ep.Password != "" {
			r.secrets = append(r.secrets, []byte(ep.Password))
		}
		keys, err := gitssh.NewPublicKeys(user, creds.SSHKey, "")
		if err != nil {
			return gitRemote{}, errors.New("the build's SSH key cannot be used: it must be an unencrypted PEM private key")
		}
		port := ep.Port
		if port == 0 {
			port = 22
		}
		switch {
		case len(creds.KnownHosts) > 0:
			dir := filepath.Join(r.dir, "git")
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return gitRemote{}, err
			}
			file := filepath.Join(dir, "known_hosts")
			if err := os.WriteFile(file, creds.KnownHosts, 0o600); err != nil {
				return gitRemote{}, err
			}
			db, err := gitssh.NewKnownHostsDb(file)
			if err != nil {
				return gitRemote{}, fmt.Errorf("the build's known hosts: %v", err)
			}
			keys.HostKeyCallback = db.HostKeyCallback()
			keys.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
		case r.e.cfg.InsecureIgnoreHostKey:
			keys.HostKeyCallback = ssh.InsecureIgnoreHostKey()
		}
		rawURL = redactURL(rawURL)
		return gitRemote{url: rawURL, auth: keys}, nil
	case "file", "git":
		return gitRemote{url: rawURL}, nil
	}
	return gitRemote{}, fmt.Errorf("source.git.url: unsupported protocol %q", ep.Protocol)
}

// redactURL removes the password from a URL with one, or returns it as is.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// redact replaces every secret in s.
func redact(s string, secrets [][]byte) string {
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, string(sec), "[redacted]")
		}
	}
	return s
}

// fetchGit checks the git source out in the workspace at the revision asked for and
// returns the commit. Its errors hold no credentials (they are redacted anyway).
func (r *run) fetchGit(src *executor.GitSource) (string, error) {
	rev, err := executor.ParseRevision(src.Revision)
	if err != nil {
		return "", err
	}
	rem, err := r.remote(src.URL)
	if err != nil {
		return "", err
	}
	where := rem.url
	fail := func(what string, err error) error {
		return fmt.Errorf("%s %s: %s", what, where, redact(err.Error(), r.secrets))
	}
	// What to fetch: a ref (found by listing the remote's refs), or a commit.
	var refName plumbing.ReferenceName
	var commit plumbing.Hash
	var abbrev string
	if rev.Kind == executor.RevisionCommit {
		commit = plumbing.NewHash(rev.Name)
	} else {
		lister := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{rem.url}})
		refs, err := lister.ListContext(r.ctx, &git.ListOptions{Auth: rem.auth})
		if err != nil {
			return "", fail("listing the refs of", err)
		}
		byName := make(map[plumbing.ReferenceName]*plumbing.Reference, len(refs))
		for _, ref := range refs {
			byName[ref.Name()] = ref
		}
		switch rev.Kind {
		case executor.RevisionDefault:
			head := byName[plumbing.HEAD]
			switch {
			case head == nil:
				return "", fmt.Errorf("%s has no default branch (HEAD)", where)
			case head.Type() == plumbing.SymbolicReference:
				refName = head.Target()
			default:
				commit = head.Hash()
			}
		case executor.RevisionRef:
			refName = plumbing.ReferenceName(rev.Name)
		case executor.RevisionName:
			for _, n := range []plumbing.ReferenceName{plumbing.NewBranchReferenceName(rev.Name), plumbing.NewTagReferenceName(rev.Name)} {
				if byName[n] != nil {
					refName = n
					break
				}
			}
			if refName == "" && rev.Abbrev {
				abbrev = rev.Name
			}
		}
		if refName == "" && commit.IsZero() && abbrev == "" || refName != "" && byName[refName] == nil {
			return "", fmt.Errorf("revision %q not found in %s", rev.Name, where)
		}
	}
	repo, err := git.PlainInit(r.workspace, false)
	if err != nil {
		return "", fmt.Errorf("initialising the workspace's repository: %w", err)
	}
	if _, err := repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{rem.url}}); err != nil {
		return "", fmt.Errorf("initialising the workspace's repository: %w", err)
	}
	fetch := func(depth int, specs ...config.RefSpec) error {
		err := repo.FetchContext(r.ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Depth: depth, Auth: rem.auth, Tags: git.NoTags})
		if errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil
		}
		return err
	}
	fetchAll := func() error {
		return fetch(0, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	}
	switch {
	case refName != "":
		local := refName
		if refName.IsBranch() {
			local = plumbing.NewRemoteReferenceName("origin", refName.Short())
		}
		if err := fetch(1, config.RefSpec("+"+refName.String()+":"+local.String())); err != nil {
			return "", fail("fetching "+refName.String()+" from", err)
		}
		ref, err := repo.Reference(local, true)
		if err != nil {
			return "", fail("fetching "+refName.String()+" from", err)
		}
		commit = ref.Hash()
		if tag, err := repo.TagObject(commit); err == nil { // an annotated tag
			c, err := tag.Commit()
			if err != nil {
				return "", fmt.Errorf("tag %s of %s does not point to a commit", refName.Short(), where)
			}
			commit = c.Hash
		}
	case abbrev != "":
		if err := fetchAll(); err != nil {
			return "", fail("fetching", err)
		}
		h, err := repo.ResolveRevision(plumbing.Revision(abbrev))
		if err != nil {
			return "", fmt.Errorf("revision %q not found in %s", abbrev, where)
		}
		commit = *h
	default:
		err := fetch(1, config.RefSpec(commit.String()+":refs/eddy/source"))
		if errors.Is(err, git.ErrExactSHA1NotSupported) {
			r.log.Debug("the git server does not serve single commits: fetching every branch and tag", "url", where)
			err = fetchAll()
		}
		if err != nil {
			return "", fail("fetching", err)
		}
		if _, err := repo.CommitObject(commit); err != nil {
			return "", fmt.Errorf("commit %s not found in %s", commit, where)
		}
	}
	wt, err := repo.Worktree()
	if err != nil {
		return commit.String(), err
	}
	if err := wt.Checkout(&git.CheckoutOptions{Hash: commit, Force: true}); err != nil {
		return commit.String(), fmt.Errorf("checking out %s: %s", commit, redact(err.Error(), r.secrets))
	}
	r.log.Info("build source checked out", "url", where, "revision", src.Revision, "commit", commit.String())
	return commit.String(), nil
}

// copyTree copies the directory src into dst (which exists): directories, regular files
// and symlinks; other files are skipped.
func copyTree(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("local source: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("local source %s is not a directory", src)
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("local source: %w", err)
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("local source: %w", err)
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, info.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return fmt.Errorf("local source: %w", err)
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		}
		return nil
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("local source: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
