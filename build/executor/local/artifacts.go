package local

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/eddyplatform/eddy/build/executor"
)

// ParseDigest checks a digest of the form "sha256:<64 lowercase hex digits>" and returns its
// hex part.
func ParseDigest(digest string) (string, error) {
	h, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(h) != sha256.Size*2 || strings.ToLower(h) != h {
		return "", fmt.Errorf("digest %q is not sha256:<64 lowercase hex digits>", digest)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("digest %q is not sha256:<64 lowercase hex digits>", digest)
	}
	return h, nil
}

// artifactPath is where the artifact with that hex digest is stored.
func (e *Executor) artifactPath(h string) string {
	return filepath.Join(e.cfg.ArtifactDir, "sha256", h)
}

// StoreArtifact copies the file at path into the artifact store, named by the SHA-256 of its
// content, read-only and executable. Storing content already there leaves the stored file as
// it is and only refreshes its time (which CollectArtifacts' minimum age counts from).
func (e *Executor) StoreArtifact(path string) (executor.Artifact, error) {
	in, err := os.Open(path)
	if err != nil {
		return executor.Artifact{}, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Join(e.cfg.ArtifactDir, "tmp"), "artifact-")
	if err != nil {
		return executor.Artifact{}, err
	}
	defer os.Remove(tmp.Name())
	hash := sha256.New()
	size, err := io.Copy(io.MultiWriter(tmp, hash), in)
	if err == nil {
		err = tmp.Chmod(0o555)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return executor.Artifact{}, err
	}
	h := hex.EncodeToString(hash.Sum(nil))
	target := e.artifactPath(h)
	a := executor.Artifact{Digest: "sha256:" + h, Path: target, Size: size}
	e.artifactMu.Lock()
	defer e.artifactMu.Unlock()
	if fi, err := os.Lstat(target); err == nil && fi.Mode().IsRegular() && fi.Size() == size {
		now := e.cfg.Now()
		if err := os.Chtimes(target, now, now); err != nil {
			return executor.Artifact{}, err
		}
		return a, nil
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return executor.Artifact{}, err
	}
	now := e.cfg.Now()
	if err := os.Chtimes(target, now, now); err != nil {
		return executor.Artifact{}, err
	}
	return a, nil
}

// LookupArtifact returns the stored artifact with that digest; the error wraps
// os.ErrNotExist when there is none.
func (e *Executor) LookupArtifact(digest string) (executor.Artifact, error) {
	h, err := ParseDigest(digest)
	if err != nil {
		return executor.Artifact{}, err
	}
	p := e.artifactPath(h)
	fi, err := os.Lstat(p)
	if err != nil {
		return executor.Artifact{}, fmt.Errorf("artifact %s: %w", digest, os.ErrNotExist)
	}
	return executor.Artifact{Digest: digest, Path: p, Size: fi.Size()}, nil
}

// CollectArtifacts removes the stored artifacts whose digest keep rejects, except those
// stored (or stored again) less than Config.ArtifactMinAge ago, and returns the digests it
// removed. The reconciler calls it with the digests its revisions and builds still use.
func (e *Executor) CollectArtifacts(keep func(digest string) bool) ([]string, error) {
	dir := filepath.Join(e.cfg.ArtifactDir, "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	e.artifactMu.Lock()
	defer e.artifactMu.Unlock()
	now := e.cfg.Now()
	var removed []string
	var errs []error
	for _, ent := range entries {
		digest := "sha256:" + ent.Name()
		if _, err := ParseDigest(digest); err != nil || keep(digest) {
			continue
		}
		fi, err := ent.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if e.cfg.ArtifactMinAge > 0 && now.Sub(fi.ModTime()) < e.cfg.ArtifactMinAge {
			continue
		}
		if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, digest)
	}
	if len(removed) > 0 {
		e.log.Info("artifacts collected", "removed", len(removed))
	}
	return removed, errors.Join(errs...)
}
