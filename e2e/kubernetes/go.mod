// The real-cluster suite: deploy/kubernetes applied to a Kubernetes control
// plane and a kubelet started by the test (see build.sh for the binaries). A
// module of its own, with no dependencies beyond the standard library: it
// talks to the cluster through kubectl and the API server's REST API.
module github.com/lktoken/lktoken/e2e/kubernetes

go 1.26.0
