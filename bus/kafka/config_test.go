package kafka

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{
		"brokers":                "k1:9092, k2:9093,,",
		"topicPrefix":            "prod.",
		"partitions":             "6",
		"replicationFactor":      "3",
		"clientID":               "eddy-ingress",
		"kafkaVersion":           "3.6.0",
		"tls.enable":             "true",
		"tls.insecureSkipVerify": "true",
		"tls.serverName":         "kafka.example.com",
		"sasl.mechanism":         "SCRAM-SHA-512",
		"ackDeadline":            "45s",
		"maxInFlight":            "100",
		"maxEventBytes":          "500000",
		"partitionWindow":        "2048",
		"commitInterval":         "2s",
		"sessionTimeout":         "20s",
		"heartbeatInterval":      "2s",
		"rebalanceTimeout":       "40s",
		"metadataRefresh":        "30s",
		"dialTimeout":            "5s",
	}, map[string][]byte{"username": []byte("u"), "password": []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Brokers: []string{"k1:9092", "k2:9093"}, TopicPrefix: "prod.", Partitions: 6, ReplicationFactor: 3,
		ClientID: "eddy-ingress", KafkaVersion: "3.6.0",
		TLS:         TLSConfig{Enable: true, InsecureSkipVerify: true, ServerName: "kafka.example.com"},
		SASL:        SASLConfig{Mechanism: SASLScramSHA512, Username: "u", Password: "p"},
		AckDeadline: 45 * time.Second, MaxInFlight: 100, MaxEventBytes: 500000, PartitionWindow: 2048,
		CommitInterval: 2 * time.Second, SessionTimeout: 20 * time.Second, HeartbeatInterval: 2 * time.Second,
		RebalanceTimeout: 40 * time.Second, MetadataRefresh: 30 * time.Second, DialTimeout: 5 * time.Second,
	}
	cfg.Logger = nil
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("got  %+v\nwant %+v", cfg, want)
	}
	if s := fmt.Sprintf("%+v", cfg); strings.Contains(s, "Password:p") || strings.Contains(s, `Password:"p"`) {
		t.Errorf("formatting the config shows the password: %s", s)
	}

	def, err := ParseConfig(map[string]string{"brokers": "localhost:9092"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if def.Partitions != defaultPartitions || def.ReplicationFactor != -1 || def.TopicPrefix != defaultTopicPrefix ||
		def.AckDeadline != defaultAckDeadline || def.TLS.Enable || def.SASL.Mechanism != "" || def.Logger == nil {
		t.Errorf("defaults: %+v", def)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const secret = "hunter2-do-not-show"
	brokers := map[string]string{"brokers": "localhost:9092"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"brokers": "localhost:9092"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name   string
		config map[string]string
		secret map[string][]byte
		want   string
	}{
		{"no brokers", map[string]string{}, nil, `"brokers" is required`},
		{"empty brokers", map[string]string{"brokers": " , "}, nil, "names no broker"},
		{"broker without port", with("brokers", "localhost"), nil, "not host:port"},
		{"unknown key", with("partitons", "3"), nil, `unknown config key "partitons"`},
		{"unknown secret key", brokers, map[string][]byte{"passwd": []byte(secret)}, `unknown secret key "passwd"`},
		{"bad partitions", with("partitions", "zero"), nil, `"partitions"`},
		{"zero partitions", with("partitions", "0"), nil, "below 1"},
		{"bad replication", with("replicationFactor", "0"), nil, "neither -1 nor positive"},
		{"bad bool", with("tls.enable", "yes please"), nil, "not a boolean"},
		{"bad duration", with("ackDeadline", "30"), nil, "not a duration"},
		{"negative duration", with("ackDeadline", "-1s"), nil, "not positive"},
		{"bad version", with("kafkaVersion", "banana"), nil, "not a Kafka version"},
		{"old version", with("kafkaVersion", "0.10.2.0"), nil, "older than 0.11.0"},
		{"bad prefix", with("topicPrefix", "a/b"), nil, "TopicPrefix"},
		{"long prefix", with("topicPrefix", strings.Repeat("p", 50)), nil, "TopicPrefix"},
		{"bad mechanism", with("sasl.mechanism", "GSSAPI"), nil, "GSSAPI"},
		{"mechanism without user", with("sasl.mechanism", "PLAIN"), map[string][]byte{"password": []byte(secret)}, "needs a username"},
		{"credentials without mechanism", brokers, map[string][]byte{"username": []byte("u"), "password": []byte(secret)}, "sasl.mechanism"},
		{"tls off with material", with("tls.enable", "false"), map[string][]byte{"ca.crt": []byte("x")}, "TLS material"},
		{"bad CA", brokers, map[string][]byte{"ca.crt": []byte(secret)}, "no PEM certificate"},
		{"cert without key", brokers, map[string][]byte{"tls.crt": []byte(secret)}, "together"},
		{"bad key pair", brokers, map[string][]byte{"tls.crt": []byte(secret), "tls.key": []byte(secret)}, "certificate and key"},
		{"heartbeat too slow", with("heartbeatInterval", "20s", "sessionTimeout", "10s"), nil, "HeartbeatInterval"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(c.config, c.secret)
			if err == nil {
				t.Fatalf("no error, want one containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error shows a secret value: %v", err)
			}
		})
	}
}

// parseLines reads "key=value" lines into a map.
func parseLines(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// FuzzParseConfig: ParseConfig never panics, never shows secret values in
// its errors, and only returns configurations that validate.
func FuzzParseConfig(f *testing.F) {
	f.Add("brokers=localhost:9092", "")
	f.Add("brokers=a:1,b:2\npartitions=3\nreplicationFactor=-1\ntopicPrefix=x.", "")
	f.Add("brokers=a:1\nsasl.mechanism=PLAIN", "username=u\npassword=p")
	f.Add("brokers=a:1\nsasl.mechanism=SCRAM-SHA-256\ntls.enable=true\ntls.insecureSkipVerify=true", "username=u\npassword=p\nca.crt=-----BEGIN CERTIFICATE-----")
	f.Add("brokers=a:1\nackDeadline=1m\nmaxInFlight=5\nkafkaVersion=3.7.0\nheartbeatInterval=1s", "tls.crt=x\ntls.key=y")
	f.Add("brokers=[::1]:9092\nunknown=1", "bogus=1")
	f.Fuzz(func(t *testing.T, configText, secretText string) {
		const sentinel = "\x00SENTINEL-SECRET\x00"
		secret := map[string][]byte{}
		for k, v := range parseLines(secretText) {
			if k == "password" || k == "tls.key" {
				v = sentinel + v // the values that must never show
			}
			secret[k] = []byte(v)
		}
		cfg, err := ParseConfig(parseLines(configText), secret)
		if err != nil {
			if strings.Contains(err.Error(), "SENTINEL-SECRET") {
				t.Fatalf("error shows a secret value: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig returned a configuration that does not validate: %v", err)
		}
		if s := fmt.Sprint(cfg); strings.Contains(s, "SENTINEL-SECRET") {
			t.Fatalf("formatting the config shows a secret: %s", s)
		}
	})
}
