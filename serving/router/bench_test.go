package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/eddyplatform/eddy/serving/runtime"
)

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

func benchGet(b *testing.B, c *http.Client, url, host string) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
}

// BenchmarkDirect is the baseline: requests straight to the instance.
func BenchmarkDirect(b *testing.B) {
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) }))
	defer inst.Close()
	c := benchClient()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, inst.URL, "")
		}
	})
}

// BenchmarkRouted sends the same requests through the router to the same instance.
func BenchmarkRouted(b *testing.B) {
	rt := &testRuntime{insts: map[runtime.RevisionKey][]runtime.Instance{}, changed: make(chan struct{}), handler: func(runtime.RevisionKey, string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello\n")) })
	}}
	rt.add(v1)
	defer func() {
		for _, s := range rt.servers {
			s.Close()
		}
	}()
	r, err := New(Config{Runtime: rt})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	r.SetRoute(Route{Namespace: "default", Name: "hello", Targets: []Target{{Revision: v1.Name, Percent: 100}}})
	front := httptest.NewServer(r)
	defer front.Close()
	c := benchClient()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchGet(b, c, front.URL, "hello.default.localhost")
		}
	})
}
