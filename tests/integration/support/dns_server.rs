//! Real DNS servers on loopback high ports: bind9 (`named -g`) serving a zone file and dnsmasq
//! serving `--address`/`--txt-record` answers, plus an in-process UDP socket that never
//! answers. Readiness is a real query answered while the child itself holds the TCP listener,
//! polled (bounded); a child that exits first (its port was taken) is restarted on a fresh
//! port. Servers stop by process group when dropped.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, Query};
use hickory_resolver::proto::rr::{Name, RecordType};

use super::{ChildGuard, PORT_TRIES, free_port, pid_listens_on, require_bin, spawn_guarded};

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

/// Poll `addr` with a real SOA query for `zone` until it answers while the child holds the
/// TCP listener on the port (bounded to 30 s). `false` when the child exited first.
pub fn wait_for_dns(addr: SocketAddr, zone: &str, what: &str, child: &mut ChildGuard) -> bool {
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
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.child.try_wait() {
            return false;
        }
        let _ = sock.send_to(&query, addr);
        if let Ok((n, _)) = sock.recv_from(&mut buf)
            && Message::from_vec(&buf[..n]).is_ok_and(|m| m.id() == 4242)
            && pid_listens_on(child.child.id(), addr.port())
        {
            return true;
        }
    }
    panic!("{what} did not answer DNS queries on {addr} within 30s");
}

/// Start a DNS server built by `make(port)` on a fresh UDP+TCP port, retrying on a new port
/// (at most [`PORT_TRIES`] times) when it exits before answering.
fn start_dns(
    what: &'static str,
    ready_name: &str,
    mut make: impl FnMut(u16) -> Command,
) -> (SocketAddr, ChildGuard) {
    for _ in 0..PORT_TRIES {
        let port = free_dns_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut guard = spawn_guarded(&mut make(port), what);
        if wait_for_dns(addr, ready_name, what, &mut guard) {
            return (addr, guard);
        }
    }
    panic!("{what} exited before answering, {PORT_TRIES} times on fresh ports");
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
        let zone_file = format!(
            "$TTL 300\n@ IN SOA ns1.{zone}. hostmaster.{zone}. 2024010101 3600 600 86400 300\n@ IN NS ns1.{zone}.\nns1 IN A 127.0.0.1\n{records}\n"
        );
        std::fs::write(dir.path().join("zone.db"), zone_file).expect("write zone");
        let conf_path = dir.path().join("named.conf");
        let conf_for = |port: u16| {
            format!(
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
            )
        };
        let (addr, guard) = start_dns("named", zone, |port| {
            std::fs::write(&conf_path, conf_for(port)).expect("write named.conf");
            let mut cmd = Command::new(&named);
            cmd.arg("-g").arg("-c").arg(&conf_path);
            if running_as_root() {
                cmd.arg("-u").arg("root");
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
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
        let ready = format!("ready.{zone}");
        let (addr, guard) = start_dns("dnsmasq", &ready, |port| {
            let mut cmd = Command::new(&dnsmasq);
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
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
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
