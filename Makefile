# Eddy's developer commands. The two that matter: `make run` and `make test`.
SHELL       := /usr/bin/env bash
GO          ?= go
BIN         := bin/eddy
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X main.version=$(VERSION)
FUZZTIME    ?= 10s
# Extra flags for `go test` (for example TESTFLAGS=-run=TestAPI).
TESTFLAGS   ?=
EDDY_FLAGS  ?=
# The quickstart's default bus: stub, rabbitmq, nats, kafka or pubsub.
BUS         ?= stub

.PHONY: all build run test fmt-check vet services bench fuzz clean

all: build

## build: compile bin/eddy
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/eddy

## run: build and start the platform with examples/quickstart applied (BUS=rabbitmq etc.
## runs it on that bus; see hack/run-bus.sh)
run: build
	@hack/run-bus.sh $(BUS) $(BIN) up -f examples/quickstart $(EDDY_FLAGS)

## test: gofmt check, go vet, every test with the race detector, then the reliability tests
## at full size (100,000 events each) without it, which slows HTTP about tenfold
test: fmt-check vet services
	$(GO) test -race -count=1 $(TESTFLAGS) ./...
	$(GO) test -count=1 -run 'Reliability' ./dispatcher/ ./channels/

fmt-check:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change these files (run gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## services: start RabbitMQ and NATS for the bus tests if they are not running
services:
	@hack/services.sh

## bench: the platform's benchmarks, each beside a baseline measured in the same run
bench:
	$(GO) run ./hack/bench

## fuzz: run every fuzz target for FUZZTIME each (default 10s)
fuzz:
	@hack/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin
