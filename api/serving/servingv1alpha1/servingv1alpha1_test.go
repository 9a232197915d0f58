package servingv1alpha1_test

import (
	"testing"

	"github.com/eddyplatform/eddy/api/serving/servingv1alpha1"
)

func TestModeAndConfiguration(t *testing.T) {
	var s servingv1alpha1.ServiceSpec
	if s.Mode() != "" {
		t.Errorf("empty spec has mode %q", s.Mode())
	}
	s.Release = &servingv1alpha1.ReleaseType{Revisions: []string{"a"}}
	if cfg, p := s.Configuration(); s.Mode() != "release" || cfg != &s.Release.Configuration || p.String() != "spec.release.configuration" {
		t.Errorf("release: mode %q path %v", s.Mode(), p)
	}
	s.Pinned = &servingv1alpha1.PinnedType{}
	if cfg, _ := s.Configuration(); s.Mode() != "" || cfg != nil {
		t.Errorf("two modes: mode %q", s.Mode())
	}
	s.Release, s.Pinned, s.Manual = nil, nil, &servingv1alpha1.ManualType{}
	if cfg, _ := s.Configuration(); s.Mode() != "manual" || cfg != nil {
		t.Errorf("manual: mode %q", s.Mode())
	}
}

func TestEffectiveContainerConcurrency(t *testing.T) {
	for _, c := range []struct {
		spec servingv1alpha1.RevisionSpec
		want int64
	}{
		{servingv1alpha1.RevisionSpec{}, 0},
		{servingv1alpha1.RevisionSpec{ConcurrencyModel: servingv1alpha1.ConcurrencyModelSingle}, 1},
		{servingv1alpha1.RevisionSpec{ConcurrencyModel: servingv1alpha1.ConcurrencyModelMulti}, 0},
		{servingv1alpha1.RevisionSpec{ContainerConcurrency: 8}, 8},
	} {
		if got := c.spec.EffectiveContainerConcurrency(); got != c.want {
			t.Errorf("%+v: %d, want %d", c.spec, got, c.want)
		}
	}
}
