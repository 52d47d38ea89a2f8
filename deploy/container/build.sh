#!/usr/bin/env bash
# Builds lktoken's container image with podman, from a binary compiled here
# (no base image is pulled: the image is FROM scratch). Prints the image name.
#
#   deploy/container/build.sh                 # tags localhost/lktoken:<version>
#   IMAGE=registry.example.com/lktoken:1.2 deploy/container/build.sh
#
# podman runs with --runtime runc --cgroup-manager cgroupfs, which works on
# machines without systemd and on kernels where crun fails;
# PODMAN overrides the whole command, e.g. PODMAN=podman or PODMAN=docker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

version="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
image="${IMAGE:-localhost/lktoken:$version}"
read -r -a podman <<<"${PODMAN:-podman --runtime runc --cgroup-manager cgroupfs}"
certs=/etc/ssl/certs/ca-certificates.crt
[[ -r $certs ]] || { echo "build.sh: $certs is missing (apt-get install ca-certificates)" >&2; exit 1; }

ctx="$root/bin/image"
rm -rf "$ctx"
mkdir -p "$ctx"
echo "image: compiling a static lktoken ($version)..." >&2
# -buildvcs=auto stamps the commit into the binary's build info when git is
# there (the environment may say -buildvcs=false; a flag wins over GOFLAGS).
CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags '-s -w' -o "$ctx/lktoken" ./cmd/lktoken
install -m 0644 "$certs" "$ctx/ca-certificates.crt"
cp deploy/container/Containerfile "$ctx/Containerfile"

echo "image: building $image..." >&2
# --format docker: the OCI image format has no HEALTHCHECK. Docker always
# writes its own format and has no --format flag.
format=(--format docker)
[[ $(basename "${podman[0]}") == docker ]] && format=()
"${podman[@]}" build --quiet "${format[@]}" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null
size="$("${podman[@]}" image inspect --format '{{.Size}}' "$image")"
echo "image: $image, $((size / 1000)) kB" >&2
echo "$image"
