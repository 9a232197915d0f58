package nats

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(map[string]string{"url": "nats://127.0.0.1:4222"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.setDefaults()
	if c.URL != "nats://127.0.0.1:4222" || c.SubjectPrefix != "eddy" || c.StreamPrefix != "eddy_" || c.Replicas != 1 ||
		c.MaxAge != DefaultMaxAge || c.MaxBytes != DefaultMaxBytes || c.Partitions != DefaultPartitions ||
		c.AckDeadline != DefaultAckDeadline || c.MaxInFlight != DefaultMaxInFlight || c.TLS {
		t.Errorf("defaults: %v", c)
	}
}

func TestParseConfigAllKeys(t *testing.T) {
	caPEM, certPEM, keyPEM := testCert(t)
	c, err := ParseConfig(map[string]string{
		"url": "tls://a:4222, tls://b:4222", "name": "ingress", "subject_prefix": "prod.events", "stream_prefix": "",
		"replicas": "3", "max_age": "0", "max_bytes": "10GiB", "partitions": "32", "ack_deadline": "1m",
		"max_in_flight": "100", "max_ack_pending": "5000", "tls": "true", "tls_server_name": "nats.example",
		"connect_timeout": "2s", "reconnect_wait": "250ms", "ping_interval": "5s",
	}, map[string][]byte{"ca": caPEM, "cert": certPEM, "key": keyPEM, "username": []byte("u"), "password": []byte("p4ss")})
	if err != nil {
		t.Fatal(err)
	}
	c.setDefaults()
	if c.StreamPrefix != "" || c.SubjectPrefix != "prod.events" || c.Replicas != 3 || c.MaxAge >= 0 ||
		c.MaxBytes != 10<<30 || c.Partitions != 32 || c.AckDeadline != time.Minute || c.MaxInFlight != 100 ||
		c.MaxAckPending != 5000 || !c.TLS || c.TLSServerName != "nats.example" || c.ConnectTimeout != 2*time.Second ||
		c.ReconnectWait != 250*time.Millisecond || c.PingInterval != 5*time.Second || c.Username != "u" || c.Password != "p4ss" {
		t.Errorf("parsed: %v", c)
	}
	if c.MaxAge != -1 {
		t.Errorf("max_age 0: %v, want -1 (forever)", c.MaxAge)
	}
}

func TestParseConfigErrors(t *testing.T) {
	good := map[string]string{"url": "nats://h:4222"}
	with := func(k, v string) map[string]string {
		m := map[string]string{"url": "nats://h:4222"}
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name   string
		config map[string]string
		secret map[string][]byte
		want   string
	}{
		{"no url", map[string]string{}, nil, `"url" is required`},
		{"unknown config key", with("colour", "blue"), nil, `unknown config key "colour"`},
		{"unknown secret key", good, map[string][]byte{"pin": []byte("1234")}, `unknown secret key "pin"`},
		{"password in config", with("password", "hunter2"), nil, `config key "password" belongs in the secret`},
		{"url in secret", good, map[string][]byte{"url": []byte("x")}, `secret key "url" belongs in the config`},
		{"bad scheme", map[string]string{"url": "http://h:80"}, nil, `scheme "http"`},
		{"credentials in url", map[string]string{"url": "nats://me:hunter2@h:4222"}, nil, "carries credentials"},
		{"bad replicas", with("replicas", "7"), nil, `"replicas" 7`},
		{"replicas not a number", with("replicas", "three"), nil, `"three" is not an integer`},
		{"bad partitions", with("partitions", "1000"), nil, `"partitions" 1000`},
		{"bad duration", with("ack_deadline", "soon"), nil, `"soon" is not a duration`},
		{"zero deadline", with("ack_deadline", "0s"), nil, "must be positive"},
		{"negative age", with("max_age", "-1h"), nil, "is negative"},
		{"bad bytes", with("max_bytes", "lots"), nil, "not a byte count"},
		{"bad tls", with("tls", "maybe"), nil, "not true or false"},
		{"bad subject prefix", with("subject_prefix", "a..b"), nil, `"subject_prefix"`},
		{"wildcard subject prefix", with("subject_prefix", "a.*"), nil, `"subject_prefix"`},
		{"bad stream prefix", with("stream_prefix", "a.b"), nil, `"stream_prefix"`},
		{"two auth methods", good, map[string][]byte{"token": []byte("s3cret-token"), "username": []byte("u"), "password": []byte("hunter2")}, "only one of"},
		{"password alone", good, map[string][]byte{"password": []byte("hunter2")}, "together"},
		{"bad nkey", good, map[string][]byte{"nkey": []byte("SUnotaseed")}, `"nkey"`},
		{"bad creds", good, map[string][]byte{"creds": []byte("hunter2")}, `"creds"`},
		{"cert without key", good, map[string][]byte{"cert": []byte("x")}, "together"},
		{"bad ca", good, map[string][]byte{"ca": []byte("hunter2")}, `"ca"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.config, tc.secret)
			if err == nil {
				t.Fatalf("no error, want one mentioning %s", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
			for _, secret := range []string{"hunter2", "s3cret-token", "SUnotaseed"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q reveals a secret", err)
				}
			}
		})
	}
}

func TestParseConfigNKeyAndCreds(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	if _, err := ParseConfig(map[string]string{"url": "nats://h:4222"}, map[string][]byte{"nkey": seed}); err != nil {
		t.Errorf("nkey seed: %v", err)
	}
	creds := fmt.Sprintf("-----BEGIN NATS USER JWT-----\n%s\n------END NATS USER JWT------\n\n"+
		"-----BEGIN USER NKEY SEED-----\n%s\n------END USER NKEY SEED------\n",
		"eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln", seed)
	if _, err := ParseConfig(map[string]string{"url": "nats://h:4222"}, map[string][]byte{"creds": []byte(creds)}); err != nil {
		t.Errorf("creds: %v", err)
	}
}

// TestConfigRedacts: printing or logging a Config never shows its secrets.
func TestConfigRedacts(t *testing.T) {
	_, _, keyPEM := testCert(t)
	c := Config{URL: "nats://h:4222", Token: "s3cret-token", Password: "hunter2", Username: "u",
		Creds: []byte("creds-content"), NKeySeed: []byte("SUseedseed"), Key: keyPEM}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "cfg", c)
	for _, out := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), buf.String()} {
		for _, secret := range []string{"s3cret-token", "hunter2", "creds-content", "SUseedseed", "PRIVATE KEY"} {
			if strings.Contains(out, secret) {
				t.Errorf("%q shows the secret %q", out, secret)
			}
		}
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%q does not mark the redacted secrets", out)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1024": 1024, "1KiB": 1024, "2Mi": 2 << 20, "1GB": 1e9, "3 GiB": 3 << 30, "5k": 5000, "7B": 7} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "1.5GiB", "99999999999TiB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) succeeded", in)
		}
	}
}

func TestToken(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"a", "a.b", "a_b", "a__b", "a_2Eb", "a.2Eb", "a-b", "A", strings.Repeat("x", 200),
		strings.Repeat("x", 199) + "y", strings.Repeat(".", 0) + "v1." + strings.Repeat("_", 70)} {
		tok := token(name)
		if other, dup := seen[tok]; dup {
			t.Errorf("%q and %q share the token %q", name, other, tok)
		}
		seen[tok] = name
		if len(tok) > 130 {
			t.Errorf("token of %q is %d long", name, len(tok))
		}
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; !(isAlnum(c) || c == '_' || c == '-') {
				t.Errorf("token %q of %q has %q", tok, name, c)
			}
		}
	}
	n := naming{subjectPrefix: "eddy", streamPrefix: "e_"}
	if p := n.partitionsOf("t.x", n.subjects("t.x", 5)); p != 5 {
		t.Errorf("partitionsOf = %d, want 5", p)
	}
	if p := n.partitionsOf("t.x", []string{"eddy.t_2Ex.0", "eddy.t_2Ex.2"}); p != 0 {
		t.Errorf("partitionsOf with a gap = %d, want 0", p)
	}
}

// FuzzParseConfig: ParseConfig never panics, never quotes a secret in its
// error, and what it accepts validates.
func FuzzParseConfig(f *testing.F) {
	f.Add("url", "nats://127.0.0.1:4222", "partitions", "16", "token", []byte("s3cret"))
	f.Add("url", "tls://h:4222,nats://g:4222", "max_bytes", "1GiB", "username", []byte("u"))
	f.Add("url", "nats://me:pw@h:4222", "max_age", "0", "password", []byte("pw"))
	f.Add("subject_prefix", "a.b.c", "stream_prefix", "", "nkey", []byte("SUAAAA"))
	f.Add("ack_deadline", "10ms", "replicas", "3", "creds", []byte("-----BEGIN NATS USER JWT-----\nx\n------END NATS USER JWT------"))
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, sk string, sv []byte) {
		config := map[string]string{"url": "nats://127.0.0.1:4222", k1: v1, k2: v2}
		secret := map[string][]byte{sk: sv}
		c, err := ParseConfig(config, secret)
		if err != nil {
			if len(sv) >= 6 && strings.Contains(err.Error(), string(sv)) && !strings.Contains(k1+v1+k2+v2+sk, string(sv)) {
				t.Fatalf("error %q quotes the secret %q", err, sv)
			}
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config that does not validate: %v", err)
		}
		if len(sv) >= 6 && (sk == "token" || sk == "password") && strings.Contains(c.String(), string(sv)) &&
			!strings.Contains(k1+v1+k2+v2, string(sv)) {
			t.Fatalf("String %q shows the secret", c.String())
		}
	})
}

// testCert returns a self-signed CA certificate, and a certificate and key
// it signed, in PEM.
func testCert(t testing.TB) (ca, cert, key []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &k.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
