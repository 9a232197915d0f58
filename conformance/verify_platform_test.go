package conformance_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/api"
	"github.com/eddyplatform/eddy/api/eventing"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/conformance"
	"github.com/eddyplatform/eddy/control/reconciler"
	"github.com/eddyplatform/eddy/platform"
)

// knownIngressGaps are the verify receiver cases Eddy's ingress (channels/ingress) fails
// today, with the cause. The test fails on any other failure, and also when one of these
// starts to pass, so that the list only shrinks. It is empty: the ingress judges structured
// and batch bodies with the conformance library before decoding, and percent-decodes
// binary-mode header values.
var knownIngressGaps = map[string]string{}

// TestEddyIngressPassesVerifyReceiver runs `eddy conformance verify receiver` against the
// addresses of a Channel and a Broker of an in-process platform: Eddy's own ingress must
// give every answer a conforming receiver gives, apart from the knownIngressGaps.
func TestEddyIngressPassesVerifyReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the platform")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := platform.Start(ctx, platform.Config{
		DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", IngressAddr: "127.0.0.1:0",
		ResyncPeriod: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		p.Shutdown(context.Background())
	})
	client := reconciler.NewClient(p.Store, p.Registry)
	objs, err := p.Registry.DecodeAll([]byte(`
apiVersion: messaging.knative.dev/v1
kind: Channel
metadata: {name: verify, namespace: default}
---
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: {name: verify, namespace: default}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		admitted, _, err := p.Registry.Admit(o)
		if err != nil {
			t.Fatal(err)
		}
		if err := client.Create(context.Background(), admitted); err != nil {
			t.Fatal(err)
		}
	}
	ch, br := &messaging.Channel{}, &eventing.Broker{}
	for _, o := range []struct {
		obj api.StatusObject
		url func() string
	}{{ch, func() string { return ch.Status.AddressStatus.URL() }}, {br, func() string { return br.Status.AddressStatus.URL() }}} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := client.Get(context.Background(), "default", "verify", o.obj)
			if err == nil && o.obj.GetStatus().GetCondition(api.ConditionReady).IsTrue() && o.url() != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%T verify not ready: %v", o.obj, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for name, url := range map[string]string{"Channel": ch.Status.AddressStatus.URL(), "Broker": br.Status.AddressStatus.URL()} {
		t.Run(name, func(t *testing.T) {
			if !strings.HasPrefix(url, p.IngressURL) {
				t.Fatalf("address %s is not on the ingress %s", url, p.IngressURL)
			}
			rep := conformance.VerifyReceiver(context.Background(), url, conformance.ReceiverOptions{})
			var table bytes.Buffer
			rep.WriteTable(&table, false)
			t.Logf("verify receiver %s\n%s", url, table.String())
			for _, res := range rep.Results {
				gap, known := knownIngressGaps[res.ID]
				switch {
				case res.Verdict == conformance.Fail && !known:
					t.Errorf("Eddy's %s ingress fails %s (%s): %s", name, res.ID, res.Section, res.Why)
				case res.Verdict == conformance.Fail:
					t.Logf("known gap %s: %s", res.ID, gap)
				case known:
					t.Errorf("%s passes now (%s): remove it from knownIngressGaps", res.ID, res.Why)
				}
			}
			if got, want := rep.Count(conformance.Fail), len(knownIngressGaps); got != want {
				t.Errorf("%d failures, want exactly the %d known gaps", got, want)
			}
			if len(rep.Results) != len(conformance.ReceiverCases()) {
				t.Errorf("%d results for %d cases", len(rep.Results), len(conformance.ReceiverCases()))
			}
		})
	}
}
