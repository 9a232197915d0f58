package process

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/eddyplatform/eddy/serving/runtime"
)

// Config configures a process Runtime. The zero value of every field means its default.
type Config struct {
	// Dir is the base directory of relative ko:// images (ko://./examples/hello), and the
	// directory whose module is the main module for ko://<import path> images and for
	// relative workingDirs. Default: the working directory of the process.
	Dir string

	// CacheDir holds the binaries built from ko:// images, one subdirectory per content hash.
	// Default: os.UserCacheDir()/eddy/ko.
	CacheDir string

	// GoCommand is the go command that builds ko:// images. Default "go", looked up in PATH.
	GoCommand string

	// GoBuildFlags are extra flags for go build, such as "-trimpath" or "-ldflags=-s -w".
	// They are part of the cache key.
	GoBuildFlags []string

	// StopGracePeriod bounds how long stopping an instance takes, as a Pod's
	// terminationGracePeriodSeconds does: Drain and then SIGTERM share it, and whatever still
	// runs at its end gets SIGKILL (SIGTERM gets at least min(2s, StopGracePeriod) even when
	// Drain used all of it). Default 10s.
	StopGracePeriod time.Duration

	// RestartBackoff is the delay before an exited instance is restarted.
	RestartBackoff Backoff

	// Drain, if set, is called when an instance starts terminating (it is already marked
	// Terminating and no longer Ready), before it gets SIGTERM. The router uses it to wait
	// until the instance has no requests in flight. ctx ends at the end of StopGracePeriod,
	// or at once when Remove's or Close's context ends. Drain must be safe for concurrent use.
	Drain func(ctx context.Context, key runtime.RevisionKey, instanceID string)

	// ResolveImage, if set, turns an image the runtime does not build itself (such as
	// build://NAMESPACE/NAME, a Build's artifact) into the command that runs it; ok false
	// means the image is not one it knows. It is asked only for containers without a
	// command.
	ResolveImage func(ctx context.Context, image string) (command []string, ok bool, err error)

	// Logger receives the runtime's logs; each line an instance writes is mirrored to it at
	// debug level. Default slog.Default().
	Logger *slog.Logger

	// LogLines is how many lines of output each instance keeps for Logs. Default 1000.
	LogLines int

	// InheritEnv names the variables of the runtime's own environment that each instance
	// inherits (before the container's env, which overrides them). Nothing else is inherited,
	// so secrets in the runtime's environment do not leak into instances. Default PATH, HOME,
	// USER, LANG, LC_ALL, TZ, TMPDIR, SSL_CERT_FILE and SSL_CERT_DIR.
	InheritEnv []string

	// CgroupRoot is the cgroup v2 directory under which instance cgroups are made
	// (CgroupRoot/<namespace>_<revision>/<instance>). Its parent must be in a cgroup2 mount
	// with the memory and cpu controllers available. Default /sys/fs/cgroup/eddy. "-" turns
	// limits off.
	CgroupRoot string
}

// Backoff is an exponential restart backoff, as a kubelet's CrashLoopBackOff: the first
// restart waits Min, each further one twice as long, up to Max; an instance that ran for Reset
// before it exited starts again from Min.
type Backoff struct {
	// Min is the first delay. Default 10ms.
	Min time.Duration
	// Max caps the delay. Default 30s.
	Max time.Duration
	// Reset is how long an instance must run for its backoff to reset. Default twice Max.
	Reset time.Duration
}

// delay returns the delay before restart number n (1 for the first).
func (b Backoff) delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// defaultInheritEnv is Config.InheritEnv's default.
var defaultInheritEnv = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR"}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() (Config, error) {
	if c.Dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return c, fmt.Errorf("process: working directory: %w", err)
		}
		c.Dir = wd
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return c, fmt.Errorf("process: Dir: %w", err)
	}
	c.Dir = dir
	if c.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return c, fmt.Errorf("process: no CacheDir and no user cache directory: %w", err)
		}
		c.CacheDir = filepath.Join(base, "eddy", "ko")
	}
	if c.CacheDir, err = filepath.Abs(c.CacheDir); err != nil {
		return c, fmt.Errorf("process: CacheDir: %w", err)
	}
	if c.GoCommand == "" {
		c.GoCommand = "go"
	}
	if c.StopGracePeriod <= 0 {
		c.StopGracePeriod = 10 * time.Second
	}
	if c.RestartBackoff.Min <= 0 {
		c.RestartBackoff.Min = 10 * time.Millisecond
	}
	if c.RestartBackoff.Max <= 0 {
		c.RestartBackoff.Max = 30 * time.Second
	}
	c.RestartBackoff.Max = max(c.RestartBackoff.Max, c.RestartBackoff.Min)
	if c.RestartBackoff.Reset <= 0 {
		c.RestartBackoff.Reset = 2 * c.RestartBackoff.Max
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.LogLines <= 0 {
		c.LogLines = 1000
	}
	if c.InheritEnv == nil {
		c.InheritEnv = defaultInheritEnv
	}
	if c.CgroupRoot == "" {
		c.CgroupRoot = "/sys/fs/cgroup/eddy"
	}
	return c, nil
}
