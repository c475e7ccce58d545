#!/usr/bin/env bash
# Builds the container image (Dockerfile) with podman or docker, whichever is installed.
#
#   scripts/container.sh [BINARY]
#       builds `infracheck:local` for this machine's platform from BINARY, a static Linux
#       infracheck; without BINARY it builds one first
#       (`cargo build --release --locked --target <arch>-unknown-linux-musl`). The image's
#       shell is a static busybox: first built into `localhost/infracheck-busybox` (the
#       Dockerfile's BUSYBOX_IMAGE) from BUSYBOX, offline.
#   scripts/container.sh --context DIR PLATFORM=BINARY...
#       only writes a build context to DIR (what the Dockerfile copies), e.g.
#       `--context ctx linux/amd64=x86/infracheck linux/arm64=arm/infracheck`: the release
#       workflow builds and pushes every platform from it.
#
# Environment: CONTAINER_ENGINE (podman or docker; default: podman when installed, else
# docker), INFRACHECK_IMAGE (default infracheck:local), CA_BUNDLE (the CA certificates to put
# in the image; default /etc/ssl/certs/ca-certificates.crt, from Debian's and Ubuntu's
# ca-certificates), BUSYBOX (a static busybox for this platform; default /bin/busybox, from
# Debian's and Ubuntu's busybox-static), BUSYBOX_IMAGE (an image with a static /bin/busybox to
# use instead, e.g. docker.io/library/busybox:1.37.0-musl; then BUSYBOX is not read),
# CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

die() {
  printf 'container.sh: %s\n' "$1" >&2
  exit 1
}

# write_context DIR PLATFORM=BINARY...
write_context() {
  local dir="$1" pair platform bin bundle
  shift
  bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  [ -s "$bundle" ] || die "no CA bundle at $bundle: install ca-certificates, or set CA_BUNDLE"
  (($#)) || die "--context needs at least one PLATFORM=BINARY"
  mkdir -p "$dir"
  for pair in "$@"; do
    platform="${pair%%=*}"
    bin="${pair#*=}"
    [[ "$platform" =~ ^linux/(amd64|arm64)$ ]] || die "unsupported platform '$platform' (linux/amd64 or linux/arm64)"
    [ -f "$bin" ] || die "no binary at $bin for $platform"
    mkdir -p "$dir/$platform"
    cp "$bin" "$dir/$platform/infracheck"
    chmod 0755 "$dir/$platform/infracheck"
  done
  cp "$bundle" "$dir/ca-certificates.crt"
  chmod 0644 "$dir/ca-certificates.crt"
  printf 'nonroot:x:65532:65532:infracheck:/nonexistent:/sbin/nologin\n' >"$dir/passwd"
  printf 'nonroot:x:65532:\n' >"$dir/group"
  cp "$root/Dockerfile" "$dir/Dockerfile"
}

if [ "${1:-}" = --context ]; then
  [ -n "${2:-}" ] || die "--context needs a directory"
  dir="$2"
  shift 2
  write_context "$dir" "$@"
  exit 0
fi

engine="${CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then
    engine=podman
  elif command -v docker >/dev/null 2>&1; then
    engine=docker
  else
    die "neither podman nor docker is installed"
  fi
fi
case "$engine" in
  podman | docker) command -v "$engine" >/dev/null 2>&1 || die "CONTAINER_ENGINE=$engine is not installed" ;;
  *) die "CONTAINER_ENGINE must be podman or docker, not '$engine'" ;;
esac

case "$(uname -m)" in
  x86_64 | amd64) platform=linux/amd64 target=x86_64-unknown-linux-musl ;;
  aarch64 | arm64) platform=linux/arm64 target=aarch64-unknown-linux-musl ;;
  *) die "no infracheck image for $(uname -m) (linux/amd64 or linux/arm64)" ;;
esac

bin="${1:-}"
if [ -z "$bin" ]; then
  echo "building infracheck for $target (cargo build --release --locked)"
  (cd "$root" && cargo build --release --locked --target "$target")
  bin="${CARGO_TARGET_DIR:-$root/target}/$target/release/infracheck"
fi
[ -f "$bin" ] || die "no binary at $bin"
# The binary runs here (same platform), and names its version for the image's label.
version_line="$("$bin" --version 2>&1)" || die "$bin does not run: $version_line"
version="$(printf '%s' "$version_line" | awk '{ print $2 }')"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT

busybox_image="${BUSYBOX_IMAGE:-}"
if [ -z "$busybox_image" ]; then
  busybox="${BUSYBOX:-/bin/busybox}"
  [ -f "$busybox" ] || die "no busybox at $busybox: install busybox-static, or set BUSYBOX or BUSYBOX_IMAGE"
  # The image has no C library: a dynamically linked busybox (Debian's `busybox`) cannot run.
  if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked: install busybox-static, or set BUSYBOX or BUSYBOX_IMAGE"
  fi
  mkdir -p "$context/busybox"
  cp "$busybox" "$context/busybox/busybox"
  chmod 0755 "$context/busybox/busybox"
  printf 'FROM scratch\nCOPY busybox /bin/busybox\n' >"$context/busybox/Dockerfile"
  busybox_image=localhost/infracheck-busybox
  "$engine" build --platform "$platform" --file "$context/busybox/Dockerfile" \
    --tag "$busybox_image" "$context/busybox"
fi

write_context "$context/image" "$platform=$bin"
image="${INFRACHECK_IMAGE:-infracheck:local}"
"$engine" build --platform "$platform" --file "$context/image/Dockerfile" --tag "$image" \
  --build-arg "BUSYBOX_IMAGE=$busybox_image" \
  --label "org.opencontainers.image.title=infracheck" \
  --label "org.opencontainers.image.version=$version" \
  "$context/image"
echo "built $image ($version_line, $platform) with $engine"
