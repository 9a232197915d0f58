// Package scram is the client side of a SCRAM exchange (RFC 5802) without channel binding,
// as Kafka speaks it: sarama defines the interface (sarama.SCRAMClient) but ships no
// implementation. The Kafka bus and the Kafka source share it.
package scram

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Hash selects the hash of a SCRAM mechanism.
type Hash func() hash.Hash

// The hashes of the SCRAM-SHA-256 and SCRAM-SHA-512 mechanisms.
var (
	SHA256 Hash = sha256.New
	SHA512 Hash = sha512.New
)

// Client is the client side of a SCRAM exchange (RFC 5802) without
// channel binding, as Kafka speaks it. sarama defines the interface but
// ships no implementation. The password is used as given (no SASLprep).
// Its errors never contain the password.
type Client struct {
	h        Hash
	user     string
	password string
	authzID  string

	step        int
	nonce       string
	clientFirst string // the bare client-first message
	serverSig   []byte
	done        bool
}

// NewClient returns a client for the mechanism of h.
func NewClient(h Hash) *Client { return &Client{h: h} }

// Begin starts an exchange for user.
func (c *Client) Begin(user, password, authzID string) error {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	*c = Client{h: c.h, user: user, password: password, authzID: authzID, nonce: base64.RawStdEncoding.EncodeToString(b)}
	return nil
}

// Step answers the server's challenge with the next client message.
func (c *Client) Step(challenge string) (string, error) {
	c.step++
	switch c.step {
	case 1:
		c.clientFirst = "n=" + escape(c.user) + ",r=" + c.nonce
		return c.gs2Header() + c.clientFirst, nil
	case 2:
		return c.final(challenge)
	case 3:
		c.done = true
		attrs := attrs(challenge)
		if e, ok := attrs["e"]; ok {
			return "", fmt.Errorf("scram: server rejected the authentication: %s", e)
		}
		v, err := base64.StdEncoding.DecodeString(attrs["v"])
		if err != nil || !hmac.Equal(v, c.serverSig) {
			return "", errors.New("scram: the server's signature does not verify")
		}
		return "", nil
	default:
		return "", errors.New("scram: exchange already finished")
	}
}

// Done reports whether the exchange is over.
func (c *Client) Done() bool { return c.done }

func (c *Client) gs2Header() string {
	if c.authzID == "" {
		return "n,,"
	}
	return "n,a=" + escape(c.authzID) + ","
}

// final computes the client-final message from the server-first message.
func (c *Client) final(serverFirst string) (string, error) {
	attrs := attrs(serverFirst)
	if e, ok := attrs["e"]; ok {
		return "", fmt.Errorf("scram: server rejected the authentication: %s", e)
	}
	nonce := attrs["r"]
	if !strings.HasPrefix(nonce, c.nonce) || len(nonce) == len(c.nonce) {
		return "", errors.New("scram: the server's nonce does not extend ours")
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil || len(salt) == 0 {
		return "", errors.New("scram: the server sent no valid salt")
	}
	iter, err := strconv.Atoi(attrs["i"])
	if err != nil || iter < 1 || iter > 1<<20 {
		return "", errors.New("scram: the server sent no valid iteration count")
	}
	salted, err := pbkdf2.Key(c.h, c.password, salt, iter, c.h().Size())
	if err != nil {
		return "", errors.New("scram: cannot derive the salted password")
	}
	clientKey := c.hmac(salted, "Client Key")
	storedKey := c.sum(clientKey)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(c.gs2Header())) + ",r=" + nonce
	authMessage := c.clientFirst + "," + serverFirst + "," + withoutProof
	clientSig := c.hmac(storedKey, authMessage)
	proof := make([]byte, len(clientKey))
	subtle.XORBytes(proof, clientKey, clientSig)
	c.serverSig = c.hmac(c.hmac(salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (c *Client) hmac(key []byte, msg string) []byte {
	m := hmac.New(c.h, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (c *Client) sum(b []byte) []byte {
	h := c.h()
	h.Write(b)
	return h.Sum(nil)
}

// escape escapes a SCRAM saslname.
func escape(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

// attrs splits a SCRAM message into its attributes.
func attrs(msg string) map[string]string {
	attrs := map[string]string{}
	for _, part := range strings.Split(msg, ",") {
		if len(part) >= 2 && part[1] == '=' {
			attrs[part[:1]] = part[2:]
		}
	}
	return attrs
}
