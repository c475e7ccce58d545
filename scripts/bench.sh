#!/usr/bin/env bash
# Benchmark: wall time, CPU and peak RSS of infracheck for N HTTP checks against a loopback
# nginx (Debian, with libnginx-mod-http-echo for a fixed delay), next to the latency bound
# ceil(N / concurrency) x delay. Also `validate` of 10,000 / 50,000 / 100,000 checks and
# start-up time.
#
# Usage: scripts/bench.sh [N...]   (default: 1000 10000 50000). Prints markdown tables.
#   BENCH_BIN=path                 measure an existing binary (skips the build)
#   BENCH_BINS="before=p1 after=p2" measure several binaries, paired: every measurement is
#                                  repeated for each binary back to back, in the same session
#   BENCH_HURL=path/to/hurl        add Hurl rows (same N, concurrency and endpoints); HURL=path
#                                  too, else a `hurl` on the PATH
#   BENCH_REPEAT=k                 run each measurement k times, report the median (default 1)
#   BENCH_CONCURRENCY="100 1000"   concurrencies
#   BENCH_ENDPOINTS="keepalive no-keepalive delay-100ms"
#   BENCH_VALIDATE="10000 50000 100000"  sizes for `validate` (empty: skip)
#
# Scale: scripts/bench.sh scale   (N = 10,000 on the 100 ms endpoint at 100 and 1,000 in
#   flight, nothing else). Every matrix row also has the wrk floor: the time wrk (keep-alive,
#   the same number of connections, BENCH_WRK_SECONDS=3 s) needs for N requests to the same
#   endpoint at its measured rate, and the connections nginx accepted during the run (its
#   stub_status; a run that reuses its connections opens about as many as it has in flight).
#   Hurl rows come from BENCH_HURL, else from a `hurl` on the
#   PATH; without either the script says so and leaves them out. wrk is installed if missing.
#
# Interference: scripts/bench.sh interference   (the "True numbers" table of BENCHMARKS.md)
#   A victim http check (keep-alive off, its own loopback nginx) alone and beside (a) 1 tls check to
#   `openssl s_server`, (b) 20 https checks to a loopback nginx over TLS, (c) 1,000 http checks
#   at --concurrency 1000, (d) one check of a 1 MB JSON body with `json` assertions; the
#   victim's own latency (its result in the JSON report) as p50 and p95 over BENCH_RUNS runs
#   (default 30), for each binary with its default threads and with --threads 1 (when the
#   binary has the flag). BENCH_BIN / BENCH_BINS as above.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
if [ "${1:-}" = scale ]; then
  shift
  export BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-100 1000}" BENCH_ENDPOINTS="${BENCH_ENDPOINTS:-delay-100ms}"
  export BENCH_VALIDATE="${BENCH_VALIDATE-}"
  [ $# -gt 0 ] || set -- 10000
fi
sizes=("$@"); [ ${#sizes[@]} -gt 0 ] || sizes=(1000 10000 50000)
# Hurl for the side-by-side rows: BENCH_HURL, else HURL, else a `hurl` on the PATH.
BENCH_HURL="${BENCH_HURL:-${HURL:-}}"
if [ -z "${BENCH_HURL}" ] && command -v hurl >/dev/null; then BENCH_HURL=$(command -v hurl); fi
if [ "${1:-}" != interference ]; then
  if [ -n "${BENCH_HURL}" ]; then
    echo "note: Hurl rows from $BENCH_HURL ($("$BENCH_HURL" --version 2>/dev/null | head -1))" >&2
  else
    echo "note: Hurl not found (set BENCH_HURL or HURL, or put hurl on the PATH; 8.0.1: cargo install hurl --version 8.0.1 --locked): no Hurl rows" >&2
  fi
fi

for p in nginx libnginx-mod-http-echo time wrk; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="${missing:-} $p"
done
if [ -n "${missing:-}" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; fi

if [ -z "${BENCH_BIN:-}" ] && [ -z "${BENCH_BINS:-}" ]; then cargo build --release --quiet --bin infracheck; fi
bins="${BENCH_BINS:-infracheck=${BENCH_BIN:-$CARGO_TARGET_DIR/release/infracheck}}"
work=$(mktemp -d)
trap 'kill $(cat "$work/nginx.pid" "$work/victim.pid" "$work/s_server.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || true

port_of() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ "${1:-}" = interference ]; then
  # A private CA and a leaf for 127.0.0.1, trusted through `ca_file`.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -keyout "$work/ca.key" -out "$work/ca.pem" -subj "/CN=bench CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$work/leaf.key" -out "$work/leaf.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$work/ext.cnf"
  openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -days 30 -extfile "$work/ext.cnf" -out "$work/leaf.pem" 2>/dev/null
  python3 -c 'import json, sys
items = [{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "value": i * 1.5} for i in range(13000)]
json.dump({"status": "ok", "items": items}, open(sys.argv[1], "w"))' "$work/big.json"
  plain=$(port_of); tls=$(port_of); sserver=$(port_of); vport=$(port_of)
  cat > "$work/nginx.conf" <<NGINX
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
  keepalive_timeout 0;
  server { listen 127.0.0.1:$plain backlog=4096;
    location = /fast { return 200 'ok'; }
    location = /big { default_type application/json; alias $work/big.json; } }
  server { listen 127.0.0.1:$tls ssl backlog=4096;
    ssl_certificate $work/leaf.pem; ssl_certificate_key $work/leaf.key;
    location = /fast { return 200 'ok'; } }
}
NGINX
  # The victim's own server: a second nginx process, so that a difference from "alone" is the
  # tool's (or the machine's), not the queue of a server shared with the load (one nginx
  # worker serving the victim and 20 TLS handshakes or 1,000 other requests delays the
  # victim's response on the server's side). BENCH_SHARED_SERVER=1: the victim on the load's
  # server, as this table was measured up to "True numbers X" in BENCHMARKS.md.
  if [ "${BENCH_SHARED_SERVER:-0}" = 1 ]; then
    vport=$plain
  else
    mkdir -p "$work/v"
    cat > "$work/victim.conf" <<NGINX
user root;
worker_processes 1;
pid $work/victim.pid;
error_log $work/victim-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/v/body; proxy_temp_path $work/v/proxy; fastcgi_temp_path $work/v/fcgi;
  uwsgi_temp_path $work/v/uwsgi; scgi_temp_path $work/v/scgi;
  keepalive_timeout 0;
  server { listen 127.0.0.1:$vport backlog=4096; location = /fast { return 200 'ok'; } }
}
NGINX
    nginx -p "$work/v" -c "$work/victim.conf"
  fi
  nginx -p "$work" -c "$work/nginx.conf"
  openssl s_server -accept "127.0.0.1:$sserver" -cert "$work/leaf.pem" -key "$work/leaf.key" \
    -www -quiet </dev/null >/dev/null 2>&1 &
  echo $! > "$work/s_server.pid"
  for _ in $(seq 1 100); do
    [ -s "$work/nginx.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$vport") 2>/dev/null \
      && (exec 3<>"/dev/tcp/127.0.0.1/$sserver") 2>/dev/null && break
    sleep 0.05
  done
  python3 - "$work" "$bins" "${BENCH_RUNS:-30}" "$plain" "$tls" "$sserver" "$vport" <<'PY'
import json, os, statistics, subprocess, sys

work, bins, runs, plain, tls, sserver, vport = sys.argv[1:8]
bins = [tuple(b.split("=", 1)) for b in bins.split()]
runs = int(runs)
ca = os.path.join(work, "ca.pem")
common = "timeout: 30s, warn_latency: 60s"
victim = f'      - {{name: victim, url: "http://127.0.0.1:{vport}/fast", {common}}}\n'

def http(name, url, extra=""):
    return f'      - {{name: {name}, url: "{url}", {common}{extra}}}\n'

cases = [
    ("alone", "", "", []),
    ("beside 1 tls check", "",
     f"    tls_checks:\n      - {{name: t0, host: 127.0.0.1, port: {sserver}, ca_file: {ca}, {common}}}\n", []),
    ("beside 20 https checks",
     "".join(http(f"s{i}", f"https://127.0.0.1:{tls}/fast", f", ca_file: {ca}") for i in range(20)), "", []),
    ("beside 1,000 http checks (--concurrency 1000)",
     "".join(http(f"h{i}", f"http://127.0.0.1:{plain}/fast") for i in range(1000)), "",
     ["--concurrency", "1000"]),
    ("beside a 1 MB JSON body check",
     http("big", f"http://127.0.0.1:{plain}/big",
          ', max_body_bytes: 2000000, json: [{path: status, equals: ok}, {path: "items[12999].id", equals: 12999}]'),
     "", []),
]

def has_threads(path):
    return subprocess.run([path, "--threads", "1", "--version"], capture_output=True).returncode == 0

def victim_ms(doc):
    r = next(r for r in doc["results"] if r["name"] == "victim")
    # `duration_us` where the binary has it (sub-millisecond), else the whole milliseconds.
    return r["duration_us"] / 1000 if "duration_us" in r else float(r["duration_ms"])

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]

