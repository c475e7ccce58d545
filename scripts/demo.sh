#!/usr/bin/env bash
# The main job end to end, offline: build infracheck, start a web server on loopback serving
# examples/demo-site, and run the `demo` environment of examples/demo.yaml against it.
# Extra arguments are passed to infracheck (e.g. `--output json`, `--junit demo.xml`).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"

cargo build --quiet --bin infracheck
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 "$port" --directory examples/demo-site >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
# Bounded wait until the server accepts connections (at most 10 s).
for _ in $(seq 1 100); do
  if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
DEMO_PORT="$port" "$CARGO_TARGET_DIR/debug/infracheck" --config examples/demo.yaml --env demo "$@"
