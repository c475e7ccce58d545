//! Real DNS servers on loopback high ports: bind9 (`named -g`) serving a zone file and dnsmasq
//! serving `--address`/`--txt-record` answers, plus an in-process UDP socket that never
//! answers. Readiness is a real query, polled (bounded); servers stop by PID when dropped.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};

use super::{ChildGuard, free_port, require_bin};

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A free port for both UDP and TCP on 127.0.0.1.
pub fn free_dns_port() -> u16 {
    for _ in 0..50 {
        let p = free_port();
        if UdpSocket::bind(("127.0.0.1", p)).is_ok() {
            return p;
        }
    }
    panic!("no free UDP+TCP port on 127.0.0.1");
}

/// Poll `addr` with a real SOA query for `zone` until it answers (bounded to 20 s).
pub fn wait_for_dns(addr: SocketAddr, zone: &str, what: &str, child: &mut ChildGuard) {
    let name = Name::from_ascii(zone).expect("zone name");
    let mut msg = Message::new();
    msg.set_id(4242)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(name, RecordType::SOA));
    let query = msg.to_vec().expect("encode query");
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.child.try_wait() {
            panic!("{what} exited early with {status}");
        }
        let _ = sock.send_to(&query, addr);
        if let Ok((n, _)) = sock.recv_from(&mut buf)
            && Message::from_vec(&buf[..n]).is_ok_and(|m| m.id() == 4242)
        {
            return;
        }
    }
    panic!("{what} did not answer DNS queries on {addr} within 20s");
}

/// bind9 serving `zone` from `records` (zone-file lines after the SOA), authoritative only.
pub struct Bind {
    pub addr: SocketAddr,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Bind {
    pub fn start(zone: &str, records: &str) -> Bind {
        let named = require_bin("named", &["/usr/sbin/named"], "bind9");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let port = free_dns_port();
        let zone_file = format!(
            "$TTL 300\n@ IN SOA ns1.{zone}. hostmaster.{zone}. 2024010101 3600 600 86400 300\n@ IN NS ns1.{zone}.\nns1 IN A 127.0.0.1\n{records}\n"
        );
        std::fs::write(dir.path().join("zone.db"), zone_file).expect("write zone");
        let conf = format!(
            r#"options {{
  directory "{d}";
  pid-file "{d}/named.pid";
  listen-on port {port} {{ 127.0.0.1; }};
  listen-on-v6 {{ none; }};
  recursion no;
  dnssec-validation no;
  session-keyfile "{d}/session.key";
  managed-keys-directory "{d}";
}};
controls {{ }};
zone "{zone}" {{ type primary; file "{d}/zone.db"; }};
"#
        );
        let conf_path = dir.path().join("named.conf");
        std::fs::write(&conf_path, conf).expect("write named.conf");
        let mut cmd = Command::new(named);
        cmd.arg("-g").arg("-c").arg(&conf_path);
        if running_as_root() {
            cmd.arg("-u").arg("root");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start named");
        let mut guard = ChildGuard {
            child,
            name: "named",
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        wait_for_dns(addr, zone, "named", &mut guard);
        Bind {
            addr,
            _guard: guard,
            _dir: dir,
        }
    }
}

/// dnsmasq with no upstream, answering from its command-line records only.
pub struct Dnsmasq {
    pub addr: SocketAddr,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Dnsmasq {
    /// `records` are dnsmasq options such as `--address=/www.example.test/10.0.0.9`.
    pub fn start(zone: &str, records: &[&str]) -> Dnsmasq {
        let dnsmasq = require_bin("dnsmasq", &["/usr/sbin/dnsmasq"], "dnsmasq-base");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_dns_port();
        let mut cmd = Command::new(dnsmasq);
        cmd.arg("--keep-in-foreground")
            .arg(format!("--port={port}"))
            .arg("--listen-address=127.0.0.1")
            .arg("--bind-interfaces")
            .arg("--no-resolv")
            .arg("--no-hosts")
            .arg(format!(
                "--pid-file={}",
                dir.path().join("dnsmasq.pid").display()
            ))
            .arg(format!("--txt-record=ready.{zone},ready"))
            .args(records);
        if running_as_root() {
            cmd.arg("--user=root");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        let mut guard = ChildGuard {
            child,
            name: "dnsmasq",
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        wait_for_dns(addr, &format!("ready.{zone}"), "dnsmasq", &mut guard);
        Dnsmasq {
            addr,
            _guard: guard,
            _dir: dir,
        }
    }
}

/// A bound UDP socket that reads nothing and never answers.
pub struct SilentResolver {
    pub addr: SocketAddr,
    _sock: UdpSocket,
}

impl SilentResolver {
    pub fn start() -> SilentResolver {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind udp");
        SilentResolver {
            addr: sock.local_addr().expect("addr"),
            _sock: sock,
        }
    }
}
