package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eddyplatform/eddy/conformance"
	"github.com/spf13/cobra"
)

// newEventsCommand is `eddy events`: send, receive and compare CloudEvents, in the YAML
// test-case format of the cloudevents/conformance tool.
func newEventsCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Send, receive and compare CloudEvents over HTTP",
		Long: "The events verbs send CloudEvents to any HTTP receiver, receive them, and compare them. They read\n" +
			"and write the YAML test cases of the cloudevents/conformance tool: documents separated by ---,\n" +
			"each with Mode, ContextAttributes (with Extensions), TransportExtensions and Data.",
	}
	cmd.AddCommand(
		newEventsSendCommand(),
		newEventsInvokeCommand(),
		newEventsListenCommand(),
		newEventsRawCommand(),
		newEventsDiffCommand(),
	)
	return cmd
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func newEventsSendCommand() *cobra.Command {
	var (
		c                           conformance.Case
		data, mode, specversion, ct string
		extensions                  []string
		timeout                     time.Duration
		verbose                     bool
	)
	cmd := &cobra.Command{
		Use:   "send URL",
		Short: "Send one CloudEvent and print the answer's status",
		Long: "Send builds one CloudEvent from the flags, POSTs it to URL and prints the status of the answer\n" +
			"(and its body, if any). It fails (exit status 1) unless the answer is 2xx.\n\n" +
			"In binary mode the attributes travel as ce- headers, percent-encoded as the HTTP binding\n" +
			"requires, and the data as the body; in structured mode the event is one JSON document. With\n" +
			"--data and no --content-type, the content type is application/json when the data is JSON and\n" +
			"text/plain; charset=utf-8 otherwise. --extension name=value also sets core attributes such as\n" +
			"subject, time or dataschema.",
		Example: "  eddy events send http://127.0.0.1:8080/brokers/default/default --type dev.example.hello --data '{\"hi\":1}'\n" +
			"  eddy events send http://localhost:8181 --mode structured --specversion 0.3 --extension subject=s1",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch mode {
			case "binary", "structured", "batch":
			default:
				return fmt.Errorf("--mode %q: use binary or structured", mode)
			}
			if specversion != conformance.SpecVersion10 && specversion != conformance.SpecVersion03 {
				return fmt.Errorf("--specversion %q: use 1.0 or 0.3", specversion)
			}
			c.Mode = mode
			c.ContextAttributes.SpecVersion = specversion
			if c.ContextAttributes.ID == "" {
				c.ContextAttributes.ID = newUUID()
			}
			for _, kv := range extensions {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("--extension %q: use name=value", kv)
				}
				c.Set(strings.TrimSpace(k), v)
			}
			c.Data = data
			if ct == "" && data != "" {
				ct = "text/plain; charset=utf-8"
				if json.Valid([]byte(data)) {
					ct = "application/json"
				}
			}
			if ct != "" {
				c.ContextAttributes.DataContentType = ct
			}
			out := cmd.OutOrStdout()
			if verbose {
				if err := conformance.WriteCases(out, []conformance.Case{c}); err != nil {
					return err
				}
			}
			status, body, err := sendEvent(cmd.Context(), &http.Client{Timeout: timeout}, args[0], &c)
			if err != nil {
				return err
			}
			fmt.Fprintln(out, status)
			if body != "" {
				fmt.Fprintln(out, body)
			}
			if !strings.HasPrefix(status, "2") {
				return fmt.Errorf("%s answered %s", args[0], status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&c.ContextAttributes.ID, "id", "", "event id (default a new UUID)")
	f.StringVar(&c.ContextAttributes.Source, "source", "/eddy/events/send", "event source, a URI-reference")
	f.StringVar(&c.ContextAttributes.Type, "type", "dev.eddy.events.send", "event type")
	f.StringVar(&data, "data", "", "event data")
	f.StringArrayVar(&extensions, "extension", nil, "an attribute as name=value (repeatable)")
	f.StringVar(&mode, "mode", "binary", "content mode: binary or structured")
	f.StringVar(&specversion, "specversion", conformance.SpecVersion10, "CloudEvents version: 1.0 or 0.3")
	f.StringVar(&ct, "content-type", "", "datacontenttype of the data")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the answer")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the event (as a YAML test case) before sending it")
	return cmd
}

