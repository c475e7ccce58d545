#!/usr/bin/env bash
# Soak benchmark of `infracheck serve` (BENCHMARKS.md, "serve soak"): N http checks on a 1 s
# interval against a loopback nginx for M minutes; every S seconds the process's resident
# memory (VmRSS), open descriptors (/proc/PID/fd), the runs counted by /metrics and the
# CPU time so far. Then SIGTERM, which must exit 0. Prints a markdown table.
#
# Usage: scripts/soak.sh
#   SOAK_BIN=path       the binary (default: a release build, built here)
#   SOAK_CHECKS=1000    checks
#   SOAK_MINUTES=30     duration
#   SOAK_SAMPLE=60      seconds between samples
#   SOAK_KEEP=100       --history-keep
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
checks=${SOAK_CHECKS:-1000}
minutes=${SOAK_MINUTES:-30}
every=${SOAK_SAMPLE:-60}
keep=${SOAK_KEEP:-100}
if [ -z "${SOAK_BIN:-}" ]; then cargo build --release --quiet --bin infracheck; fi
bin="${SOAK_BIN:-$CARGO_TARGET_DIR/release/infracheck}"

work=$(mktemp -d)
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null || true
  [ -s "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat >"$work/nginx.conf" <<NGINX
user root;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  server { listen 127.0.0.1:$port backlog=4096; location / { return 200 'ok'; } }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf"
for _ in $(seq 1 100); do [ -s "$work/nginx.pid" ] && break; sleep 0.05; done

{
  printf 'max_workers: 200\ndefaults:\n  interval: 1s\nenvironments:\n  soak:\n    http_checks:\n'
  for i in $(seq 1 "$checks"); do
    printf '      - {name: c%05d, url: "http://127.0.0.1:%s/c%d"}\n' "$i" "$port" "$i"
  done
} >"$work/soak.yaml"
"$bin" validate -c "$work/soak.yaml" >/dev/null

"$bin" serve --env soak --config "$work/soak.yaml" --listen 127.0.0.1:0 \
  --history-keep "$keep" 2>"$work/serve.err" &
serve_pid=$!
addr=""
for _ in $(seq 1 200); do
  addr=$(sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' "$work/serve.err" | head -1)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "error: serve printed no address: $(head -3 "$work/serve.err")" >&2; exit 1; }

ticks=$(getconf CLK_TCK)
echo "serve soak: $checks http checks, interval 1s, --history-keep $keep, $minutes min, $($bin --version)"
echo
echo "| minute | RSS MB | open fds | check runs (total) | CPU s |"
echo "|---:|---:|---:|---:|---:|"
samples=$(( minutes * 60 / every ))
for k in $(seq 0 "$samples"); do
  [ "$k" -gt 0 ] && sleep "$every"
  kill -0 "$serve_pid" 2>/dev/null || { echo "error: serve exited early: $(tail -3 "$work/serve.err")" >&2; exit 1; }
  rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$serve_pid/status")
  fds=$(find "/proc/$serve_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  runs=$(curl -fsS "http://$addr/metrics" | awk '/^infracheck_check_runs_total/ { s += $2 } END { printf "%d", s }')
  cpu=$(awk -v t="$ticks" '{ printf "%.1f", ($14 + $15) / t }' "/proc/$serve_pid/stat")
  printf '| %s | %s | %s | %s | %s |\n' "$(awk -v k="$k" -v e="$every" 'BEGIN { printf "%.1f", k * e / 60 }')" "$rss" "$fds" "$runs" "$cpu"
done
kill -TERM "$serve_pid"
set +e
wait "$serve_pid"
status=$?
set -e
serve_pid=""
echo
echo "SIGTERM: exit $status"
[ "$status" -eq 0 ]
