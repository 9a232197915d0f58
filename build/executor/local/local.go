package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/eddyplatform/eddy/build/executor"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("local executor: closed")

// Config configures an Executor. The zero Config is usable.
type Config struct {
	// WorkDir is where each run's directory (workspace and logs) goes. Default
	// os.TempDir()/eddy-builds.
	WorkDir string
	// ArtifactDir is the content-addressed store of artifacts. Default
	// os.TempDir()/eddy-artifacts.
	ArtifactDir string
	// Logger receives the executor's own logs. Default slog.Default().
	Logger *slog.Logger
	// KeepWorkspaces keeps each run's workspace when it ends (for debugging); they are
	// removed otherwise.
	KeepWorkspaces bool
	// GoCommand is the go command the eddy.dev/builder/go builder runs, looked up in the
	// step's PATH unless it has a slash. Default "go".
	GoCommand string
	// InheritEnv names the variables of Eddy's own environment that steps inherit (before
	// Request.Env and the step's env). Nothing else is inherited. Default PATH, HOME, USER,
	// LANG, LC_ALL, TZ, TMPDIR, SSL_CERT_FILE, SSL_CERT_DIR and the go command's GOPATH,
	// GOCACHE, GOMODCACHE, GOPROXY, GONOSUMDB, GOPRIVATE, GONOPROXY, GOSUMDB, GOINSECURE and
	// GOTOOLCHAIN.
	InheritEnv []string
	// InsecureIgnoreHostKey accepts any host key from ssh git servers when a request has
	// no KnownHosts. Off by default: the machine's known_hosts files are used.
	InsecureIgnoreHostKey bool
	// KillGrace is how long a step gets between SIGTERM and SIGKILL when a build times out
	// or is cancelled. Default 5s.
	KillGrace time.Duration
	// MaxLogBytes bounds each step's kept log: once it has written more, only the last
	// MaxLogBytes/2 to MaxLogBytes bytes are kept. Default 8 MiB; at least 1 KiB.
	MaxLogBytes int64
	// ArtifactMinAge protects newly stored artifacts from CollectArtifacts for that long, so
	// a build's artifact survives until the reconciler has recorded it. Default 10 minutes;
	// negative means no protection.
	ArtifactMinAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

var defaultInheritEnv = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
	"GOPATH", "GOCACHE", "GOMODCACHE", "GOPROXY", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOSUMDB", "GOINSECURE", "GOTOOLCHAIN"}

func (c Config) withDefaults() (Config, error) {
	if c.WorkDir == "" {
		c.WorkDir = filepath.Join(os.TempDir(), "eddy-builds")
	}
	if c.ArtifactDir == "" {
		c.ArtifactDir = filepath.Join(os.TempDir(), "eddy-artifacts")
	}
	var err error
	if c.WorkDir, err = filepath.Abs(c.WorkDir); err != nil {
		return c, err
	}
	if c.ArtifactDir, err = filepath.Abs(c.ArtifactDir); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.GoCommand == "" {
		c.GoCommand = "go"
	}
	if c.InheritEnv == nil {
		c.InheritEnv = defaultInheritEnv
	}
	if c.KillGrace <= 0 {
		c.KillGrace = 5 * time.Second
	}
	if c.MaxLogBytes <= 0 {
		c.MaxLogBytes = 8 << 20
	}
	c.MaxLogBytes = max(c.MaxLogBytes, 1024)
	if c.ArtifactMinAge == 0 {
		c.ArtifactMinAge = 10 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Executor runs builds as local processes (see the package documentation). Make one with
// New.
type Executor struct {
	cfg     Config
	log     *slog.Logger
	spawner *spawner

	artifactMu sync.Mutex // serialises storing and collecting artifacts

	mu     sync.Mutex
	runs   map[*run]struct{} // runs not ended
	closed bool
	wg     sync.WaitGroup

	closeOnce sync.Once
}

var _ executor.Executor = (*Executor)(nil)

// New returns an Executor, creating its directories.
func New(cfg Config) (*Executor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("local executor: %w", err)
	}
	for _, d := range []string{cfg.WorkDir, filepath.Join(cfg.ArtifactDir, "sha256"), filepath.Join(cfg.ArtifactDir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("local executor: %w", err)
		}
	}
	return &Executor{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "build-executor"),
		spawner: newSpawner(),
		runs:    map[*run]struct{}{},
	}, nil
}

// Start implements executor.Executor: it validates req, makes the run's directory and runs
// the build in the background.
func (e *Executor) Start(ctx context.Context, req executor.Request) (executor.Run, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("build %s: %w", req.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	dir, err := os.MkdirTemp(e.cfg.WorkDir, dirPrefix(req.ID))
	if err != nil {
		return nil, fmt.Errorf("build %s: %w", req.ID, err)
	}
	r := newRun(e, req, dir)
	e.runs[r] = struct{}{}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		r.execute()
		e.mu.Lock()
		delete(e.runs, r)
		e.mu.Unlock()
	}()
	return r, nil
}

// Close cancels every run still going and waits for them to end. Start fails afterwards.
func (e *Executor) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		for r := range e.runs {
			r.Cancel()
		}
		e.mu.Unlock()
		e.wg.Wait()
		e.spawner.close()
	})
	return nil
}

// dirPrefix makes a directory name prefix of a build's ID: namespace_name_uid- with any
// byte not safe in a file name replaced.
func dirPrefix(id executor.ID) string {
	uid := id.UID
	if len(uid) > 8 {
		uid = uid[:8]
	}
	s := id.Namespace + "_" + id.Name + "_" + uid
	if len(s) > 100 {
		s = s[:100]
	}
	return strings.Map(func(r rune) rune {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '.' || r == '_' {
			return r
		}
		return '_'
	}, s) + "-"
}
