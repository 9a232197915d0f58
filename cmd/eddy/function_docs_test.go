package main

import (
	"os"
	"strings"
	"testing"

	"github.com/eddyplatform/eddy/api/kinds"
)

// The tests in this file keep docs/build.md true: every eddy command on it parses, its
// func.yaml is what init writes (comments aside) and parses, and its manifests decode.

const buildDoc = "../../docs/build.md"

func readBuildDocBlocks(t *testing.T) []docBlock {
	t.Helper()
	data, err := os.ReadFile(buildDoc)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []docBlock
	var cur *docBlock
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case cur == nil && strings.HasPrefix(line, "```"):
			cur = &docBlock{lang: strings.TrimPrefix(line, "```")}
		case cur != nil && line == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, line)
		}
	}
	if cur != nil {
		t.Fatalf("%s: an unterminated code block", buildDoc)
	}
	return blocks
}

func TestDocsBuildCommandsParse(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range docCommands(t, readBuildDocBlocks(t)) {
		if len(c.args) == 0 || c.args[0] != "eddy" {
			continue
		}
		root := newRootCommand()
		cmd, rest, err := root.Find(c.args[1:])
		if err != nil || cmd == root || !cmd.Runnable() {
			t.Errorf("%s: no such command (%v)", c.line, err)
			continue
		}
		seen[cmd.Name()] = true
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			t.Errorf("%s: %v", c.line, err)
		}
		// The kinds the page names exist.
		if (cmd.Name() == "get" || cmd.Name() == "describe") && len(cmd.Flags().Args()) > 0 {
			for _, name := range strings.Split(cmd.Flags().Args()[0], ",") {
				if _, err := kinds.NewRegistry().Resolve(name); err != nil {
					t.Errorf("%s: %v", c.line, err)
				}
			}
		}
	}
	for _, want := range []string{"up", "init", "build", "deploy", "logs", "get", "describe"} {
		if !seen[want] {
			t.Errorf("the page shows no eddy %s command", want)
		}
	}
}

func TestDocsBuildManifests(t *testing.T) {
	reg := kinds.NewRegistry()
	yamls := 0
	for _, b := range readBuildDocBlocks(t) {
		if b.lang != "yaml" {
			continue
		}
		yamls++
		text := strings.Join(b.lines, "\n") + "\n"
		if strings.HasPrefix(text, "# func.yaml") {
			if _, err := parseFuncConfig([]byte(text)); err != nil {
				t.Errorf("the page's func.yaml: %v", err)
			}
			// It is what init writes, without the comments.
			var want []string
			for _, line := range strings.Split(scaffoldGo("hello")[funcFile], "\n") {
				if !strings.HasPrefix(line, "#") {
					want = append(want, line)
				}
			}
			if got := strings.Join(b.lines[1:], "\n") + "\n"; got != strings.Join(want, "\n") {
				t.Errorf("the page's func.yaml differs from init's:\n%s\ninit writes:\n%s", got, strings.Join(want, "\n"))
			}
			continue
		}
		objs, err := reg.DecodeAll([]byte(text))
		if err != nil {
			t.Errorf("%v in:\n%s", err, text)
			continue
		}
		for _, o := range objs {
			o.SetNamespace("default")
			if _, _, err := reg.Admit(o); err != nil {
				t.Errorf("%s %s: %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetName(), err)
			}
		}
	}
	if yamls < 4 {
		t.Errorf("only %d yaml blocks on the page", yamls)
	}
}
