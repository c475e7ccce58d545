//! `dns_checks` against real bind9 and dnsmasq servers on loopback high ports (never the
//! system resolver): every record type, rcodes, TTL bounds, TCP fallback, propagation across
//! disagreeing resolvers with a `min_agree` quorum, and a resolver that never answers.

use std::time::{Duration, Instant};

use infracheck::config::DEFAULT_TIMEOUT;

use crate::support::dns_server::{Bind, Dnsmasq, SilentResolver};
use crate::support::{TIMEOUT_SLACK_MS, Workspace};
use crate::tcp::{by, results};

const ZONE: &str = "example.test";

fn bind() -> Bind {
    let mut records = String::from(
        r#"www IN A 10.0.0.1
www IN A 10.0.0.2
v6 IN AAAA 2001:db8::1
alias IN CNAME www.example.test.
@ IN MX 10 mail.example.test.
@ IN MX 20 backup.example.test.
@ IN TXT "v=spf1 -all"
@ IN CAA 0 issue "letsencrypt.org"
_sip._tcp IN SRV 0 5 5060 sip.example.test.
shortttl 30 IN A 10.0.0.3
new IN A 10.0.0.7
same IN A 10.0.0.5
"#,
    );
    // More than 512 bytes of TXT: the UDP answer is truncated and the check retries over TCP.
    for i in 0..12 {
        records.push_str(&format!(
            "big IN TXT \"record {i:02} {}\"\n",
            "x".repeat(90)
        ));
    }
    Bind::start(ZONE, &records)
}

#[test]
fn record_types_rcodes_ttl_and_tcp_fallback() {
    let b = bind();
    let r = b.addr;
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    defaults: {{timeout: 5s}}
    dns_checks:
      - {{name: a, query_name: www.example.test, resolvers: ["{r}"], expected: [10.0.0.2, 10.0.0.1]}}
      - {{name: a-contains, query_name: www.example.test, resolvers: ["{r}"], expected: [10.0.0.1], match: contains}}
      - {{name: a-any, query_name: www.example.test, query_type: a, resolvers: ["{r}"]}}
      - {{name: a-mismatch, query_name: www.example.test, resolvers: ["{r}"], expected: [10.0.0.1]}}
      - {{name: aaaa, query_name: v6.example.test, query_type: AAAA, resolvers: ["{r}"], expected: ["2001:db8:0::1"]}}
      - {{name: aaaa-none, query_name: www.example.test, query_type: AAAA, resolvers: ["{r}"], expected: []}}
      - {{name: cname, query_name: alias.example.test, query_type: CNAME, resolvers: ["{r}"], expected: [www.example.test.]}}
      - {{name: mx, query_name: example.test, query_type: MX, resolvers: ["{r}"], expected: ["10 mail.example.test", "20 backup.example.test."]}}
      - {{name: txt, query_name: example.test, query_type: TXT, resolvers: ["{r}"], expected: ["v=spf1 -all"]}}
      - {{name: ns, query_name: example.test, query_type: NS, resolvers: ["{r}"], expected: [ns1.example.test]}}
      - {{name: soa, query_name: example.test, query_type: SOA, resolvers: ["{r}"], expected: ["ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 300"]}}
      - {{name: caa, query_name: example.test, query_type: CAA, resolvers: ["{r}"], expected: ['0 issue "letsencrypt.org"']}}
      - {{name: srv, query_name: _sip._tcp.example.test, query_type: SRV, resolvers: ["{r}"], expected: ["0 5 5060 sip.example.test"]}}
      - {{name: nxdomain, query_name: nope.example.test, resolvers: ["{r}"]}}
      - {{name: must-not-exist, query_name: nope.example.test, resolvers: ["{r}"], expect_rcode: NXDOMAIN}}
      - {{name: exists-but-should-not, query_name: www.example.test, resolvers: ["{r}"], expect_rcode: NXDOMAIN}}
      - {{name: refused, query_name: www.elsewhere.test, resolvers: ["{r}"]}}
      - {{name: refused-expected, query_name: www.elsewhere.test, resolvers: ["{r}"], expect_rcode: refused}}
      - {{name: ttl-low, query_name: shortttl.example.test, resolvers: ["{r}"], min_ttl: 60}}
      - {{name: ttl-high, query_name: www.example.test, resolvers: ["{r}"], max_ttl: 60}}
      - {{name: ttl-ok, query_name: www.example.test, resolvers: ["{r}"], min_ttl: 60, max_ttl: 3600}}
      - {{name: big-txt, query_name: big.example.test, query_type: TXT, resolvers: ["{r}"]}}
"#
        ),
    );
    let (code, rs) = results(&ws);
    assert_eq!(code, 1);
    for ok in [
        "a",
        "a-contains",
        "a-any",
        "aaaa",
        "aaaa-none",
        "cname",
        "mx",
        "txt",
        "ns",
        "soa",
        "caa",
        "srv",
        "must-not-exist",
        "refused-expected",
        "ttl-ok",
        "big-txt",
    ] {
        assert_eq!(by(&rs, ok)["status"], "PASS", "{}", by(&rs, ok));
    }
    let a = by(&rs, "a");
    assert_eq!(
        a["metadata"]["answer"],
        serde_json::json!(["10.0.0.1", "10.0.0.2"])
    );
    assert_eq!(a["metadata"]["ttl"], 300);
    assert_eq!(a["metadata"]["rcode"], "NOERROR");
    assert_eq!(
        a["metadata"]["resolvers"][r.to_string()]["transport"],
        "udp"
    );
    assert_eq!(
        by(&rs, "big-txt")["metadata"]["resolvers"][r.to_string()]["transport"],
        "tcp"
    );
    assert_eq!(
        by(&rs, "big-txt")["metadata"]["answer"]
            .as_array()
            .map(Vec::len),
        Some(12)
    );

    let fail = |name: &str, reason: &str| {
        let x = by(&rs, name);
        assert_eq!(x["status"], "FAIL", "{name}: {x}");
        assert_eq!(x["reason"], reason, "{name}: {x}");
        x["message"].as_str().unwrap_or("").to_owned()
    };
    let m = fail("a-mismatch", "dns.mismatch");
    assert!(
        m.contains("10.0.0.2") && m.contains("expected [10.0.0.1]"),
        "{m}"
    );
    let m = fail("nxdomain", "dns.nxdomain");
    assert!(m.contains("NXDOMAIN"), "{m}");
    fail("exists-but-should-not", "dns.rcode");
    let m = fail("refused", "dns.rcode");
    assert!(m.contains("REFUSED"), "{m}");
    let m = fail("ttl-low", "dns.ttl");
    assert!(m.contains("30") && m.contains("min_ttl 60"), "{m}");
    fail("ttl-high", "dns.ttl");
}

