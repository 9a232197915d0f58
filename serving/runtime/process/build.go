package process

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// target is what a ko:// image builds.
type target struct {
	image string
	// dir is the package's directory, and modRoot the root of the module it belongs to.
	// For a package outside the main module, dir is empty and importPath is built from
	// the main module's root (modRoot).
	dir, modRoot, modPath string
	importPath            string
	// name is the binary's file name: the package path's last element.
	name string
}

// builder builds ko:// images into the cache and remembers what it hashed.
type builder struct {
	goCmd    string
	flags    []string
	cacheDir string
	baseDir  string
	log      *slog.Logger

	mu       sync.Mutex
	inflight map[string]*buildCall
	stamps   map[string]*stampSet // by image
	builds   int                  // go builds run, for tests
}

// buildCall is one go build that concurrent callers share.
type buildCall struct {
	done chan struct{}
	path string
	err  error
}

// stampSet records the files and directories a content hash was computed from, so an
// unchanged package is recognised by stat alone.
type stampSet struct {
	key   string
	files []stamp
	// trusted is false when a file was modified so recently that a change in the same
	// timestamp tick could go unnoticed: the next key hashes again.
	trusted bool
}

type stamp struct {
	path  string
	size  int64
	mtime time.Time
	dir   bool
}

// resolve finds the package a ko:// image names: ko://./dir and ko://../dir relative to
// Config.Dir, ko:///abs/dir, or ko://<import path> (within the main module: its directory;
// outside: built by import path from the main module).
func (b *builder) resolve(image string) (*target, error) {
	ref := strings.TrimPrefix(image, koPrefix)
	t := &target{image: image}
	switch {
	case ref == "":
		return nil, unrunnable(ReasonImageNotRunnable, "image %q names no package", image)
	case ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../"):
		t.dir = filepath.Join(b.baseDir, filepath.FromSlash(ref))
	case filepath.IsAbs(ref):
		t.dir = filepath.Clean(ref)
	default:
		root, modPath, err := findModule(b.baseDir)
		if err != nil {
			return nil, unrunnable(ReasonImageNotRunnable, "image %q: no main module to resolve the import path in: %v", image, err)
		}
		if rest, ok := strings.CutPrefix(ref, modPath); ok && (rest == "" || rest[0] == '/') {
			t.dir = filepath.Join(root, filepath.FromSlash(rest))
		} else {
			t.modRoot, t.modPath, t.importPath = root, modPath, ref
			t.name = path.Base(ref)
			return t, nil
		}
	}
	if st, err := os.Stat(t.dir); err != nil || !st.IsDir() {
		return nil, unrunnable(ReasonImageNotRunnable, "image %q: no package directory %s", image, t.dir)
	}
	root, modPath, err := findModule(t.dir)
	if err != nil {
		return nil, unrunnable(ReasonImageNotRunnable, "image %q: %v", image, err)
	}
	t.modRoot, t.modPath = root, modPath
	t.name = filepath.Base(t.dir)
	return t, nil
}

// findModule walks up from dir to the nearest go.mod and returns its directory and module
// path.
func findModule(dir string) (root, modPath string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 && f[0] == "module" {
					p := f[1]
					if u, err := strconv.Unquote(p); err == nil {
						p = u
					}
					return d, p, nil
				}
			}
			return "", "", fmt.Errorf("%s/go.mod has no module line", d)
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("no go.mod in %s or above", dir)
		}
	}
}

// key returns the content hash of t: its package's Go files (not tests) and those of the
// packages of its module it imports, transitively; the module's go.mod and go.sum; the go
// command, the build flags and the environment that changes a build. Unchanged files are
// recognised by size and modification time.
func (b *builder) key(t *target) (string, error) {
	b.mu.Lock()
	s := b.stamps[t.image]
	b.mu.Unlock()
	if s != nil && s.fresh() {
		return s.key, nil
	}
	s, err := b.hash(t)
	if err != nil {
		return "", err
	}
	b.mu.Lock()
	b.stamps[t.image] = s
	b.mu.Unlock()
	return s.key, nil
}

