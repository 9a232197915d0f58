#!/usr/bin/env bash
# run-bus.sh BUS COMMAND... runs COMMAND (`eddy up …`) with BUS as the default bus, starting
# what that bus needs on this machine first:
#   stub      nothing: the embedded durable log
#   rabbitmq  RabbitMQ on 127.0.0.1:5672 (guest/guest), started if it is not running
#   nats      NATS with JetStream on 127.0.0.1:4222, started if it is not running
#   kafka     a 3-broker in-memory Kafka-protocol cluster (hack/devpeer, franz-go's kfake)
#   pubsub    the Pub/Sub fake server (hack/devpeer, the official pstest)
# Against your own brokers, run `bin/eddy up --bus TYPE --bus-config KEY=VALUE …` instead.
set -euo pipefail
bus=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
case "$bus" in
stub)
	exec "$@" --bus stub
	;;
rabbitmq)
	"$here/services.sh"
	secret=$(mktemp)
	trap 'rm -f "$secret"' EXIT
	printf 'username=guest\npassword=guest\n' >"$secret"
	"$@" --bus rabbitmq --bus-config url=amqp://127.0.0.1:5672/ --bus-secret-file "$secret"
	;;
nats)
	"$here/services.sh"
	exec "$@" --bus nats --bus-config url=nats://127.0.0.1:4222
	;;
kafka | pubsub)
	go build -o "$here/../bin/devpeer" "$here/devpeer"
	log=$(mktemp)
	"$here/../bin/devpeer" "$bus" >"$log" 2>&1 &
	peer=$!
	trap 'kill $peer 2>/dev/null; rm -f "$log"' EXIT
	for _ in $(seq 1 100); do
		grep -q ready "$log" && break
		kill -0 $peer 2>/dev/null || { cat "$log" >&2; exit 1; }
		sleep 0.1
	done
	cat "$log"
	if [ "$bus" = kafka ]; then
		"$@" --bus kafka --bus-config brokers=127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094
	else
		"$@" --bus pubsub --bus-config project=eddy-local --bus-config endpoint=127.0.0.1:8085
	fi
	;;
*)
	echo "run-bus.sh: unknown bus $bus: stub, rabbitmq, nats, kafka or pubsub" >&2
	exit 2
	;;
esac
