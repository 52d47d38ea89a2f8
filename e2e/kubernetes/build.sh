#!/usr/bin/env bash
# Builds the real cluster the e2e/kubernetes suite runs: etcd (the version
# tools/etcd/go.mod pins) and Kubernetes' kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy and kubectl (tools/kubernetes/go.mod),
# into a cache directory named by their versions, outside the clone:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/lktoken/kubernetes-<k8s version>-etcd-<etcd version>/
# and prints that directory. A warm run only finds the binaries there.
# A cold build costs about 1,700 CPU-seconds (Kubernetes about 1,500, etcd
# about 140: 15-30 minutes on two busy cores), 4-5 GB of Go build cache and
# about 650 MB of binaries; the Go build cache makes a rebuild only link.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(cd "$here/tools/kubernetes" && go list -m -f '{{.Version}}' k8s.io/kubernetes)"
etcd_version="$(cd "$here/tools/etcd" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lktoken/kubernetes-$k8s_version-etcd-$etcd_version"
tools=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)

complete() {
  local t
  for t in etcd "${tools[@]}"; do [[ -x "$cache/$t" ]] || return 1; done
}
if complete; then
  echo "$cache"
  exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d "$cache/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

if [[ ! -x "$cache/etcd" ]]; then
  echo "building etcd $etcd_version (first time only, about 140 CPU-seconds)..." >&2
  (cd "$here/tools/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  mv "$tmp/etcd" "$cache/etcd"
  echo "built etcd in $((SECONDS - start)) s" >&2
fi

# Kubernetes stamps its version with -X (without it kubectl and the kubelet
# say v0.0.0); providerless leaves out the cloud providers' code.
minor="${k8s_version#v1.}"; minor="${minor%%.*}"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$k8s_version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
done
pkgs=()
for t in "${tools[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$t"); done
echo "building Kubernetes $k8s_version: ${tools[*]} (first time only: about 1,500 CPU-seconds and 4 GB of build cache cold, 15-30 minutes on two busy cores; a few minutes when only linking)..." >&2
k8s_start=$SECONDS
(cd "$here/tools/kubernetes" && CGO_ENABLED=0 go build -trimpath -tags providerless -ldflags "$ldflags" -o "$tmp/" "${pkgs[@]}")
for t in "${tools[@]}"; do mv "$tmp/$t" "$cache/$t"; done
echo "built Kubernetes in $((SECONDS - k8s_start)) s" >&2
complete
echo "$cache"