// fresh reports whether every stamped file is unchanged, and old enough that a change
// within the file system's timestamp granularity cannot have been missed.
func (s *stampSet) fresh() bool {
	if !s.trusted {
		return false
	}
	for _, st := range s.files {
		fi, err := os.Stat(st.path)
		if err != nil || fi.IsDir() != st.dir || !fi.ModTime().Equal(st.mtime) || (!st.dir && fi.Size() != st.size) {
			return false
		}
	}
	return true
}

// racyWindow is how recent a file's modification time may be for its stamp to be trusted.
const racyWindow = 2 * time.Second

func (b *builder) hash(t *target) (*stampSet, error) {
	h := sha256.New()
	started := time.Now()
	s := &stampSet{}
	trust := true
	add := func(p string, fi fs.FileInfo) {
		s.files = append(s.files, stamp{path: p, size: fi.Size(), mtime: fi.ModTime(), dir: fi.IsDir()})
		if started.Sub(fi.ModTime()) < racyWindow {
			trust = false
		}
	}
	pkg := t.importPath
	if t.dir != "" {
		rel, _ := filepath.Rel(t.modRoot, t.dir)
		pkg = filepath.ToSlash(rel)
	}
	fmt.Fprintf(h, "eddy ko v1\nmodule %s\npackage %s\nflags %q\n", t.modPath, pkg, b.flags)
	for _, v := range []string{"GOOS", "GOARCH", "GOFLAGS", "CGO_ENABLED", "GOEXPERIMENT", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOTOOLCHAIN", "GOWORK"} {
		fmt.Fprintf(h, "env %s=%s\n", v, os.Getenv(v))
	}
	if goPath, err := exec.LookPath(b.goCmd); err == nil {
		if fi, err := os.Stat(goPath); err == nil {
			fmt.Fprintf(h, "go %s %d %d\n", goPath, fi.Size(), fi.ModTime().UnixNano())
			add(goPath, fi)
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "go.work", "go.work.sum"} {
		p := filepath.Join(t.modRoot, f)
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			add(p, fi)
		}
		fmt.Fprintf(h, "file %s %d\n", f, len(data))
		h.Write(data)
	}
	if t.dir != "" {
		if err := b.hashPackages(h, t, add); err != nil {
			return nil, err
		}
	}
	s.key = hex.EncodeToString(h.Sum(nil))[:32]
	s.trusted = trust
	return s, nil
}

// hashPackages hashes the Go files of t's package and of the packages of its module that it
// imports, transitively.
func (b *builder) hashPackages(h interface{ Write([]byte) (int, error) }, t *target, add func(string, fs.FileInfo)) error {
	seen := map[string]bool{t.dir: true}
	queue := []string{t.dir}
	fset := token.NewFileSet()
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		dfi, err := os.Stat(dir)
		if err != nil {
			return unrunnable(ReasonImageNotRunnable, "image %q: %v", t.image, err)
		}
		add(dir, dfi)
		entries, err := os.ReadDir(dir)
		if err != nil {
			return unrunnable(ReasonImageNotRunnable, "image %q: %v", t.image, err)
		}
		rel, _ := filepath.Rel(t.modRoot, dir)
		nfiles := 0
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				continue
			}
			p := filepath.Join(dir, name)
			data, err := os.ReadFile(p)
			if err != nil {
				return unrunnable(ReasonImageNotRunnable, "image %q: %v", t.image, err)
			}
			if fi, err := os.Stat(p); err == nil {
				add(p, fi)
			}
			fmt.Fprintf(h, "file %s %d\n", filepath.ToSlash(filepath.Join(rel, name)), len(data))
			h.Write(data)
			nfiles++
			f, err := parser.ParseFile(fset, p, data, parser.ImportsOnly)
			if err != nil {
				continue // go build reports it
			}
			if dir == t.dir && f.Name.Name != "main" && !strings.HasSuffix(f.Name.Name, "_test") {
				return unrunnable(ReasonImageNotRunnable, "image %q: package %s in %s is not a main package", t.image, f.Name.Name, dir)
			}
			for _, imp := range f.Imports {
				ip, err := strconv.Unquote(imp.Path.Value)
				if err != nil {
					continue
				}
				rest, ok := strings.CutPrefix(ip, t.modPath)
				if !ok || (rest != "" && rest[0] != '/') {
					continue
				}
				d := filepath.Join(t.modRoot, filepath.FromSlash(rest))
				if !seen[d] {
					seen[d] = true
					queue = append(queue, d)
				}
			}
		}
		if dir == t.dir && nfiles == 0 {
			return unrunnable(ReasonImageNotRunnable, "image %q: no Go files in %s", t.image, dir)
		}
	}
	return nil
}

