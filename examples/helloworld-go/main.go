// Command helloworld-go is the sample service of Knative's introduction, run by Eddy's process
// runtime: it answers every request with "Hello <TARGET>!", TARGET from its environment
// ("World" when unset), on the port in $PORT (8080 when unset).
//
// As an Eddy Service (see service.yaml beside this file):
//
//	image: ko://./examples/helloworld-go
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	target := os.Getenv("TARGET")
	if target == "" {
		target = "World"
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	srv := &http.Server{
		Addr:              ":" + port,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			log.Print("helloworld: received a request")
			fmt.Fprintf(w, "Hello %s!\n", target)
		}),
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}()
	log.Printf("helloworld: listening on port %s", port)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
