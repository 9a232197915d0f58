package platform

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/eddyplatform/eddy/bus"
	"github.com/eddyplatform/eddy/bus/kafka"
	"github.com/eddyplatform/eddy/bus/nats"
	"github.com/eddyplatform/eddy/bus/pubsub"
	"github.com/eddyplatform/eddy/bus/rabbitmq"
	"github.com/eddyplatform/eddy/bus/stub"
	"github.com/eddyplatform/eddy/channels"
)

// Backends returns the bus backends this build of Eddy has, by type. Stub buses opened from
// Bus and ClusterBus objects keep their logs under dataDir/bus/.
func Backends(dataDir string) map[messaging.BusType]channels.Backend {
	return map[messaging.BusType]channels.Backend{
		messaging.BusRabbitMQ: func(ctx context.Context, s channels.BackendSpec) (bus.Bus, error) {
			cfg, err := rabbitmq.ParseConfig(s.Config, s.Secret)
			if err != nil {
				return nil, err
			}
			cfg.Logger = s.Logger
			return rabbitmq.New(ctx, cfg)
		},
		messaging.BusPubSub: func(ctx context.Context, s channels.BackendSpec) (bus.Bus, error) {
			cfg, err := pubsub.ParseConfig(s.Config, s.Secret)
			if err != nil {
				return nil, err
			}
			cfg.Logger = s.Logger
			return pubsub.New(ctx, cfg)
		},
		messaging.BusNATS: func(ctx context.Context, s channels.BackendSpec) (bus.Bus, error) {
			cfg, err := nats.ParseConfig(s.Config, s.Secret)
			if err != nil {
				return nil, err
			}
			cfg.Logger = s.Logger
			return nats.New(ctx, cfg)
		},
		messaging.BusKafka: func(ctx context.Context, s channels.BackendSpec) (bus.Bus, error) {
			cfg, err := kafka.ParseConfig(s.Config, s.Secret)
			if err != nil {
				return nil, err
			}
			cfg.Logger = s.Logger
			return kafka.New(ctx, cfg)
		},
		messaging.BusStub: func(_ context.Context, s channels.BackendSpec) (bus.Bus, error) {
			cfg, err := stub.ParseConfig(s.Config, s.Secret)
			if err != nil {
				return nil, err
			}
			cfg.Dir = filepath.Join(dataDir, "bus", busDirName(s.ID))
			cfg.Logger = s.Logger
			return stub.New(cfg)
		},
	}
}

// busDirName turns a bus ID ("Bus/ns/name", "ClusterBus/name") into a directory name.
func busDirName(id string) string {
	return strings.ToLower(strings.ReplaceAll(id, "/", "."))
}

// openDefaultBus opens the bus that channels and brokers naming none run on: the stub bus
// itself, or a bus of cfg.Bus's type with cfg.BusConfig's settings.
func openDefaultBus(ctx context.Context, cfg *Config, backends map[messaging.BusType]channels.Backend, stubBus bus.Bus) (bus.Bus, bool, error) {
	if cfg.Bus == "" || cfg.Bus == messaging.BusStub && len(cfg.BusConfig) == 0 {
		return stubBus, false, nil
	}
	backend, ok := backends[cfg.Bus]
	if !ok {
		return nil, false, fmt.Errorf("bus type %q is not available (have: %s)", cfg.Bus, strings.Join(typeNames(backends), ", "))
	}
	b, err := backend(ctx, channels.BackendSpec{ID: "ClusterBus/" + messaging.DefaultBusName, Config: cfg.BusConfig, Secret: cfg.BusSecret, Logger: cfg.Logger.With("bus", messaging.DefaultBusName)})
	if err != nil {
		return nil, false, fmt.Errorf("opening the default %s bus: %w", cfg.Bus, err)
	}
	return b, true, nil
}

func typeNames(backends map[messaging.BusType]channels.Backend) []string {
	var out []string
	for _, t := range messaging.BusTypes {
		if _, ok := backends[t]; ok {
			out = append(out, string(t))
		}
	}
	return out
}
