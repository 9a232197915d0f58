// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3 at the version
// hack/kube/go.mod pins, for Eddy's Kubernetes test environment (internal/kubetest).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
