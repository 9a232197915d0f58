package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apibuild "github.com/eddyplatform/eddy/api/build"
	"github.com/eddyplatform/eddy/api/serving"
	"github.com/eddyplatform/eddy/control/reconciler"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ImagePrefix starts the images that name build artifacts: build://NAMESPACE/NAME (the
// artifact of a Build) or build://sha256:HEX (an artifact by digest).
const ImagePrefix = "build://"

// ResolveImage turns an image naming a build artifact into the command that runs it: the
// stored artifact's path. ok is false for images that are not build artifacts
// (build://NAMESPACE/NAME, build://sha256:HEX or sha256:HEX); for those that are, err says
// why one cannot run (no such Build, not succeeded, no artifact, artifact collected).
func (s *Builds) ResolveImage(ctx context.Context, image string) (command []string, ok bool, err error) {
	digest, err := s.imageDigest(ctx, image)
	if digest == "" && err == nil {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	if s.cfg.Artifacts == nil {
		return nil, true, fmt.Errorf("image %s: no artifact store", image)
	}
	a, err := s.cfg.Artifacts.LookupArtifact(digest)
	if err != nil {
		return nil, true, fmt.Errorf("image %s: %w", image, err)
	}
	return []string{a.Path}, true, nil
}

// imageDigest returns the artifact digest an image names; "" and no error for images that
// do not name artifacts.
func (s *Builds) imageDigest(ctx context.Context, image string) (string, error) {
	if apibuild.ValidDigest(image) {
		return image, nil
	}
	rest, found := strings.CutPrefix(image, ImagePrefix)
	if !found {
		return "", nil
	}
	if apibuild.ValidDigest(rest) {
		return rest, nil
	}
	ns, name, found := strings.Cut(rest, "/")
	if !found || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Label(name)) > 0 {
		return "", fmt.Errorf("image %q: want build://NAMESPACE/NAME or build://sha256:HEX", image)
	}
	var b apibuild.Build
	if err := s.cfg.Client.Get(ctx, ns, name, &b); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Errorf("image %s: no Build %s/%s", image, ns, name)
		}
		return "", err
	}
	switch {
	case !b.Status.IsDone():
		return "", fmt.Errorf("image %s: the build has not finished", image)
	case !b.Status.IsSucceeded():
		return "", fmt.Errorf("image %s: the build failed", image)
	case b.Status.Artifact == nil || !apibuild.ValidDigest(b.Status.Artifact.Digest):
		return "", fmt.Errorf("image %s: the build produced no artifact", image)
	}
	return b.Status.Artifact.Digest, nil
}

// CollectArtifacts removes the stored artifacts that no Build's status and no Revision's
// image names (and that are older than the store's minimum age). It returns the digests
// removed.
func (s *Builds) CollectArtifacts(ctx context.Context) ([]string, error) {
	if s.cfg.Artifacts == nil {
		return nil, errors.New("no artifact store")
	}
	keep := map[string]bool{}
	builds, err := reconciler.List[*apibuild.Build](ctx, s.cfg.Client, "", nil)
	if err != nil {
		return nil, err
	}
	for _, b := range builds {
		if a := b.Status.Artifact; a != nil {
			keep[a.Digest] = true
		}
	}
	revs, err := reconciler.List[*serving.Revision](ctx, s.cfg.Client, "", nil)
	if err != nil {
		return nil, err
	}
	for _, r := range revs {
		for _, c := range r.Spec.Containers {
			if d, err := s.imageDigest(ctx, c.Image); err == nil && d != "" {
				keep[d] = true
			}
		}
	}
	return s.cfg.Artifacts.CollectArtifacts(func(d string) bool { return keep[d] })
}
