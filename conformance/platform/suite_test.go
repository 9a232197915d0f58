package platformconf

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The known-failure bookkeeping, on synthetic cases (no platform): a listed case that fails
// is skipped with its reason and what it observed, also when it calls Fatalf; a listed case
// that passes fails the test; an unlisted case fails as usual.

func withKnown(t *testing.T, name, reason string) {
	KnownFailures[name] = KnownFailure{Reason: reason}
	t.Cleanup(func() { delete(KnownFailures, name) })
}

func TestKnownFailureIsSkippedWithReason(t *testing.T) {
	s := &suite{target: Target{Bus: "stub"}}
	withKnown(t, "synthetic/errors", "a reason")
	withKnown(t, "synthetic/fatal", "another reason")
	var errs, fatal *testing.T
	t.Run("errors", func(tt *testing.T) {
		errs = tt
		s.runCase(tt, "synthetic/errors", nil, func(t *caseT) {
			t.Errorf("first %d", 1)
			t.Errorf("second")
		})
	})
	reached := false
	t.Run("fatal", func(tt *testing.T) {
		fatal = tt
		s.runCase(tt, "synthetic/fatal", nil, func(t *caseT) {
			t.Fatalf("stop here")
			reached = true
		})
	})
	if !errs.Skipped() || errs.Failed() || !fatal.Skipped() || fatal.Failed() {
		t.Fatalf("known failures: skipped %v/%v, failed %v/%v; want skipped, not failed", errs.Skipped(), fatal.Skipped(), errs.Failed(), fatal.Failed())
	}
	if reached {
		t.Fatal("Fatalf in a known failure did not end the case")
	}
}

func TestKnownFailureCoversSubtests(t *testing.T) {
	s := &suite{target: Target{Bus: "stub"}}
	withKnown(t, "synthetic/parent", "a reason")
	var parent, child *testing.T
	t.Run("parent", func(tt *testing.T) {
		parent = tt
		s.runCase(tt, "synthetic/parent", nil, func(t *caseT) {
			t.Run("ok", func(t *caseT) {})
			t.Run("bad", func(t *caseT) {
				child = t.T
				t.Errorf("broken")
			})
		})
	})
	if !child.Skipped() || !parent.Skipped() || parent.Failed() {
		t.Fatalf("child skipped %v, parent skipped %v failed %v", child.Skipped(), parent.Skipped(), parent.Failed())
	}
}

func TestKnownFailureOtherBus(t *testing.T) {
	KnownFailures["synthetic/kafka-only"] = KnownFailure{Reason: "kafka", Buses: []string{"kafka"}}
	t.Cleanup(func() { delete(KnownFailures, "synthetic/kafka-only") })
	if KnownFailures["synthetic/kafka-only"].appliesTo("stub") || !KnownFailures["synthetic/kafka-only"].appliesTo("kafka") {
		t.Fatal("Buses does not limit the entry")
	}
}

// helperMode runs one synthetic case in a child process, whose verdict the parent checks.
const helperMode = "PLATFORMCONF_SYNTHETIC"

func TestSyntheticHelper(t *testing.T) {
	s := &suite{target: Target{Bus: "stub"}}
	switch os.Getenv(helperMode) {
	case "known-passes":
		withKnown(t, "synthetic/passes", "a reason")
		s.runCase(t, "synthetic/passes", nil, func(t *caseT) {})
	case "unlisted-fails":
		s.runCase(t, "synthetic/unlisted", nil, func(t *caseT) { t.Errorf("a real failure") })
	default:
		t.Skip("runs only as the child of TestKnownFailureThatPassesFails")
	}
}

func TestKnownFailureThatPassesFails(t *testing.T) {
	for mode, want := range map[string]string{
		"known-passes":   "is listed in KnownFailures",
		"unlisted-fails": "a real failure",
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSyntheticHelper$", "-test.v")
		cmd.Env = append(os.Environ(), helperMode+"="+mode)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) || !strings.Contains(string(out), "--- FAIL: TestSyntheticHelper") {
			t.Errorf("%s: exit %v; want a failure saying %q; output:\n%s", mode, err, want, out)
		}
	}
}

func TestEveryKnownFailureNamesACase(t *testing.T) {
	checkKnownFailures(t, allCases())
}

func TestCaseNamesStartWithARequirement(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCases() {
		req, _, _ := strings.Cut(c.name, "/")
		if len(req) < 2 || req[0] != 'R' || strings.Trim(req[1:], "0123456789.") != "" {
			t.Errorf("case %q does not start with a requirement number (R4, R28.5, …)", c.name)
		}
		if seen[c.name] {
			t.Errorf("two cases named %q", c.name)
		}
		seen[c.name] = true
	}
}
