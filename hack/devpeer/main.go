// Command devpeer runs an in-process stand-in for a broker that no service on this machine
// provides, so that `make run BUS=kafka` and `make run BUS=pubsub` work on a laptop: a
// 3-broker Kafka-protocol cluster (franz-go's kfake) or the official Pub/Sub fake server
// (pstest). Both keep everything in memory; they are for trying Eddy, not for production.
//
//	go run ./hack/devpeer kafka  -addr 127.0.0.1:9092   # brokers on 9092, 9093, 9094
//	go run ./hack/devpeer pubsub -addr 127.0.0.1:8085
//
// It prints "ready" once it listens, and runs until interrupted.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	addr := flag.String("addr", "", "where to listen (kafka: the first broker's address, default 127.0.0.1:9092; pubsub: default 127.0.0.1:8085)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: devpeer kafka|pubsub [-addr host:port]")
		os.Exit(2)
	}
	switch flag.Arg(0) {
	case "kafka":
		if *addr == "" {
			*addr = "127.0.0.1:9092"
		}
		host, port, err := net.SplitHostPort(*addr)
		check(err)
		p, err := strconv.Atoi(port)
		check(err)
		c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.Ports(p, p+1, p+2), kfake.ListenFn(func(network, a string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(a)
			return net.Listen(network, net.JoinHostPort(host, port))
		}))
		check(err)
		defer c.Close()
		fmt.Printf("ready: kafka brokers %v\n", c.ListenAddrs())
	case "pubsub":
		if *addr == "" {
			*addr = "127.0.0.1:8085"
		}
		srv := pstest.NewServerWithAddress(*addr)
		defer srv.Close()
		fmt.Printf("ready: pubsub emulator at %s (PUBSUB_EMULATOR_HOST=%s)\n", srv.Addr, srv.Addr)
	default:
		fmt.Fprintf(os.Stderr, "devpeer: unknown peer %q: kafka or pubsub\n", flag.Arg(0))
		os.Exit(2)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "devpeer:", err)
		os.Exit(1)
	}
}
