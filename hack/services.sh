#!/usr/bin/env bash
# Starts the message brokers the bus tests talk to, when they are not already running:
# RabbitMQ on 127.0.0.1:5672 (guest/guest) and NATS with JetStream on 127.0.0.1:4222.
# Kafka and Pub/Sub need no service: the tests run kfake and pstest in process.
# Exits non-zero, saying what is missing, if a service cannot be started.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_up() { # port name seconds
	for _ in $(seq 1 "$3"); do
		up "$1" && return 0
		sleep 1
	done
	echo "services: $2 did not come up on 127.0.0.1:$1" >&2
	return 1
}

status=0
if ! up 5672; then
	if command -v rabbitmq-server >/dev/null; then
		echo "services: starting RabbitMQ (rabbitmq-server -detached)"
		rabbitmq-server -detached >/dev/null 2>&1
		wait_up 5672 RabbitMQ 60 || status=1
	else
		echo "services: RabbitMQ is not running on 127.0.0.1:5672 and rabbitmq-server is not installed (Debian: apt-get install rabbitmq-server)" >&2
		status=1
	fi
fi
if ! up 4222; then
	if [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null; then
		bin=$(command -v nats-server || echo /usr/sbin/nats-server)
		echo "services: starting NATS with JetStream ($bin -a 127.0.0.1 -p 4222 -js)"
		mkdir -p /var/lib/nats-server 2>/dev/null || true
		sd=/var/lib/nats-server
		[ -w "$sd" ] || sd=$(mktemp -d)
		start-stop-daemon --start --oknodo --background --exec "$bin" -- -a 127.0.0.1 -p 4222 -js -sd "$sd" -l /tmp/nats-server.log 2>/dev/null ||
			(nohup "$bin" -a 127.0.0.1 -p 4222 -js -sd "$sd" >/tmp/nats-server.log 2>&1 &)
		wait_up 4222 NATS 30 || status=1
	else
		echo "services: NATS is not running on 127.0.0.1:4222 and nats-server is not installed (Debian: apt-get install nats-server)" >&2
		status=1
	fi
fi
exit $status