// sendEvent POSTs a case and returns the answer's status line ("202 Accepted") and the
// start of its body.
func sendEvent(ctx context.Context, client *http.Client, url string, c *conformance.Case) (status, body string, err error) {
	req, err := c.NewRequest(ctx, url)
	if err != nil {
		return "", "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return strings.TrimPrefix(resp.Status, resp.Proto+" "), strings.TrimSpace(string(b)), nil
}

func newEventsInvokeCommand() *cobra.Command {
	var (
		file    string
		timeout time.Duration
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "invoke URL -f FILE|DIR",
		Short: "Send every YAML test case of a file or directory",
		Long: "Invoke reads YAML test cases (a file, every .yaml/.yml file under a directory, or - for\n" +
			"standard input) and POSTs each to URL in its Mode (binary when absent). It prints the cases that\n" +
			"were not accepted and a summary, and fails unless every answer is 2xx. -v prints every case\n" +
			"and its answer.",
		Example: "  eddy events invoke http://localhost:8181 -f events.yaml -v",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("give the test cases with -f FILE or -f DIR")
			}
			cases, err := conformance.ReadCaseFiles(file)
			if err != nil {
				return err
			}
			if len(cases) == 0 {
				return fmt.Errorf("%s holds no test cases", file)
			}
			out := cmd.OutOrStdout()
			client := &http.Client{Timeout: timeout}
			failed := 0
			for i := range cases {
				c := &cases[i]
				status, body, err := sendEvent(cmd.Context(), client, args[0], c)
				ok := err == nil && strings.HasPrefix(status, "2")
				if !ok {
					failed++
				}
				if verbose || !ok {
					if verbose {
						if i > 0 {
							fmt.Fprintln(out, "---")
						}
						if err := conformance.WriteCases(out, []conformance.Case{*c}); err != nil {
							return err
						}
					}
					label := fmt.Sprintf("event %d (id %s)", i+1, c.Get("id"))
					switch {
					case err != nil:
						fmt.Fprintf(out, "# %s: %v\n", label, err)
					case body != "":
						fmt.Fprintf(out, "# %s: %s: %s\n", label, status, body)
					default:
						fmt.Fprintf(out, "# %s: %s\n", label, status)
					}
				}
			}
			fmt.Fprintf(out, "# sent %d events to %s: %d accepted, %d failed\n", len(cases), args[0], len(cases)-failed, failed)
			if failed > 0 {
				return fmt.Errorf("%d of %d events were not accepted", failed, len(cases))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "filename", "f", "", "YAML test cases: a file, a directory, or - for standard input")
	f.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for each answer")
	f.BoolVarP(&verbose, "verbose", "v", false, "print every case and its answer")
	return cmd
}

// serve listens on host:port and serves h until ctx ends or SIGINT/SIGTERM arrives. It
// announces the address on stderr ("listening on http://…") once the port is open.
func serve(cmd *cobra.Command, host string, port int, h http.Handler, what string) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serveUntil(ctx, cmd, host, port, h, what, nil)
}

// serveUntil serves h on host:port until ctx ends; onListen, when not nil, learns the
// address once the port is open.
func serveUntil(ctx context.Context, cmd *cobra.Command, host string, port int, h http.Handler, what string, onListen func(addr string)) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	if onListen != nil {
		onListen(ln.Addr().String())
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(cmd.ErrOrStderr(), "listening on http://%s — %s\n", ln.Addr(), what)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

func newEventsListenCommand() *cobra.Command {
	var (
		host    string
		port    int
		forward string
		history int
	)
	cmd := &cobra.Command{
		Use:   "listen",
		Short: "Receive CloudEvents and print each as a YAML test case",
		Long: "Listen accepts CloudEvents in any HTTP content mode (binary, structured, batch; spec 1.0 and\n" +
			"0.3) at any path and prints each as a YAML test case. It answers 202 Accepted, or 400 with the\n" +
			"reason for an invalid event, which it still prints, with the validators' findings as comments.\n" +
			"The judgement is strict: the raw message must pass the conformance validators, and the event\n" +
			"sdk-go decodes from it must pass conformance.Reason.\n\n" +
			"It keeps the last --history events: GET /history returns them as YAML documents, ready for\n" +
			"`eddy events diff`. With --forward, valid events are sent on, unchanged, to that URL.\n" +
			"Stop it with Ctrl-C.",
		Example: "  eddy events listen --port 8181 --forward http://127.0.0.1:8080/brokers/default/default\n" +
			"  curl -s http://127.0.0.1:8181/history > got.yaml",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if history < 0 {
				return fmt.Errorf("--history %d: must not be negative", history)
			}
			out := cmd.OutOrStdout()
			errOut := cmd.ErrOrStderr()
			first := true
			l := &conformance.Listener{
				HistorySize: history,
				Forward:     forward,
				Client:      &http.Client{Timeout: 30 * time.Second},
				OnReceive: func(r *conformance.Received) {
					if !first {
						fmt.Fprintln(out, "---")
					}
					first = false
					cases := r.Cases
					note := fmt.Sprintf("%s %s answered %d", r.Request.Method, r.Request.URL, r.Status)
					if r.Err != nil {
						note += ": " + r.Err.Error()
					}
					if r.Forwarded != "" || r.ForwardErr != nil {
						note += "; forwarded: " + r.Forwarded
						if r.ForwardErr != nil {
							note += " " + r.ForwardErr.Error()
						}
					}
					cases[0].Comments = append([]string{note}, cases[0].Comments...)
					if err := conformance.WriteCases(out, cases); err != nil {
						fmt.Fprintln(errOut, "error:", err)
					}
				},
			}
			return serve(cmd, host, port, l, "POST CloudEvents here; GET /history returns the last ones")
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	f.IntVarP(&port, "port", "p", 8181, "port to listen on (0 picks a free one)")
	f.StringVar(&forward, "forward", "", "send valid events on to this URL")
	f.IntVar(&history, "history", 100, "how many events GET /history returns")
	return cmd
}

func newEventsRawCommand() *cobra.Command {
	var (
		host string
		port int
	)
	cmd := &cobra.Command{
		Use:   "raw",
		Short: "Print raw HTTP requests as they arrive",
		Long: "Raw prints every HTTP request it receives, whatever it holds: the request line, the headers\n" +
			"(sorted) and the body, followed by a blank line. It answers 200 OK. Stop it with Ctrl-C.",
		Example: "  eddy events raw --port 8181",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var mu sync.Mutex
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				raw, err := conformance.ReadRawRequest(r, 16<<20)
				if err != nil {
					http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
					return
				}
				mu.Lock()
				raw.Write(out)
				fmt.Fprintln(out)
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			})
			return serve(cmd, host, port, h, "every request is printed")
		},
	}
	f := cmd.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	f.IntVarP(&port, "port", "p", 8181, "port to listen on (0 picks a free one)")
	return cmd
}