#[test]
fn propagation_across_disagreeing_resolvers_and_quorum() {
    let a = bind();
    // An old answer still served by one resolver, the new one by another.
    let old = Dnsmasq::start(
        ZONE,
        &[
            "--address=/new.example.test/10.0.0.6",
            "--host-record=same.example.test,10.0.0.5",
        ],
    );
    let fresh = Dnsmasq::start(
        ZONE,
        &[
            "--address=/new.example.test/10.0.0.7",
            "--host-record=same.example.test,10.0.0.5",
        ],
    );
    let silent = SilentResolver::start();
    let (a, o, f, s) = (a.addr, old.addr, fresh.addr, silent.addr);
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    dns_checks:
      - {{name: agree, query_name: same.example.test, resolvers: ["{a}", "{o}", "{f}"]}}
      - {{name: agree-expected, query_name: new.example.test, resolvers: ["{a}", "{f}"], expected: [10.0.0.7]}}
      - {{name: partial, query_name: new.example.test, resolvers: ["{a}", "{o}", "{f}"], expected: [10.0.0.7]}}
      - {{name: partial-quorum, query_name: new.example.test, resolvers: ["{a}", "{o}", "{f}"], expected: [10.0.0.7], min_agree: 2}}
      - {{name: partial-all, query_name: new.example.test, resolvers: ["{a}", "{o}", "{f}"], expected: [10.0.0.7], min_agree: 3}}
      - {{name: no-expected, query_name: new.example.test, resolvers: ["{a}", "{o}", "{f}"]}}
      - {{name: silent-quorum, query_name: new.example.test, resolvers: ["{a}", "{s}"], expected: [10.0.0.7], min_agree: 1, timeout: 2s}}
      - {{name: silent, query_name: new.example.test, resolvers: ["{s}"], timeout: 2s}}
"#
        ),
    );
    let started = Instant::now();
    let (code, rs) = results(&ws);
    // Every silent resolver is given up on within its check's 2 s timeout (checks run
    // concurrently). A run that fell back to the 10 s default timeout (or hung) takes at least
    // that long; the 2 s timeouts leave 8 s for a loaded machine to start and finish the run.
    assert!(started.elapsed() < DEFAULT_TIMEOUT);
    assert_eq!(code, 1);

    let agree = by(&rs, "agree");
    assert_eq!(agree["status"], "PASS", "{agree}");
    assert_eq!(agree["metadata"]["agree"], 3);
    assert_eq!(by(&rs, "agree-expected")["status"], "PASS");

    let p = by(&rs, "partial");
    assert_eq!(p["status"], "FAIL", "{p}");
    assert_eq!(p["reason"], "dns.propagation", "{p}");
    let msg = p["message"].as_str().unwrap_or("");
    assert!(msg.contains(&format!("{o} answered [10.0.0.6]")), "{msg}");
    assert!(msg.contains("2/3"), "{msg}");
    assert!(
        !msg.contains(&a.to_string()),
        "agreeing resolvers are not named: {msg}"
    );
    let per = &p["metadata"]["resolvers"];
    assert_eq!(
        per[o.to_string()]["answer"],
        serde_json::json!(["10.0.0.6"])
    );
    assert_eq!(per[o.to_string()]["agrees"], false);
    assert_eq!(per[f.to_string()]["agrees"], true);

    let q = by(&rs, "partial-quorum");
    assert_eq!(q["status"], "WARN", "{q}");
    assert_eq!(q["reason"], "dns.propagation", "{q}");
    assert!(q["message"].as_str().unwrap_or("").contains(&o.to_string()));
    assert_eq!(by(&rs, "partial-all")["status"], "FAIL");

    let n = by(&rs, "no-expected");
    assert_eq!(n["status"], "FAIL", "{n}");
    assert_eq!(n["reason"], "dns.propagation", "{n}");
    assert!(
        n["message"].as_str().unwrap_or("").contains("10.0.0.6"),
        "{n}"
    );

    let sq = by(&rs, "silent-quorum");
    assert_eq!(sq["status"], "WARN", "{sq}");
    assert!(
        sq["message"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("{s} did not answer")),
        "{sq}"
    );
    assert_eq!(
        sq["metadata"]["resolvers"][s.to_string()]["error"],
        "timeout"
    );

    let si = by(&rs, "silent");
    assert_eq!(si["status"], "FAIL", "{si}");
    assert_eq!(si["reason"], "dns.timeout", "{si}");
    assert!(
        si["duration_ms"].as_u64().unwrap_or(u64::MAX) < 2000 + TIMEOUT_SLACK_MS,
        "{si}"
    );
}

