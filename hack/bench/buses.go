package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/eddyplatform/eddy/api/messaging"
	"github.com/twmb/franz-go/pkg/kfake"
)

// printBuses runs the eventing benchmark on every bus this machine has: the stub, RabbitMQ
// and NATS when their servers answer on their usual ports, Kafka on an in-process 3-broker
// kfake cluster, Pub/Sub on the in-process pstest server.
func printBuses(rawRate float64) {
	fmt.Println("\nEventing on each bus: producers → ingress → bus → dispatcher → HTTP subscriber")
	prefix := fmt.Sprintf("bench%d", time.Now().UnixNano()%1e6)
	setups := []busSetup{{name: "stub (durable log)", typ: messaging.BusStub}}
	if reachable("127.0.0.1:5672") {
		setups = append(setups, busSetup{name: "rabbitmq", typ: messaging.BusRabbitMQ,
			config: map[string]string{"url": "amqp://127.0.0.1:5672/", "prefix": prefix + "."},
			secret: map[string][]byte{"username": []byte("guest"), "password": []byte("guest")}})
	}
	if reachable("127.0.0.1:4222") {
		setups = append(setups, busSetup{name: "nats (JetStream)", typ: messaging.BusNATS,
			config: map[string]string{"url": "nats://127.0.0.1:4222", "stream_prefix": prefix}})
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err == nil {
		defer kc.Close()
		setups = append(setups, busSetup{name: "kafka (kfake, 3 brokers)", typ: messaging.BusKafka,
			config: map[string]string{"brokers": strings.Join(kc.ListenAddrs(), ",")}})
	}
	ps := pstest.NewServer()
	defer ps.Close()
	setups = append(setups, busSetup{name: "pubsub (pstest)", typ: messaging.BusPubSub,
		config: map[string]string{"project": "eddy-bench", "endpoint": ps.Addr}})

	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "BUS\tEVENTS/S END TO END\tP99 END TO END (HALF RATE)\tLOST\tBASELINE (same run)")
	for _, s := range setups {
		ev := benchEventing(s)
		fmt.Fprintf(tw, "%s\t%.0f (%.2f× raw HTTP)\t%s\t%d\traw loopback HTTP %.0f req/s\n", s.name, ev.e2eRate, ev.e2eRate/rawRate, ms(ev.e2eP99), ev.lost, rawRate)
	}
	tw.Flush()
}

func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
