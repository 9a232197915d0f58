package controller

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/eddyplatform/eddy/api/duck"
	"github.com/eddyplatform/eddy/api/sources"
	eddysources "github.com/eddyplatform/eddy/sources"
	"github.com/eddyplatform/eddy/sources/apiserver"
	"github.com/eddyplatform/eddy/sources/kafka"
	"github.com/eddyplatform/eddy/sources/pubsub"
	"k8s.io/client-go/rest"
)

// apiServerReconciler runs ApiServerSources against the Kubernetes API in Config.Kubeconfig
// (or the cluster Eddy runs in).
type apiServerReconciler struct{ *Sources }

func (r *apiServerReconciler) Reconcile(ctx context.Context, key string) error {
	src := &sources.ApiServerSource{}
	return r.reconcileSource(ctx, key, source{kind: "ApiServerSource", obj: src,
		spec: func() *duck.SourceSpec { return &src.Spec.SourceSpec }, status: func() sinkStatus { return &src.Status }},
		func(sink *url.URL, overrides map[string]string) {
			st, spec := &src.Status, src.Spec
			var restCfg *rest.Config
			if r.cfg.Kubeconfig == "" {
				var err error
				if restCfg, err = r.kubeConfig(); err != nil {
					st.MarkNotDeployed("NoKubernetesAPI", "%v", err)
					return
				}
			}
			var adapter *apiserver.Adapter
			err := r.ensure("ApiServerSource/"+key, fingerprint(spec.Resources, spec.ResourceOwner, spec.EventMode, spec.NamespaceSelector, spec.Filters), sink, overrides,
				func(sender eddysources.Sender) (func(context.Context) error, error) {
					a, err := apiserver.New(apiserver.Config{Namespace: src.Namespace, Name: src.Name, RestConfig: restCfg, Kubeconfig: r.cfg.Kubeconfig,
						Resources: spec.Resources, Owner: spec.ResourceOwner, Mode: spec.EventMode, NamespaceSelector: spec.NamespaceSelector,
						Filters: spec.Filters, Sender: sender, Logger: r.log.With("apiserversource", key)})
					adapter = a
					if err != nil {
						return nil, err
					}
					return a.Run, nil
				})
			if err != nil {
				st.MarkNotDeployed("AdapterFailed", "%v", err)
			} else {
				st.MarkDeployed()
				st.MarkSufficientPermissions()
			}
			if adapter != nil {
				st.CloudEventAttributes = attributes(adapter.EventTypes())
				r.recordEventTypes(ctx, src, "ApiServerSource", adapter.EventTypes())
			}
		})
}

// kubeConfig is the Kubernetes API ApiServerSources watch.
func (s *Sources) kubeConfig() (*rest.Config, error) {
	if s.cfg.KubeConfig != nil {
		return s.cfg.KubeConfig, nil
	}
	c, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("Eddy has no Kubernetes API to watch: start it with --kubeconfig FILE, or run it in a cluster (%v)", err)
	}
	return c, nil
}

// kafkaReconciler runs KafkaSources.
type kafkaReconciler struct{ *Sources }

func (r *kafkaReconciler) Reconcile(ctx context.Context, key string) error {
	src := &sources.KafkaSource{}
	return r.reconcileSource(ctx, key, source{kind: "KafkaSource", obj: src,
		spec: func() *duck.SourceSpec { return &src.Spec.SourceSpec }, status: func() sinkStatus { return &src.Status }},
		func(sink *url.URL, overrides map[string]string) {
			st := &src.Status
			cfg, err := r.kafkaConfig(ctx, src)
			if err != nil {
				st.MarkNotDeployed("SecretsNotFound", "%v", err)
				return
			}
			var adapter *kafka.Adapter
			err = r.ensure("KafkaSource/"+key, fingerprint(src.Spec.BootstrapServers, src.Spec.Topics, cfg.ConsumerGroup, cfg.InitialOffset, cfg.TLS, cfg.SASL), sink, overrides,
				func(sender eddysources.Sender) (func(context.Context) error, error) {
					cfg.Sender = sender
					a, err := kafka.New(cfg)
					adapter = a
					if err != nil {
						return nil, err
					}
					return a.Run, nil
				})
			if err != nil {
				st.MarkNotDeployed("AdapterFailed", "%v", err)
			} else {
				st.MarkDeployed(1)
				st.MarkConnectionEstablished()
				st.MarkInitialOffsetCommitted()
			}
			if adapter != nil {
				st.CloudEventAttributes = attributes(adapter.EventTypes())
				r.recordEventTypes(ctx, src, "KafkaSource", adapter.EventTypes())
			}
		})
}

