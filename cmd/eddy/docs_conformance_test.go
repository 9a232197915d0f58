package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests in this file keep docs/conformance.md true: every command it shows parses, and
// the runs it shows are repeated here, with the same inputs, against the same kind of
// receivers, and must print what the page says (up to the ports, and "..." elisions).

const conformanceDoc = "../../docs/conformance.md"

// docBlock is a fenced block of the page.
type docBlock struct {
	lang  string
	lines []string
}

func readDocBlocks(t *testing.T) []docBlock {
	t.Helper()
	data, err := os.ReadFile(conformanceDoc)
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
	return blocks
}

// docCommand is a "$ " line of a console block and the output lines under it.
type docCommand struct {
	line   string
	args   []string
	output []string
}

func docCommands(t *testing.T, blocks []docBlock) []docCommand {
	t.Helper()
	var cmds []docCommand
	for _, b := range blocks {
		if b.lang != "console" {
			continue
		}
		for _, line := range b.lines {
			if rest, ok := strings.CutPrefix(line, "$ "); ok {
				args, err := shellWords(rest)
				if err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				cmds = append(cmds, docCommand{line: rest, args: args})
				continue
			}
			if len(cmds) == 0 {
				t.Fatalf("output before any command: %q", line)
			}
			cmds[len(cmds)-1].output = append(cmds[len(cmds)-1].output, line)
		}
	}
	return cmds
}

// shellWords splits a command line as a POSIX shell would for the simple lines the page
// uses: words, 'single' and "double" quotes (no expansion), and word=“quoted” forms.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// TestDocsConformanceCommandsParse: every eddy command on the page names a command and
// flags that exist, with acceptable arguments.
func TestDocsConformanceCommandsParse(t *testing.T) {
	n := 0
	for _, c := range docCommands(t, readDocBlocks(t)) {
		if len(c.args) == 0 || c.args[0] != "eddy" {
			continue
		}
		n++
		root := newRootCommand()
		cmd, rest, err := root.Find(c.args[1:])
		if err != nil || cmd == root || !cmd.Runnable() {
			t.Errorf("%s: no such command (%v)", c.line, err)
			continue
		}
		if err := cmd.ParseFlags(rest); err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
			t.Errorf("%s: %v", c.line, err)
		}
	}
	if n < 12 {
		t.Errorf("only %d eddy commands found on the page", n)
	}
}

// matchLines checks that every line the page shows (but "..." and lines that depend on the
// run: "error: …" as main prints it, and the listening address) appears in got, in order.
func matchLines(t *testing.T, what string, want []string, got string) {
	t.Helper()
	gotLines := strings.Split(got, "\n")
	i := 0
	for _, w := range want {
		if w == "..." || strings.HasPrefix(w, "error: ") || strings.HasPrefix(w, "listening on ") || w == "" {
			continue
		}
		for i < len(gotLines) && strings.TrimRight(gotLines[i], " ") != strings.TrimRight(w, " ") {
			i++
		}
		if i == len(gotLines) {
			t.Errorf("%s: the page shows a line the run does not print (in this order):\n%s\nthe run printed:\n%s", what, w, got)
			return
		}
		i++
	}
}

func findCommand(t *testing.T, cmds []docCommand, prefix string, nth int) docCommand {
	t.Helper()
	for _, c := range cmds {
		if strings.HasPrefix(c.line, prefix) {
			if nth == 0 {
				return c
			}
			nth--
		}
	}
	t.Fatalf("the page has no command %q", prefix)
	return docCommand{}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDocsConformanceVerifyReceiver builds the page's webhook, before and after its fix, runs
// it, and checks that verify receiver prints what the page shows.
func TestDocsConformanceVerifyReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the page's webhook")
	}
	blocks := readDocBlocks(t)
	var program, fix string
	for _, b := range blocks {
		text := strings.Join(b.lines, "\n") + "\n"
		switch {
		case b.lang == "go" && strings.HasPrefix(text, "package main"):
			program = text
		case b.lang == "go" && strings.Contains(text, "ev.Validate()"):
			fix = text
		}
	}
	const decode = "\t\tev, err := cehttp.NewEventFromHTTPRequest(r)\n"
	if program == "" || fix == "" || !strings.Contains(program, decode) || !strings.Contains(program, `"localhost:3000"`) {
		t.Fatal("the page's webhook program or its fix is missing")
	}
	cmds := docCommands(t, blocks)
	for i, src := range []string{program, strings.Replace(program, decode, fix, 1)} {
		addr := freePort(t)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(src, "localhost:3000", addr, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "hook")
		// Built from this module, so the SDK is the version Eddy uses.
		if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(dir, "main.go")).CombinedOutput(); err != nil {
			t.Fatalf("the page's webhook does not build: %v\n%s", err, out)
		}
		hook := exec.Command(bin)
		hook.Stderr = io.Discard
		if err := hook.Start(); err != nil {
			t.Fatal(err)
		}
		url := "http://" + addr + "/webhook"
		deadline := time.Now().Add(20 * time.Second)
		for {
			if resp, err := http.Get(url); err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the webhook did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		out, _, err := runEddy(context.Background(), "conformance", "verify", "receiver", url)
		hook.Process.Kill()
		hook.Wait()
		if err == nil {
			t.Errorf("run %d: verify receiver passed; the page shows failures", i+1)
		}
		matchLines(t, fmt.Sprintf("verify receiver, run %d", i+1), findCommand(t, cmds, "eddy conformance verify receiver http://localhost:3000/webhook", i).output, out)
	}
}

