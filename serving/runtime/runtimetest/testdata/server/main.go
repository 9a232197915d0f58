// Command server is the test HTTP server of the runtime conformance suite
// (serving/runtime/runtimetest). It serves on $PORT (8080 if unset) and prints a line when it
// starts. Endpoints:
//
//	/             "ok"
//	/env          the environment as a JSON object
//	/crash        exits with code 3 (?signal=KILL: kills itself with SIGKILL instead)
//	/sleep?d=1s   prints "sleep 1s" and answers after the duration
//	/maxsleeping  the most /sleep requests this instance ever served at once
//	/log?msg=m&n=1 prints msg (default "log") n times to stdout, numbered when n > 1
//	/ready        200, or 503 after /ready/fail until /ready/ok
//	/spawn        starts `sleep 300` as a child and answers its pid
//	/pid          answers the server's pid
//	/alloc?mb=64  allocates and touches that many MiB, and keeps them
//
// On SIGTERM it stops accepting, waits for in-flight requests and exits 0, unless
// IGNORE_SIGTERM=1, when it ignores SIGTERM (to test the runtime's SIGKILL after the grace
// period).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	var notReady atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(env)
	})
	mux.HandleFunc("/crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("crashing on request")
		if r.URL.Query().Get("signal") == "KILL" {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
		os.Exit(3)
	})
	var sleeping, maxSleeping atomic.Int64
	mux.HandleFunc("/maxsleeping", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, maxSleeping.Load()) })
	mux.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n := sleeping.Add(1)
		defer sleeping.Add(-1)
		for m := maxSleeping.Load(); n > m && !maxSleeping.CompareAndSwap(m, n); m = maxSleeping.Load() {
		}
		fmt.Println("sleep", d)
		time.Sleep(d)
		fmt.Fprintln(w, "slept", d)
	})
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		msg := r.URL.Query().Get("msg")
		if msg == "" {
			msg = "log"
		}
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if n <= 1 {
			fmt.Println(msg)
		} else {
			for i := 1; i <= n; i++ {
				fmt.Println(msg, i)
			}
		}
		fmt.Fprintln(w, "logged")
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if notReady.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/ready/fail", func(w http.ResponseWriter, r *http.Request) { notReady.Store(true) })
	mux.HandleFunc("/ready/ok", func(w http.ResponseWriter, r *http.Request) { notReady.Store(false) })
	mux.HandleFunc("/spawn", func(w http.ResponseWriter, r *http.Request) {
		cmd := exec.Command("sleep", "300")
		if err := cmd.Start(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		go cmd.Wait()
		fmt.Fprint(w, cmd.Process.Pid)
	})
	var kept [][]byte
	var keptMu sync.Mutex
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		b := make([]byte, mb<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		keptMu.Lock()
		kept = append(kept, b)
		keptMu.Unlock()
		fmt.Fprintln(w, "allocated", mb, "MiB")
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getpid()) })

	sigs := []os.Signal{syscall.SIGTERM, syscall.SIGINT}
	if os.Getenv("IGNORE_SIGTERM") == "1" {
		signal.Ignore(syscall.SIGTERM)
		sigs = sigs[1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), sigs...)
	defer stop()
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
	srv := &http.Server{Handler: mux}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("server listening on :%s\n", port)
	select {
	case err := <-errc:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	fmt.Println("server shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	fmt.Println("server stopped")
}