// binPath is where the binary of a hash lives in the cache.
func (b *builder) binPath(t *target, key string) string {
	return filepath.Join(b.cacheDir, key, t.name)
}

// cached returns the binary of key if the cache has it.
func (b *builder) cached(t *target, key string) (string, bool) {
	p := b.binPath(t, key)
	fi, err := os.Stat(p)
	return p, err == nil && fi.Mode().IsRegular()
}

// build returns the binary of t with hash key, building it unless the cache has it.
// Concurrent calls for the same key build once.
func (b *builder) build(ctx context.Context, t *target, key string) (string, error) {
	if p, ok := b.cached(t, key); ok {
		return p, nil
	}
	b.mu.Lock()
	c := b.inflight[key]
	if c == nil {
		c = &buildCall{done: make(chan struct{})}
		b.inflight[key] = c
		b.builds++
		b.mu.Unlock()
		c.path, c.err = b.run(ctx, t, key)
		b.mu.Lock()
		delete(b.inflight, key)
		b.mu.Unlock()
		close(c.done)
	} else {
		b.mu.Unlock()
	}
	select {
	case <-c.done:
		return c.path, c.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// run runs go build into a temporary file beside the cache entry and renames it into place,
// so a concurrent runtime never sees half a binary.
func (b *builder) run(ctx context.Context, t *target, key string) (string, error) {
	if p, ok := b.cached(t, key); ok { // another process built it meanwhile
		return p, nil
	}
	out := b.binPath(t, key)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", fmt.Errorf("build cache: %w", err)
	}
	tmp := out + ".tmp-" + rand.Text()[:8]
	args := append([]string{"build"}, b.flags...)
	args = append(args, "-o", tmp)
	cmd := exec.CommandContext(ctx, b.goCmd, args...)
	if t.dir != "" {
		cmd.Args = append(cmd.Args, ".")
		cmd.Dir = t.dir
	} else {
		cmd.Args = append(cmd.Args, t.importPath)
		cmd.Dir = t.modRoot
	}
	setGroupCancel(cmd)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	b.log.Info("building image", "image", t.image, "key", key)
	err := cmd.Run()
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		msg := trimOutput(output.String())
		b.log.Warn("build failed", "image", t.image, "err", err, "output", msg)
		return "", unrunnable(ReasonBuildFailed, "image %q: go build failed (%v): %s", t.image, err, msg)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("build cache: %w", err)
	}
	b.log.Info("built image", "image", t.image, "key", key, "duration", time.Since(start).Round(time.Millisecond))
	return out, nil
}

// trimOutput keeps the last lines of go build's output.
func trimOutput(s string) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 20 {
		lines = slices.Concat([]string{"…"}, lines[len(lines)-20:])
	}
	out := strings.Join(lines, "; ")
	if len(out) > 4000 {
		out = "…" + out[len(out)-4000:]
	}
	return out
}

// errIsUnrunnable returns err as an *unrunnableError if it is one.
func errIsUnrunnable(err error) (*unrunnableError, bool) {
	var u *unrunnableError
	ok := errors.As(err, &u)
	return u, ok
}
