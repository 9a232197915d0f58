package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// funcFile is the name of a function's description in its directory.
const funcFile = "func.yaml"

// functionLabel labels the objects `eddy deploy` makes with the function's name.
const functionLabel = "eddy.dev/function"

// managedAnnotations, on a function's Service, lists the template annotations func.yaml set
// at the last deploy, so that one removed from func.yaml is removed from the template.
const managedAnnotations = "eddy.dev/function-annotations"

// maxFuncName keeps NAME-HASH (a Build's name) a DNS label: 63 - 1 - hashLen.
const maxFuncName = 63 - 1 - hashLen

// hashLen is the number of hex digits of the content hash in a Build's name.
const hashLen = 10

// funcConfig is a function's func.yaml.
type funcConfig struct {
	// Name names the Service and the Builds (NAME-HASH). Required.
	Name string `json:"name"`
	// Env is the environment of the function's instances.
	Env map[string]string `json:"env,omitempty"`
	// Annotations go on the Service's revision template, such as
	// autoscaling.knative.dev/min-scale.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Events are the subscriptions of the function: one Trigger each.
	Events []funcEvent `json:"events,omitempty"`
}

// funcEvent is a subscription: the events of a broker that pass the filter go to the
// function.
type funcEvent struct {
	// Name is the Trigger's name; default FUNCTION-BROKER-INDEX.
	Name string `json:"name,omitempty"`
	// Broker is the broker in the function's namespace. Required.
	Broker string `json:"broker"`
	// Filter selects the events by exact attribute values.
	Filter struct {
		Attributes map[string]string `json:"attributes,omitempty"`
	} `json:"filter,omitempty"`
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseFuncConfig decodes and checks a func.yaml: unknown fields are errors.
func parseFuncConfig(data []byte) (*funcConfig, error) {
	var c funcConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", funcFile, err)
	}
	var errs []string
	switch msgs := validation.IsDNS1035Label(c.Name); {
	case c.Name == "":
		errs = append(errs, "name: required")
	case len(msgs) > 0:
		errs = append(errs, fmt.Sprintf("name %q: %s", c.Name, strings.Join(msgs, "; ")))
	case len(c.Name) > maxFuncName:
		errs = append(errs, fmt.Sprintf("name %q: at most %d characters", c.Name, maxFuncName))
	}
	for _, k := range sortedKeys(c.Env) {
		if !envNameRE.MatchString(k) {
			errs = append(errs, fmt.Sprintf("env %q: not a variable name", k))
		}
	}
	for _, k := range sortedKeys(c.Annotations) {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, fmt.Sprintf("annotations %q: %s", k, msg))
		}
	}
	seen := map[string]bool{}
	for i := range c.Events {
		e := &c.Events[i]
		if e.Broker == "" {
			errs = append(errs, fmt.Sprintf("events[%d].broker: required", i))
			continue
		}
		for _, msg := range validation.IsDNS1123Subdomain(e.Broker) {
			errs = append(errs, fmt.Sprintf("events[%d].broker %q: %s", i, e.Broker, msg))
		}
		name := c.triggerName(i)
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, fmt.Sprintf("events[%d].name %q: %s", i, name, msg))
		}
		if seen[name] {
			errs = append(errs, fmt.Sprintf("events[%d].name %q: duplicate", i, name))
		}
		seen[name] = true
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %s", funcFile, strings.Join(errs, ", "))
	}
	return &c, nil
}

// triggerName is the name of the Trigger of events entry i.
func (c *funcConfig) triggerName(i int) string {
	if n := c.Events[i].Name; n != "" {
		return n
	}
	return fmt.Sprintf("%s-%s-%d", c.Name, c.Events[i].Broker, i)
}

// loadFunction returns the absolute directory of a function and its func.yaml.
func loadFunction(dir string) (string, *funcConfig, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(filepath.Join(abs, funcFile))
	if err != nil {
		return "", nil, fmt.Errorf("%s is not a function directory (run `eddy init` there first): %w", abs, err)
	}
	c, err := parseFuncConfig(data)
	if err != nil {
		return "", nil, err
	}
	return abs, c, nil
}

// contentHash is the hex SHA-256 of the function's code: every regular file and symbolic
// link under dir, by relative path, but func.yaml (the deployment's, not the build's) and
// hidden files and directories (.git and the like).
func contentHash(dir string) (string, error) {
	type entry struct{ rel, abs string }
	var files []entry
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || rel == funcFile {
			return nil
		}
		files = append(files, entry{filepath.ToSlash(rel), path})
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].rel < files[j].rel })
	h := sha256.New()
	for _, f := range files {
		st, err := os.Lstat(f.abs)
		if err != nil {
			return "", err
		}
		switch {
		case st.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(f.abs)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "link %q %q\n", f.rel, target)
		case st.Mode().IsRegular():
			fmt.Fprintf(h, "file %q %d %t\n", f.rel, st.Size(), st.Mode()&0o111 != 0)
			r, err := os.Open(f.abs)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
