package bolt

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	mathrand "math/rand/v2"
	"strconv"

	bbolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/eddyplatform/eddy/control/store"
)

var (
	metaBucket  = []byte("meta")
	revisionKey = []byte("revision")
)

// bucketName is the bucket of a resource: "group/plural".
func bucketName(res store.Resource) []byte { return []byte(res.Group + "/" + res.Resource) }

// key is an object's key in its bucket: "namespace/name" ("/name" when cluster-scoped).
func key(namespace, name string) []byte { return []byte(namespace + "/" + name) }

func readRevision(tx *bbolt.Tx) (uint64, error) {
	b := tx.Bucket(metaBucket)
	if b == nil {
		return 0, fmt.Errorf("the store file has no %q bucket", metaBucket)
	}
	return decodeRevision(b.Get(revisionKey))
}

func writeRevision(tx *bbolt.Tx, rev uint64) error {
	return tx.Bucket(metaBucket).Put(revisionKey, binary.BigEndian.AppendUint64(nil, rev))
}

func decodeRevision(v []byte) (uint64, error) {
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	default:
		return 0, fmt.Errorf("corrupt revision counter (%d bytes)", len(v))
	}
}

func formatRevision(rev uint64) string { return strconv.FormatUint(rev, 10) }

// decode reads a stored object. Numbers come back as int64 when they are integers and
// float64 otherwise, as everywhere in apimachinery.
func decode(data []byte) (*unstructured.Unstructured, error) {
	m := map[string]any{}
	if err := utiljson.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding a stored object: %w", err)
	}
	return &unstructured.Unstructured{Object: m}, nil
}

// normalize returns a private copy of obj in exactly the form decode gives back for it,
// so objects can be compared with reflect.DeepEqual and deep-copied safely.
func normalize(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if obj == nil || obj.Object == nil {
		return nil, fmt.Errorf("no object")
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	u, err := decode(data)
	if err != nil {
		return nil, err
	}
	intFloats(u.Object)
	return u, nil
}

// intFloats turns integral floats (1.0 in the input) into int64, which is what they
// become once stored as JSON (1) and read back.
func intFloats(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = intFloats(e)
		}
	case []any:
		for i, e := range v {
			v[i] = intFloats(e)
		}
	case float64:
		if v == math.Trunc(v) && v >= math.MinInt64 && v < math.MaxInt64 {
			return int64(v)
		}
	}
	return v
}

// newUID returns a random (version 4) UUID.
func newUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// suffixAlphabet is Kubernetes' generateName alphabet: lower-case letters and digits,
// without vowels and look-alikes, so generated names don't spell words.
const suffixAlphabet = "bcdfghjklmnpqrstvwxz2456789"

// randomSuffix returns five random characters for generateName.
func randomSuffix() string {
	b := make([]byte, 5)
	for i := range b {
		b[i] = suffixAlphabet[mathrand.IntN(len(suffixAlphabet))]
	}
	return string(b)
}