/// An in-process UDP DNS server that answers every `A` query with 192.0.2.1 and records, per
/// query name, the RD (recursion desired) bit of each query. Stops when dropped (and after 60
/// s at the latest).
struct RdRecorder {
    addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl RdRecorder {
    fn start() -> RdRecorder {
        use hickory_resolver::proto::op::{Message, MessageType};
        use hickory_resolver::proto::rr::{RData, Record, rdata::A};
        use std::sync::atomic::Ordering;
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("read timeout");
        let addr = sock.local_addr().expect("addr");
        let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>> = std::sync::Arc::default();
        let stop = std::sync::Arc::<std::sync::atomic::AtomicBool>::default();
        let (seen2, stop2) = (std::sync::Arc::clone(&seen), std::sync::Arc::clone(&stop));
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(60);
            let mut buf = [0u8; 4096];
            while !stop2.load(Ordering::Relaxed) && Instant::now() < end {
                let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries().first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii().to_ascii_lowercase();
                seen2.lock().unwrap().push((name, q.recursion_desired()));
                let mut answer = Message::new();
                answer
                    .set_id(q.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(q.op_code())
                    .set_recursion_desired(q.recursion_desired())
                    .set_authoritative(true)
                    .add_query(query.clone())
                    .add_answer(Record::from_rdata(
                        query.name().clone(),
                        60,
                        RData::A(A::new(192, 0, 2, 1)),
                    ));
                if let Ok(bytes) = answer.to_vec() {
                    let _ = sock.send_to(&bytes, peer);
                }
            }
        });
        RdRecorder { addr, seen, stop }
    }