print(f"victim http check latency in ms, {runs} runs per row (p50 / p95; the difference from alone in brackets)")
print()
print("| case | binary | threads | p50 ms | p95 ms | p50 - alone | p95 - alone | whole run p50 ms |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for label, path in bins:
    variants = [("default", [])] + ([("1", ["--threads", "1"])] if has_threads(path) else [])
    for tname, targs in variants:
        alone = None
        for case, extra_http, extra_kinds, args in cases:
            cfg = os.path.join(work, "i.yaml")
            with open(cfg, "w") as f:
                f.write("environments:\n  bench:\n    http_checks:\n" + victim + extra_http + extra_kinds)
            out = os.path.join(work, "i.json")
            lat, whole = [], []
            for _ in range(runs):
                p = subprocess.run([path, *targs, "-q", "-c", cfg, "--env", "bench", "--json", out, *args],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                doc = json.load(open(out))
                if p.returncode != 0:
                    bad = [r["name"] for r in doc["results"] if r["status"] not in ("PASS", "WARN")]
                    sys.exit(f"{case}: exit {p.returncode}, not passing: {bad[:5]}")
                lat.append(victim_ms(doc))
                whole.append(doc["duration_ms"])
            p50, p95 = statistics.median(lat), pct(lat, 95)
            if alone is None:
                alone = (p50, p95)
            print(f"| {case} | {label} | {tname} | {p50:.2f} | {p95:.2f} | {p50 - alone[0]:+.2f} | "
                  f"{p95 - alone[1]:+.2f} | {statistics.median(whole):.0f} |", flush=True)
PY
  exit 0
fi

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
    location = /slow { echo_sleep 0.1; echo ok; }
    location = /status { stub_status; } }
  server { listen 127.0.0.1:$noka backlog=4096; keepalive_timeout 0;
    location = /fast { return 200 'ok'; } }
}
NGINX
nginx -p "$work" -c "$work/nginx.conf"
for _ in $(seq 1 100); do [ -s "$work/nginx.pid" ] && break; sleep 0.05; done
worker=$(pgrep -P "$(cat "$work/nginx.pid")" | head -1)