func newEventsDiffCommand() *cobra.Command {
	var (
		match           []string
		ignoreAdditions bool
	)
	cmd := &cobra.Command{
		Use:   "diff WANT GOT",
		Short: "Compare two files of YAML test cases",
		Long: "Diff pairs every event of WANT with an event of GOT whose --match attributes are equal (id by\n" +
			"default) and prints how they differ: attributes, extensions and data (Mode and\n" +
			"TransportExtensions are not compared; times compare as instants, JSON data as JSON). A WANT\n" +
			"event with no partner is \"missing\"; a GOT event with no partner is \"unexpected\".\n" +
			"--ignore-additions ignores what GOT has beyond WANT: extra attributes, data and events, so WANT\n" +
			"can list only what matters. WANT and GOT are files, directories or - (standard input).\n\n" +
			"Exit status: 0 when the events match, 1 when they differ, 2 when an input cannot be read.",
		Example: "  eddy events diff want.yaml got.yaml\n" +
			"  eddy events diff want.yaml got.yaml --match type --ignore-additions",
		Args: cobra.ArbitraryArgs,
		RunE: withExitCode(func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return &exitCodeError{code: 2, err: fmt.Errorf("diff takes two arguments, WANT and GOT; got %d", len(args))}
			}
			if args[0] == "-" && args[1] == "-" {
				return &exitCodeError{code: 2, err: errors.New("only one of WANT and GOT can be standard input")}
			}
			want, err := conformance.ReadCaseFiles(args[0])
			if err != nil {
				return &exitCodeError{code: 2, err: err}
			}
			got, err := conformance.ReadCaseFiles(args[1])
			if err != nil {
				return &exitCodeError{code: 2, err: err}
			}
			var keys []string
			for _, m := range match {
				for _, k := range strings.Split(m, ",") {
					if k = strings.TrimSpace(k); k != "" {
						keys = append(keys, k)
					}
				}
			}
			res := conformance.Diff(want, got, conformance.DiffOptions{Match: keys, IgnoreAdditions: ignoreAdditions})
			if res.Match() {
				return nil
			}
			if err := res.Write(cmd.OutOrStdout()); err != nil {
				return err
			}
			n := len(res.Differences)
			return &exitCodeError{code: 1, err: fmt.Errorf("the events differ (%d difference%s)", n, map[bool]string{true: "s"}[n != 1])}
		}),
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(c, &exitCodeError{code: 2, err: err})
	})
	f := cmd.Flags()
	f.StringSliceVar(&match, "match", []string{"id"}, "attributes that pair events (repeatable or comma-separated)")
	f.BoolVar(&ignoreAdditions, "ignore-additions", false, "ignore attributes, data and events that GOT has beyond WANT")
	return cmd
}

// exitCodeError is an error that asks for a particular exit status.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return e.err.Error() }
func (e *exitCodeError) Unwrap() error { return e.err }

// ExitCode returns the exit status the error asks for.
func (e *exitCodeError) ExitCode() int { return e.code }

// exitFunc ends the process for an exit status other than main's 1; tests set it to nil,
// and then the error is only returned.
var exitFunc = os.Exit

// withExitCode wraps a RunE so that an *exitCodeError ends the process with its status:
// main exits with 1 on any error, so for another status the error is printed as main prints
// it and the process exits here.
func withExitCode(run func(*cobra.Command, []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		return exitWith(cmd, run(cmd, args))
	}
}

func exitWith(cmd *cobra.Command, err error) error {
	var ec *exitCodeError
	if errors.As(err, &ec) && ec.code != 1 && exitFunc != nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "error:", err)
		exitFunc(ec.code)
	}
	return err
}