    /// The RD bits of the queries for `name` (absolute, lower case).
    fn rd_of(&self, name: &str) -> Vec<bool> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, rd)| *rd)
            .collect()
    }
}

impl Drop for RdRecorder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn recursion_desired_false_clears_the_rd_bit() {
    let srv = RdRecorder::start();
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        &format!(
            r#"environments:
  t:
    dns_checks:
      - {{name: rd-off, query_name: rd-off.example.test, resolvers: ["{a}"], recursion_desired: false, expected: [192.0.2.1]}}
      - {{name: rd-on, query_name: rd-on.example.test, resolvers: ["{a}"], expected: [192.0.2.1]}}
"#,
            a = srv.addr
        ),
    );
    let (c, rs) = results(&ws);
    assert_eq!(c, 0, "{rs:#?}");
    assert_eq!(by(&rs, "rd-off")["status"], "PASS");
    assert_eq!(by(&rs, "rd-on")["status"], "PASS");
    let off = srv.rd_of("rd-off.example.test.");
    let on = srv.rd_of("rd-on.example.test.");
    assert!(
        !off.is_empty() && off.iter().all(|rd| !rd),
        "RD set: {off:?}"
    );
    assert!(
        !on.is_empty() && on.iter().all(|rd| *rd),
        "RD clear by default: {on:?}"
    );
}

/// Without `resolvers`, a dns check asks the system resolver (`/etc/resolv.conf`). Made
/// hermetic: infracheck runs in its own network and mount namespaces (`unshare -n -m`, root),
/// where a private `/etc/resolv.conf` is bind-mounted over the real one and dnsmasq answers on
/// that namespace's own 127.0.0.1:53. The host's resolver and file are never touched.
#[test]
fn the_system_resolver_is_used_without_resolvers() {
    let ws = Workspace::new();
    ws.write(
        "resolv.conf",
        "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n",
    );
    ws.write(
        "infracheck.yaml",
        "environments:\n  t:\n    dns_checks:\n      \
         - {name: sys, query_name: www.sys.test, expected: [192.0.2.77]}\n      \
         - {name: sys-missing, query_name: nothing.sys.test, expect_rcode: NXDOMAIN}\n",
    );
    // dnsmasq daemonizes only once its sockets are bound: when it returns, it answers.
    let script = r#"set -eu
bin="$1"; shift
ip link set lo up
mount --bind "$PWD/resolv.conf" /etc/resolv.conf
dnsmasq --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
  --address=/www.sys.test/192.0.2.77 --address=/nothing.sys.test/ --user=root \
  --pid-file="$PWD/dnsmasq.pid"
stop() {
  p=$(cat "$PWD/dnsmasq.pid")
  kill "$p" 2>/dev/null || true
  # Bounded: until the daemon is gone (or a zombie its reaper will collect).
  for _ in $(seq 1 200); do
    if [ ! -e "/proc/$p" ] || grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
      echo stopped >"$PWD/dnsmasq.state"
      return 0
    fi
    sleep 0.05
  done
  echo "still running: $p" >"$PWD/dnsmasq.state"
}
trap stop EXIT
"$bin" "$@"
"#;
    let unshare = crate::support::require_bin("unshare", &["/usr/bin/unshare"], "util-linux");
    let wrapper: Vec<&std::ffi::OsStr> = vec![
        unshare.as_os_str(),
        "-n".as_ref(),
        "-m".as_ref(),
        "sh".as_ref(),
        "-c".as_ref(),
        script.as_ref(),
        "sh".as_ref(),
    ];
    let out = crate::support::infracheck_command_via(ws.path(), &wrapper)
        .args(["--env", "t", "--json", "r.json"])
        .output()
        .expect("run infracheck under unshare");
    let err = crate::support::stderr(&out);
    assert!(
        !err.starts_with("unshare:"),
        "`unshare -n -m` failed (it needs root): {err}"
    );
    assert_eq!(crate::support::code(&out), 0, "{err}");
    let doc = crate::support::json(&ws.path().join("r.json"));
    let r = crate::support::result(&doc, "sys");
    assert_eq!(r["status"], "PASS", "{r}");
    assert_eq!(
        crate::support::result(&doc, "sys-missing")["status"],
        "PASS"
    );
    // The dnsmasq of the namespace is gone with it.
    assert_eq!(
        crate::support::read(&ws.path().join("dnsmasq.state")).trim(),
        "stopped"
    );
}