# The driver: generates the configs (and Hurl files), runs every binary back to back for each
# measurement, and prints the tables.
python3 - "$work" "$worker" "$ka" "$noka" "$bins" "${BENCH_HURL:-}" "${BENCH_REPEAT:-1}" \
  "${BENCH_CONCURRENCY:-100 1000}" "${BENCH_ENDPOINTS:-keepalive no-keepalive delay-100ms}" \
  "${BENCH_VALIDATE-10000 50000 100000}" "${sizes[@]}" <<'PY'
import json, math, os, statistics, subprocess, sys, time, urllib.request

work, worker, ka, noka, bins, hurl, repeat, concs, endpoints, vsizes = sys.argv[1:11]
sizes = [int(n) for n in sys.argv[11:]]
bins = [tuple(b.split("=", 1)) for b in bins.split()]
repeat = int(repeat)
concs = [int(c) for c in concs.split()]
endpoints = endpoints.split()
vsizes = [int(n) for n in vsizes.split()]
tick = os.sysconf("SC_CLK_TCK")
urls = {
    "keepalive": (f"http://127.0.0.1:{ka}/fast", 0.0),
    "no-keepalive": (f"http://127.0.0.1:{noka}/fast", 0.0),
    "delay-100ms": (f"http://127.0.0.1:{ka}/slow", 0.1),
}

def nginx_cpu():
    with open(f"/proc/{worker}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick

def accepts():
    # Connections nginx accepted so far (its stub_status; both servers share the counter).
    with urllib.request.urlopen(f"http://127.0.0.1:{ka}/status") as r:
        return int(r.read().decode().splitlines()[2].split()[0])

def gen(n, url, path):
    with open(path, "w") as f:
        f.write("environments:\n  bench:\n    http_checks:\n")
        for i in range(n):
            f.write(f"      - {{name: c{i}, url: \"{url}\", timeout: 30s, warn_latency: 60s}}\n")

def gen_hurl(n, c, url, folder):
    # c files (one per parallel job), the n requests spread evenly over them.
    os.makedirs(folder, exist_ok=True)
    files = []
    for j in range(min(c, n)):
        count = n // c + (1 if j < n % c else 0)
        path = os.path.join(folder, f"f{j}.hurl")
        with open(path, "w") as f:
            f.write(f"GET {url}\nHTTP 200\n\n" * count)
        files.append(path)
    return files

def timed(args):
    t = os.path.join(work, "t")
    before, conns = nginx_cpu(), accepts()
    with open(os.path.join(work, "out"), "wb") as out, open(os.path.join(work, "err"), "wb") as err:
        code = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", t] + args,
                              stdout=out, stderr=err).returncode
    after, conns = nginx_cpu(), accepts() - conns
    wall, user, sys_, rss = open(t).read().split()[-4:]
    return code, float(wall), float(user) + float(sys_), int(rss) / 1024, after - before, conns

