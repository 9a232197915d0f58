package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/eddyplatform/eddy/conformance"
	"github.com/spf13/cobra"
)

// newConformanceCommand is `eddy conformance`: check other software against the CloudEvents
// specification.
func newConformanceCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Check CloudEvents receivers and producers against the specification",
	}
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify that a receiver or a producer follows the CloudEvents HTTP binding",
		Long: "verify receiver sends valid and invalid events to a URL and checks the status codes;\n" +
			"verify producer listens and judges every event sent to it. Both print a table of cases\n" +
			"(PASS, FAIL or WARN, and why), write JUnit XML with --junit, and fail when a case fails.",
	}
	verify.AddCommand(newVerifyReceiverCommand(), newVerifyProducerCommand())
	cmd.AddCommand(verify)
	return cmd
}

// verifyOutput prints a report, writes its JUnit file, and returns an error when a case failed.
type verifyOutput struct {
	junit   string
	verbose bool
}

func (o *verifyOutput) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.junit, "junit", "", "also write the results as JUnit XML to this file")
	cmd.Flags().BoolVarP(&o.verbose, "verbose", "v", false, "print each case's description and expectation")
}

func (o *verifyOutput) finish(cmd *cobra.Command, rep *conformance.Report) error {
	if err := rep.WriteTable(cmd.OutOrStdout(), o.verbose); err != nil {
		return err
	}
	if o.junit != "" {
		f, err := os.Create(o.junit)
		if err != nil {
			return err
		}
		if err := rep.WriteJUnit(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	if n := rep.Count(conformance.Fail); n > 0 {
		return fmt.Errorf("%d of %d cases failed", n, len(rep.Results))
	}
	return nil
}

func newVerifyReceiverCommand() *cobra.Command {
	var (
		out     verifyOutput
		timeout time.Duration
		headers []string
		only    []string
	)
	cmd := &cobra.Command{
		Use:   "receiver URL",
		Short: "Send valid and invalid events to URL and check its answers",
		Long: "verify receiver sends " + fmt.Sprint(len(conformance.ReceiverCases())) + " requests to URL, one at a time: valid events in binary and\n" +
			"structured mode (CloudEvents 1.0 and 0.3, percent-encoded and legacy quoted header values,\n" +
			"data_base64, extensions), batches, and invalid messages. A conforming receiver answers:\n\n" +
			"  valid event     2xx\n" +
			"  valid batch     2xx, or 415 Unsupported Media Type if it does not support batch mode\n" +
			"                  (the HTTP binding makes batch optional); another 4xx is a WARN\n" +
			"  invalid message 4xx, typically 400; a 2xx or a 5xx (which asks the sender to retry) FAILs\n\n" +
			"Cases that check a SHOULD give WARN instead of FAIL. The events carry source\n" +
			"/eddy/conformance/verify and type dev.eddy.conformance.verify.",
		Example: "  eddy conformance verify receiver http://localhost:3000/webhook\n" +
			"  eddy conformance verify receiver http://localhost:3000/webhook --junit verify.xml",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			h := http.Header{}
			for _, kv := range headers {
				k, v, ok := strings.Cut(kv, ":")
				if !ok {
					k, v, ok = strings.Cut(kv, "=")
				}
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("--header %q: use Name:value", kv)
				}
				h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			cases := conformance.ReceiverCases()
			if len(only) > 0 {
				var sel []conformance.ReceiverCase
				for _, c := range cases {
					for _, prefix := range only {
						if strings.HasPrefix(c.ID, prefix) {
							sel = append(sel, c)
							break
						}
					}
				}
				if len(sel) == 0 {
					return fmt.Errorf("no case starts with %s", strings.Join(only, " or "))
				}
				cases = sel
			}
			rep := conformance.VerifyReceiver(cmd.Context(), args[0], conformance.ReceiverOptions{
				Client: &http.Client{Timeout: timeout}, Cases: cases, Header: h,
			})
			return out.finish(cmd, rep)
		},
	}
	out.flags(cmd)
	f := cmd.Flags()
	f.DurationVar(&timeout, "timeout", 10*time.Second, "how long to wait for each answer")
	f.StringArrayVarP(&headers, "header", "H", nil, "add a header to every request, as Name:value (repeatable)")
	f.StringSliceVar(&only, "only", nil, "run only the cases whose id starts with one of these prefixes (binary, structured, batch, …)")
	return cmd
}

func newVerifyProducerCommand() *cobra.Command {
	var (
		out     verifyOutput
		host    string
		port    int
		count   int
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "producer",
		Short: "Listen, and judge every event a producer sends",
		Long: "verify producer listens on --port and judges every request sent to it with the conformance\n" +
			"validators on the raw message (any content mode; CloudEvents 1.0 and 0.3). Each event is a\n" +
			"case: PASS when it is valid, WARN when only warnings apply, FAIL when it breaks a MUST. It\n" +
			"answers 202, or 400 with the violations. It stops after --count events, or at --timeout (or\n" +
			"Ctrl-C), and fails when an event failed or when fewer than --count (or no) events arrived.",
		Example: "  eddy conformance verify producer --port 8181 --count 3 --timeout 2m",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if count < 0 {
				return fmt.Errorf("--count %d: must not be negative", count)
			}
			errOut := cmd.ErrOrStderr()
			var mu sync.Mutex
			pv := &conformance.ProducerVerifier{Count: count, OnResult: func(r conformance.Result) {
				mu.Lock()
				defer mu.Unlock()
				fmt.Fprintf(errOut, "%s %s: %s\n", r.Verdict, r.ID, r.Why)
			}}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, timeout)
				defer cancel()
			}
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-pv.Done():
					cancel()
				case <-ctx.Done():
				}
			}()
			what := "send the producer's events here"
			if count > 0 {
				what = fmt.Sprintf("send %d events here", count)
			}
			target := ""
			if err := serveUntil(ctx, cmd, host, port, pv, what, func(addr string) { target = "http://" + addr }); err != nil {
				return err
			}
			return out.finish(cmd, pv.Report(target))
		},
	}
	out.flags(cmd)
	f := cmd.Flags()
	f.StringVar(&host, "host", "127.0.0.1", "address to listen on (0.0.0.0 for every interface)")
	f.IntVarP(&port, "port", "p", 8181, "port to listen on (0 picks a free one)")
	f.IntVar(&count, "count", 0, "stop after this many events (0: wait for --timeout)")
	f.DurationVar(&timeout, "timeout", time.Minute, "stop after this long")
	return cmd
}
