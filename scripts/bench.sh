#!/usr/bin/env bash
# Benchmark: wall time, CPU and peak RSS of infracheck for N HTTP checks against a loopback
# nginx (Debian, with libnginx-mod-http-echo for a fixed delay), next to the latency bound
# ceil(N / concurrency) x delay. Also `validate` of a 50,000-check config and start-up time.
# Usage: scripts/bench.sh [N...]   (default: 1000 10000 50000). Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 50000)
concurrencies=(${BENCH_CONCURRENCY:-100 1000})

for p in nginx libnginx-mod-http-echo time; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; fi

# BENCH_BIN=path skips the build (to measure an existing binary).
if [ -z "${BENCH_BIN:-}" ]; then cargo build --release --quiet --bin infracheck; fi
bin="${BENCH_BIN:-$CARGO_TARGET_DIR/release/infracheck}"
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true

port_of() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ka=$(port_of); noka=$(port_of)
cat > "$work/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
user root;
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 16384; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $work/body; proxy_temp_path $work/proxy; fastcgi_temp_path $work/fcgi;
  uwsgi_temp_path $work/uwsgi; scgi_temp_path $work/scgi;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$ka backlog=4096;
    location = /fast { return 200 'ok'; }
    location = /slow { echo_sleep 0.1; echo ok; } }
  server { listen 127.0.0.1:$noka backlog=4096; keepalive_timeout 0;
    location = /fast { return 200 'ok'; } }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf"
for _ in $(seq 1 100); do [ -s "$work/nginx.pid" ] && break; sleep 0.05; done
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)
nginx_cpu() { awk '{print $14+$15}' "/proc/$worker/stat"; }   # clock ticks
tick=$(getconf CLK_TCK)

gen() { # gen N URL FILE
  python3 - "$1" "$2" "$3" <<'PY'
import sys
n, url, path = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with open(path, "w") as f:
    f.write("environments:\n  bench:\n    http_checks:\n")
    for i in range(n):
        f.write(f"      - {{name: c{i}, url: \"{url}\", timeout: 30s, warn_latency: 60s}}\n")
PY
}

echo "| N | concurrency | endpoint | wall s | bound s | wall/bound | CPU ms/check | peak RSS MB | nginx CPU s |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|"
for n in "${sizes[@]}"; do
  for c in "${concurrencies[@]}"; do
    for ep in keepalive no-keepalive delay-100ms; do
      case $ep in
        keepalive) url="http://127.0.0.1:$ka/fast"; delay=0 ;;
        no-keepalive) url="http://127.0.0.1:$noka/fast"; delay=0 ;;
        delay-100ms) url="http://127.0.0.1:$ka/slow"; delay=0.1 ;;
      esac
      gen "$n" "$url" "$work/b.yaml"
      before=$(nginx_cpu)
      /usr/bin/time -f "%e %U %S %M" -o "$work/t" "$bin" -c "$work/b.yaml" --env bench --concurrency "$c" --per-host-concurrency "$c" --output json >"$work/out.json" || true
      after=$(nginx_cpu)
      read -r wall user sys rss < "$work/t"
      fails=$(python3 -c "import json;print(json.load(open('$work/out.json'))['summary']['fail'])")
      python3 - "$n" "$c" "$ep" "$wall" "$user" "$sys" "$rss" "$delay" "$before" "$after" "$tick" "$fails" <<'PY'
import sys, math
n, c, ep, wall, user, sys_, rss, delay, b, a, tick, fails = sys.argv[1:]
n, c = int(n), int(c)
wall, user, sys_, rss, delay = float(wall), float(user), float(sys_), int(rss), float(delay)
bound = math.ceil(n / c) * delay
ratio = f"{wall / bound:.3f}" if bound else "-"
cpu = (user + sys_) * 1000 / n
ng = (float(a) - float(b)) / float(tick)
note = "" if fails == "0" else f" ({fails} FAIL)"
print(f"| {n} | {c} | {ep}{note} | {wall:.2f} | {bound:.1f} | {ratio} | {cpu:.4f} | {rss/1024:.1f} | {ng:.2f} |")
PY
    done
  done
done

gen 50000 "http://127.0.0.1:$ka/fast" "$work/v.yaml"
echo
echo "validate, 50,000 checks (best of 5):"
best=999
for _ in 1 2 3 4 5; do
  /usr/bin/time -f "%e" -o "$work/t" "$bin" validate -c "$work/v.yaml" >/dev/null
  t=$(cat "$work/t"); best=$(python3 -c "print(min($best,$t))")
done
echo "  ${best}s"
gen 1 "http://127.0.0.1:$ka/fast" "$work/one.yaml"
echo "start-up (mean of 20): "
python3 - "$bin" "$work/one.yaml" <<'PY'
import subprocess, sys, time
bin, one = sys.argv[1], sys.argv[2]
for label, args in (("--version", [bin, "--version"]), ("1-check run", [bin, "-c", one, "--env", "bench"])):
    t = time.perf_counter()
    for _ in range(20):
        subprocess.run(args, stdout=subprocess.DEVNULL, check=False)
    print(f"  {label}: {(time.perf_counter() - t) / 20 * 1000:.1f} ms")
PY