def fails(label):
    if label == "hurl":
        return None
    try:
        return json.load(open(os.path.join(work, "out")))["summary"]["fail"]
    except Exception:
        return "?"

wrk_rates = {}

def wrk_rate(c, url):
    # Requests per second wrk sustains with c keep-alive connections (2 threads): the floor.
    key = (c, url)
    if key not in wrk_rates:
        secs = os.environ.get("BENCH_WRK_SECONDS", "3")
        out = subprocess.run(["wrk", "-t2", f"-c{c}", f"-d{secs}s", "--timeout", "10s", url],
                             capture_output=True, text=True).stdout
        rate = None
        for line in out.splitlines():
            if line.startswith("Requests/sec:"):
                rate = float(line.split()[1])
        wrk_rates[key] = rate
    return wrk_rates[key]

print("| N | concurrency | endpoint | binary | wall s | bound s | wall/bound | wrk floor s | wall/floor | CPU ms/check | peak RSS MiB | nginx CPU s | connections |")
print("|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for n in sizes:
    for c in concs:
        for ep in endpoints:
            url, delay = urls[ep]
            rate = wrk_rate(c, url)
            floor = n / rate if rate else None
            cfg = os.path.join(work, "b.yaml")
            gen(n, url, cfg)
            runs = [(label, [path, "-c", cfg, "--env", "bench", "--concurrency", str(c),
                             "--per-host-concurrency", str(c), "--output", "json"]) for label, path in bins]
            if hurl:
                folder = os.path.join(work, f"hurl-{n}-{c}-{ep}")
                files = gen_hurl(n, c, url, folder)
                runs.append(("hurl", [hurl, "--test", "--jobs", str(c), "--no-color"] + files))
            samples = {label: [] for label, _ in runs}
            notes = {label: "" for label, _ in runs}
            for _ in range(repeat):
                for label, args in runs:
                    code, wall, cpu, rss, ng, conns = timed(args)
                    samples[label].append((wall, cpu, rss, ng, conns))
                    f = fails(label)
                    if (label == "hurl" and code != 0) or (f not in (None, 0)):
                        notes[label] = f" (FAIL: exit {code})" if label == "hurl" else f" ({f} FAIL)"
            bound = math.ceil(n / c) * delay
            for label, _ in runs:
                s = samples[label]
                wall = statistics.median(x[0] for x in s)
                cpu = statistics.median(x[1] for x in s)
                rss = statistics.median(x[2] for x in s)
                ng = statistics.median(x[3] for x in s)
                conns = statistics.median(x[4] for x in s)
                ratio = f"{wall / bound:.3f}" if bound else "-"
                fl = f"{floor:.2f}" if floor else "-"
                fratio = f"{wall / floor:.3f}" if floor else "-"
                print(f"| {n} | {c} | {ep}{notes[label]} | {label} | {wall:.2f} | {bound:.1f} | {ratio} | "
                      f"{fl} | {fratio} | {cpu * 1000 / n:.4f} | {rss:.1f} | {ng:.2f} | {conns:.0f} |", flush=True)

if vsizes:
    print()
    print("validate (best of 5 wall; user+sys CPU and peak RSS of that run):")
    print()
    print("| checks | binary | wall s | CPU s | peak RSS MB |")
    print("|---:|---|---:|---:|---:|")
    for n in vsizes:
        cfg = os.path.join(work, "v.yaml")
        gen(n, urls["keepalive"][0], cfg)
        for label, path in bins:
            best = None
            for _ in range(5):
                code, wall, cpu, rss, _, _ = timed([path, "validate", "-c", cfg])
                if best is None or wall < best[0]:
                    best = (wall, cpu, rss)
            print(f"| {n} | {label} | {best[0]:.3f} | {best[1]:.3f} | {best[2]:.1f} |", flush=True)

print()
print("start-up (mean of 20):")
print()
one = os.path.join(work, "one.yaml")
gen(1, urls["keepalive"][0], one)
for label, path in bins:
    for what, args in (("--version", [path, "--version"]), ("1-check run", [path, "-c", one, "--env", "bench"])):
        t = time.perf_counter()
        for _ in range(20):
            subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        print(f"- {label} {what}: {(time.perf_counter() - t) / 20 * 1000:.1f} ms")
PY
