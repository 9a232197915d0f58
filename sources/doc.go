// Package sources holds the adaptors that turn outside happenings into CloudEvents sent to a
// sink: GitHub webhooks, Kubernetes API server events, Google Pub/Sub, Kafka, Ping and more,
// one sub-package each.
package sources