// TestDocsConformanceEventsFlow repeats the page's listen, send, invoke, diff, raw and
// verify producer runs.
func TestDocsConformanceEventsFlow(t *testing.T) {
	blocks := readDocBlocks(t)
	cmds := docCommands(t, blocks)
	ctx := context.Background()
	dir := t.TempDir()
	var listenYAML []string
	for _, b := range blocks {
		if b.lang == "yaml" && len(b.lines) > 0 {
			switch b.lines[0] {
			case "# want.yaml":
				os.WriteFile(filepath.Join(dir, "want.yaml"), []byte(strings.Join(b.lines, "\n")+"\n"), 0o644)
			case "# POST / answered 202":
				listenYAML = b.lines
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "want.yaml")); err != nil || listenYAML == nil {
		t.Fatal("the page's want.yaml or listen output is missing")
	}
	// run runs a page command with the page's address swapped for the test's, and checks
	// its output; the page shows "error: " under commands that fail.
	run := func(c docCommand, pageAddr, addr, workdir string) {
		t.Helper()
		args := make([]string, len(c.args)-1)
		for i, a := range c.args[1:] {
			a = strings.ReplaceAll(a, pageAddr, addr)
			if strings.HasSuffix(a, ".yaml") {
				a = filepath.Join(workdir, a)
			}
			args[i] = a
		}
		out, _, err := runEddy(ctx, args...)
		wantErr := false
		for _, l := range c.output {
			wantErr = wantErr || strings.HasPrefix(l, "error: ")
		}
		if (err != nil) != wantErr {
			t.Errorf("%s: error %v, the page says failing: %v", c.line, err, wantErr)
		}
		matchLines(t, c.line, c.output, strings.ReplaceAll(out, addr, pageAddr))
	}

	// listen, send, invoke, history, diff.
	l := startServer(t, "events", "listen", "--port", "0")
	addr := strings.TrimPrefix(l.url, "http://")
	const page = "localhost:8181"
	run(findCommand(t, cmds, "eddy events send http://localhost:8181 --id order-0", 0), page, addr, dir)
	run(findCommand(t, cmds, "eddy events send http://localhost:8181 --id order-x", 0), page, addr, dir)
	matchLines(t, "listen output", listenYAML, l.out.String())
	run(findCommand(t, cmds, "eddy events invoke http://localhost:8181 -f want.yaml", 0), page, addr, dir)
	resp, err := http.Get(l.url + "/history")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	os.WriteFile(filepath.Join(dir, "got.yaml"), hist, 0o644)
	run(findCommand(t, cmds, "eddy events diff want.yaml got.yaml", 0), page, addr, dir)
	run(findCommand(t, cmds, "eddy events diff want.yaml got.yaml --ignore-additions", 0), page, addr, dir)
	// "Had want.yaml said subject: order two".
	other := t.TempDir()
	want, _ := os.ReadFile(filepath.Join(dir, "want.yaml"))
	os.WriteFile(filepath.Join(other, "want.yaml"), []byte(strings.Replace(string(want), "subject: order 2", "subject: order two", 1)), 0o644)
	os.WriteFile(filepath.Join(other, "got.yaml"), hist, 0o644)
	run(findCommand(t, cmds, "eddy events diff want.yaml got.yaml --ignore-additions", 1), page, addr, other)

	// raw, with the request the page names.
	r := startServer(t, "events", "raw", "--port", "0")
	rawAddr := strings.TrimPrefix(r.url, "http://")
	if out, _, err := runEddy(ctx, "events", "send", r.url+"/orders", "--id", "order-3", "--source", "/shop", "--type", "com.example.order.created", "--extension", "subject=Café €5"); err != nil {
		t.Fatal(err, out)
	}
	matchLines(t, "raw", findCommand(t, cmds, "eddy events raw --port 8182", 0).output, strings.ReplaceAll(r.out.String(), rawAddr, "localhost:8182"))

	// verify producer, with the page's two events.
	pc := findCommand(t, cmds, "eddy conformance verify producer --port 8183", 0)
	args := append([]string(nil), pc.args[1:]...)
	for i := range args {
		switch {
		case args[i] == "8183":
			args[i] = "0"
		case strings.HasSuffix(args[i], ".xml"):
			args[i] = filepath.Join(dir, args[i])
		}
	}
	p := startServer(t, args...)
	run(findCommand(t, cmds, "eddy events send http://localhost:8183", 0), "localhost:8183", strings.TrimPrefix(p.url, "http://"), dir)
	req, _ := http.NewRequest(http.MethodPost, p.url, nil) // the page's curl command
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "order-5", "ce-source": "/shop", "ce-type": "com.example.order.created", "ce-subject": "Café"} {
		req.Header[k] = []string{v}
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	matchLines(t, "curl", findCommand(t, cmds, "curl -s -X POST", 0).output, string(body))
	if err := <-p.done; err == nil {
		t.Error("verify producer passed; the page shows a failure")
	}
	close(p.done)
	matchLines(t, "verify producer", pc.output, p.err.String()+p.out.String())
	if _, err := os.Stat(filepath.Join(dir, "producer.xml")); err != nil {
		t.Errorf("--junit: %v", err)
	}
}