// kafkaConfig turns a KafkaSource into the adapter's configuration, reading its Secrets.
func (r *kafkaReconciler) kafkaConfig(ctx context.Context, src *sources.KafkaSource) (kafka.Config, error) {
	cfg := kafka.Config{BootstrapServers: src.Spec.BootstrapServers, Topics: src.Spec.Topics, ConsumerGroup: src.ConsumerGroupName(),
		InitialOffset: string(src.Spec.InitialOffset), Namespace: src.Namespace, Name: src.Name,
		Logger: r.log.With("kafkasource", src.Namespace+"/"+src.Name), Registerer: r.cfg.Metrics}
	read := func(v sources.SecretValueFromSource) ([]byte, error) {
		if v.IsEmpty() {
			return nil, nil
		}
		return r.secretValue(ctx, src.Namespace, v.SecretKeyRef)
	}
	net := src.Spec.Net
	var err error
	cfg.TLS.Enable = net.TLS.Enable
	if cfg.TLS.CACert, err = read(net.TLS.CACert); err != nil {
		return cfg, err
	}
	if cfg.TLS.Cert, err = read(net.TLS.Cert); err != nil {
		return cfg, err
	}
	if cfg.TLS.Key, err = read(net.TLS.Key); err != nil {
		return cfg, err
	}
	cfg.SASL.Enable = net.SASL.Enable
	for _, f := range []struct {
		v   sources.SecretValueFromSource
		dst *string
	}{{net.SASL.User, &cfg.SASL.User}, {net.SASL.Password, &cfg.SASL.Password}, {net.SASL.Type, &cfg.SASL.Mechanism}} {
		b, err := read(f.v)
		if err != nil {
			return cfg, err
		}
		*f.dst = string(b)
	}
	return cfg, nil
}

// pubsubReconciler runs CloudPubSubSources.
type pubsubReconciler struct{ *Sources }

func (r *pubsubReconciler) Reconcile(ctx context.Context, key string) error {
	src := &sources.CloudPubSubSource{}
	return r.reconcileSource(ctx, key, source{kind: "CloudPubSubSource", obj: src,
		spec: func() *duck.SourceSpec { return &src.Spec.SourceSpec }, status: func() sinkStatus { return &src.Status }},
		func(sink *url.URL, overrides map[string]string) {
			st, ns, name := &src.Status, src.Namespace, src.Name
			cfg := pubsub.Config{Project: src.Spec.Project, Topic: src.Spec.Topic, RetainAckedMessages: src.Spec.RetainAckedMessages,
				Namespace: ns, Name: name, Logger: r.log.With("cloudpubsubsource", key), Registerer: r.cfg.Metrics}
			if src.Spec.AckDeadline != nil {
				cfg.AckDeadline, _ = time.ParseDuration(*src.Spec.AckDeadline) // validated on admission
			}
			if src.Spec.RetentionDuration != nil {
				cfg.RetentionDuration, _ = time.ParseDuration(*src.Spec.RetentionDuration)
			}
			if src.Spec.Secret != nil {
				var err error
				cfg.CredentialsJSON, err = r.secretValue(ctx, ns, src.Spec.Secret)
				if err != nil && os.Getenv("PUBSUB_EMULATOR_HOST") == "" { // an emulator takes no credentials
					st.MarkPullSubscriptionFailed("SecretNotFound", "%v", err)
					return
				}
			}
			var adapter *pubsub.Adapter
			err := r.ensure("CloudPubSubSource/"+key, fingerprint(cfg.Project, cfg.Topic, cfg.AckDeadline, cfg.RetentionDuration, cfg.RetainAckedMessages, cfg.CredentialsJSON), sink, overrides,
				func(sender eddysources.Sender) (func(context.Context) error, error) {
					cfg.Sender = sender
					a, err := pubsub.New(cfg)
					adapter = a
					if err != nil {
						return nil, err
					}
					return a.Run, nil
				})
			if err != nil {
				st.MarkPullSubscriptionFailed("AdapterFailed", "%v", err)
			} else {
				st.MarkPullSubscriptionReady(cfg.Project, cfg.Topic, pubsub.DefaultSubscriptionID(ns, name))
			}
			if adapter != nil {
				st.CloudEventAttributes = attributes(adapter.EventTypes())
				r.recordEventTypes(ctx, src, "CloudPubSubSource", adapter.EventTypes())
			}
		})
}
