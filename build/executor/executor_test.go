package executor

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestParseRevision(t *testing.T) {
	sha := "0123456789abcdef0123456789ABCDEF01234567"
	for _, tc := range []struct {
		in   string
		want Revision
	}{
		{"", Revision{Kind: RevisionDefault}},
		{"HEAD", Revision{Kind: RevisionDefault}},
		{sha, Revision{Kind: RevisionCommit, Name: strings.ToLower(sha)}},
		{"main", Revision{Kind: RevisionName, Name: "main"}},
		{"release/v1.2", Revision{Kind: RevisionName, Name: "release/v1.2"}},
		{"v1.0.0", Revision{Kind: RevisionName, Name: "v1.0.0"}},
		{"abc1234", Revision{Kind: RevisionName, Name: "abc1234", Abbrev: true}},
		{"abc", Revision{Kind: RevisionName, Name: "abc"}},
		{"refs/heads/main", Revision{Kind: RevisionRef, Name: "refs/heads/main"}},
		{"refs/pull/12/head", Revision{Kind: RevisionRef, Name: "refs/pull/12/head"}},
	} {
		got, err := ParseRevision(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRevision(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"@", "-x", "/main", "main/", "a..b", "a//b", "a@{1}", "a b", "a~1", "a^",
		"a:b", "a?", "a*", "a[", `a\b`, "a\x00", "a\x7f", ".hidden", "x/.y", "x.lock", "x.lock/y", "end.",
		strings.Repeat("a", maxRevisionLen+1)} {
		if r, err := ParseRevision(bad); err == nil {
			t.Errorf("ParseRevision(%q) = %+v, want an error", bad, r)
		}
	}
}

func FuzzParseRevision(f *testing.F) {
	for _, s := range []string{"", "HEAD", "main", "refs/tags/v1", "abc1234", "0123456789abcdef0123456789abcdef01234567", "a..b", "x.lock", "@{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRevision(s)
		if err != nil {
			return
		}
		switch r.Kind {
		case RevisionDefault:
			if r.Name != "" {
				t.Fatalf("default revision with name %q", r.Name)
			}
		case RevisionCommit:
			if len(r.Name) != 40 || !isHex(r.Name) || strings.ToLower(r.Name) != r.Name {
				t.Fatalf("commit %q", r.Name)
			}
		case RevisionRef, RevisionName:
			if r.Name != s || checkRefName(s) != nil {
				t.Fatalf("name %q from %q", r.Name, s)
			}
			if strings.ContainsAny(s, " \x00\n:") || strings.Contains(s, "..") || strings.HasPrefix(s, "-") {
				t.Fatalf("accepted %q", s)
			}
		}
		// Parsing what String returns gives the same revision.
		if again, err := ParseRevision(r.String()); err != nil || again != r {
			t.Fatalf("reparse of %q: %+v, %v; want %+v", r.String(), again, err, r)
		}
	})
}

func TestValidate(t *testing.T) {
	ok := Request{Steps: []corev1.Container{{Name: "a"}, {}, {Name: "b"}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Request{
		"dup":          {Steps: []corev1.Container{{Name: "step-1"}, {}}},
		"dup names":    {Steps: []corev1.Container{{Name: "a"}, {Name: "a"}}},
		"two sources":  {Source: Source{Git: &GitSource{URL: "x"}, Local: &LocalSource{Path: "y"}}},
		"no url":       {Source: Source{Git: &GitSource{}}},
		"bad revision": {Source: Source{Git: &GitSource{URL: "x", Revision: "a..b"}}},
		"no path":      {Source: Source{Local: &LocalSource{}}},
		"timeout":      {Timeout: -time.Second},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil, want an error", name)
		}
	}
}

func TestContainerState(t *testing.T) {
	t0 := time.Unix(100, 0)
	t1 := t0.Add(time.Second)
	if s := (StepState{Phase: StepWaiting, Reason: StepReasonNotRunnable, Message: "m"}).ContainerState(); s.Waiting == nil || s.Waiting.Reason != "NotRunnable" || s.Waiting.Message != "m" {
		t.Errorf("waiting: %+v", s)
	}
	if s := (StepState{Phase: StepRunning, StartedAt: t0}).ContainerState(); s.Running == nil || !s.Running.StartedAt.Time.Equal(t0) {
		t.Errorf("running: %+v", s)
	}
	s := (StepState{Phase: StepTerminated, ExitCode: 3, Reason: StepReasonError, StartedAt: t0, FinishedAt: t1}).ContainerState()
	if s.Terminated == nil || s.Terminated.ExitCode != 3 || s.Terminated.Reason != "Error" || !s.Terminated.FinishedAt.Time.Equal(t1) {
		t.Errorf("terminated: %+v", s)
	}
	if StepName(corev1.Container{}, 2) != "step-2" || StepName(corev1.Container{Name: "x"}, 2) != "x" {
		t.Error("StepName")
	}
}
