package pubsub

import (
	"bytes"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddyplatform/eddy/bus"
)

const fakeKey = `{"type":"service_account","project_id":"from-key","private_key":"-----BEGIN PRIVATE KEY-----\nSECRETSECRETSECRET\n-----END PRIVATE KEY-----\n","client_email":"x@from-key.iam.gserviceaccount.com"}`

func TestParseConfig(t *testing.T) {
	cfg, err := ParseConfig(map[string]string{
		"project":      "my-project",
		"topicPrefix":  "eddy-prod",
		"apiEndpoint":  "us-east1-pubsub.googleapis.com:443",
		"ackDeadline":  "45s",
		"maxInFlight":  "64",
		"longPoll":     "false",
		"pollInterval": "20ms",
		"publishDelay": "0s",
	}, map[string][]byte{SecretCredentials: []byte(fakeKey)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Project != "my-project" || cfg.TopicPrefix != "eddy-prod" || cfg.APIEndpoint != "us-east1-pubsub.googleapis.com:443" ||
		cfg.AckDeadline != 45*time.Second || cfg.MaxInFlight != 64 || cfg.LongPoll == nil || *cfg.LongPoll ||
		cfg.PollInterval != 20*time.Millisecond || string(cfg.CredentialsJSON) != fakeKey {
		t.Errorf("ParseConfig = %v", cfg)
	}
	if credentialsProject(cfg.CredentialsJSON) != "from-key" {
		t.Errorf("project_id of the key not found")
	}

	empty, err := ParseConfig(nil, nil)
	if err != nil {
		t.Fatalf("empty config: %v", err)
	}
	if d := empty.withDefaults(); d.TopicPrefix != "eddy" || d.AckDeadline != 30*time.Second || d.MaxInFlight != 1000 {
		t.Errorf("defaults = %v", d)
	}

	for _, c := range []struct {
		config map[string]string
		secret map[string][]byte
		want   string
	}{
		{map[string]string{"projekt": "x"}, nil, `"projekt"`},
		{nil, map[string][]byte{"token": []byte("s3cr3t-value")}, `"token"`},
		{map[string]string{"ackDeadline": "soon"}, nil, "ackDeadline"},
		{map[string]string{"ackDeadline": "-1s"}, nil, "ackDeadline"},
		{map[string]string{"maxInFlight": "0"}, nil, "maxInFlight"},
		{map[string]string{"longPoll": "perhaps"}, nil, "longPoll"},
		{map[string]string{"topicPrefix": "goog-x"}, nil, "goog"},
		{map[string]string{"topicPrefix": "1abc"}, nil, "letter"},
		{map[string]string{"topicPrefix": "a/b"}, nil, "not allowed"},
		{map[string]string{"topicPrefix": strings.Repeat("a", MaxTopicPrefixLen+1)}, nil, "topicPrefix"},
		{map[string]string{"endpoint": "localhost:8085"}, nil, "project is required"},
		{map[string]string{"endpoint": "localhost:8085", "apiEndpoint": "x:443", "project": "p"}, nil, "exclude"},
		{map[string]string{"project": "has/slash"}, nil, "project"},
		{nil, map[string][]byte{SecretCredentials: []byte("s3cr3t-not-json")}, SecretCredentials},
	} {
		_, err := ParseConfig(c.config, c.secret)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseConfig(%v, secret keys %v) = %v, want an error mentioning %s", c.config, keys(c.secret), err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
}

func keys(m map[string][]byte) []string { return sortedKeys(m) }

// TestConfigNeverShowsCredentials: printing or logging a Config hides the
// key.
func TestConfigNeverShowsCredentials(t *testing.T) {
	cfg := Config{Project: "p", CredentialsJSON: []byte(fakeKey)}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, cfg), buf.String()} {
		if strings.Contains(s, "SECRET") || strings.Contains(s, "private_key") {
			t.Errorf("credentials shown: %s", s)
		}
	}
}

// pubsubID is Pub/Sub's rule for topic and subscription ids.
var pubsubID = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$`)

func TestNames(t *testing.T) {
	long := strings.Repeat("n", bus.MaxNameLen)
	prefixes := []string{"e", "eddy", strings.Repeat("P", MaxTopicPrefixLen)}
	names := []string{"0", "a", "Mixed.Case_name-1", long}
	seen := map[string]string{}
	for _, p := range prefixes {
		for _, topic := range names {
			if id := topicID(p, topic); !pubsubID.MatchString(id) || strings.HasPrefix(strings.ToLower(id), "goog") {
				t.Errorf("topic id %q is not a valid Pub/Sub id", id)
			}
			for _, g := range append(names, long[:len(long)-1]+"x") {
				id := subscriptionID(p, topic, g)
				if !pubsubID.MatchString(id) {
					t.Errorf("subscription id %q (%d chars) is not a valid Pub/Sub id", id, len(id))
				}
				if !ownedSubscription(p, "projects/x/subscriptions/"+id) {
					t.Errorf("subscription id %q not recognised as the bus's", id)
				}
				key := p + "|" + topic + "|" + g
				if other, dup := seen[id]; dup {
					t.Errorf("%s and %s map to the same subscription id %q", key, other, id)
				}
				seen[id] = key
			}
		}
	}
	// "~" keeps topic and group apart where "-" could not.
	if subscriptionID("e", "a-b", "c") == subscriptionID("e", "a", "b-c") {
		t.Errorf("ambiguous subscription ids")
	}
	if ownedSubscription("eddy", "projects/x/subscriptions/eddy-by-hand") || ownedSubscription("eddy", "projects/x/subscriptions/other-t~g") {
		t.Errorf("a foreign subscription counted as the bus's")
	}
}
