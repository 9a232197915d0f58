package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

func newInitCommand(_ *globals) *cobra.Command {
	var lang, name string
	cmd := &cobra.Command{
		Use:   "init DIR --lang go [--name NAME]",
		Short: "Scaffold a function: an HTTP and CloudEvents handler, its go.mod and func.yaml",
		Long: "Init writes a new function into DIR (created if missing): main.go, an HTTP handler that\n" +
			"answers plain requests with a greeting and replies to a binary-mode CloudEvent with a\n" +
			"CloudEvent (standard library only); go.mod, a module of its own; and func.yaml, its\n" +
			"name, environment, revision annotations and event subscriptions. It never overwrites\n" +
			"a file. `eddy deploy DIR` then builds and runs it.",
		Example: "  eddy init hello --lang go\n  eddy init ./fns/greeter --lang go --name greeter",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(args[0], lang, name, cmd)
		},
	}
	cmd.Flags().StringVar(&lang, "lang", "go", "the function's language: go")
	cmd.Flags().StringVar(&name, "name", "", "the function's name (default the directory's name)")
	return cmd
}

func runInit(dir, lang, name string, cmd *cobra.Command) error {
	if lang != "go" {
		return fmt.Errorf("--lang %q: only go is supported", lang)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if name == "" {
		name = strings.ToLower(filepath.Base(abs))
	}
	files := scaffoldGo(name)
	if _, err := parseFuncConfig([]byte(files[funcFile])); err != nil {
		return fmt.Errorf("--name %q: %w", name, err)
	}
	for _, f := range sortedKeys(files) {
		if _, err := os.Lstat(filepath.Join(abs, f)); err == nil {
			return fmt.Errorf("%s already exists: init never overwrites a file", filepath.Join(dir, f))
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	for _, f := range sortedKeys(files) {
		// O_EXCL: a file made since the check above is not overwritten either.
		w, err := os.OpenFile(filepath.Join(abs, f), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = w.WriteString(files[f])
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "created %s\n", filepath.Join(dir, f))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "\nFunction %s is ready to deploy:\n  eddy deploy %s\n", name, dir)
	return nil
}

// scaffoldGo returns the files of a new Go function, by name.
func scaffoldGo(name string) map[string]string {
	r := strings.NewReplacer("NAME", name)
	return map[string]string{
		"main.go": r.Replace(goMainTemplate),
		"go.mod":  r.Replace("module example.com/NAME\n\ngo 1.22\n"),
		funcFile:  r.Replace(funcYAMLTemplate),
	}
}

const funcYAMLTemplate = `# The function's deployment: eddy deploy reads it.
name: NAME
# env is the environment of the function's instances.
env:
  GREETING: Hello
# annotations go on the Service's revision template.
annotations:
  autoscaling.knative.dev/min-scale: "0"
  autoscaling.knative.dev/max-scale: "3"
# events: each entry makes a Trigger that delivers the broker's events passing the filter
# to the function (the broker must exist for them to flow).
events:
  - broker: default
    filter:
      attributes:
        type: dev.eddy.greeting
`

const goMainTemplate = `// Command NAME is an Eddy function. It answers plain HTTP requests with a greeting and
// replies to a CloudEvent in binary mode (its attributes in Ce- headers) with a CloudEvent.
// It listens on $PORT, as Eddy's runtime sets it.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// name is the function's name, the source of the events it replies with.
const name = "NAME"

func main() {
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "Hello"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{Addr: ":" + port, Handler: handler(greeting), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("%s: listening on port %s", name, port)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// greet is the function's answer.
func greet(greeting string) string {
	return fmt.Sprintf("%s from %s!", greeting, name)
}

// handler answers a plain request with the greeting, and a binary-mode CloudEvent with a
// dev.eddy.function.reply CloudEvent whose data says what it received.
func handler(greeting string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Ce-Specversion") == "" {
			fmt.Fprintln(w, greet(greeting))
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		log.Printf("%s: received event %s of type %s from %s", name, r.Header.Get("Ce-Id"), r.Header.Get("Ce-Type"), r.Header.Get("Ce-Source"))
		reply := map[string]any{
			"greeting": greet(greeting),
			"id":       r.Header.Get("Ce-Id"),
			"type":     r.Header.Get("Ce-Type"),
			"source":   r.Header.Get("Ce-Source"),
		}
		if json.Valid(data) {
			reply["data"] = json.RawMessage(data)
		} else {
			reply["data"] = string(data)
		}
		body, err := json.Marshal(reply)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Ce-Specversion", "1.0")
		h.Set("Ce-Id", r.Header.Get("Ce-Id")+"-reply")
		h.Set("Ce-Source", "/functions/"+name)
		h.Set("Ce-Type", "dev.eddy.function.reply")
		h.Set("Content-Type", "application/json")
		w.Write(body)
	})
}
`
