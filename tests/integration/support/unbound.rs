//! A real `unbound` (Debian package `unbound`) on loopback high ports answering plain DNS, DNS
//! over TLS (`tls-port`) and DNS over HTTPS (`https-port`, `/dns-query`) from a `local-zone`,
//! with a certificate from the test [`Pki`](super::tls_server::Pki). It never queries anything
//! else (every other name is refused). Readiness is a real query on the plain port plus the
//! encrypted ports accepting connections (bounded); stopped by PID when dropped.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use super::dns_server::{free_dns_port, wait_for_dns};
use super::{ChildGuard, free_port, require_bin, wait_for_port};

/// A running unbound.
pub struct Unbound {
    /// Plain DNS (UDP and TCP).
    pub plain: SocketAddr,
    /// DNS over TLS.
    pub tls_port: u16,
    /// DNS over HTTPS (path `/dns-query`).
    pub https_port: u16,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Unbound {
    /// Serve `local_data` (zone-file lines such as `www.dns.test. 300 IN A 192.0.2.10`) in the
    /// static zone `zone`, with `cert`/`key` on the encrypted ports.
    pub fn start(zone: &str, local_data: &[&str], cert: &Path, key: &Path) -> Unbound {
        let unbound = require_bin("unbound", &["/usr/sbin/unbound"], "unbound");
        // A port picked free can be taken before unbound binds it: a few fresh tries, bounded.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start(&unbound, zone, local_data, cert, key) {
                Ok(u) => return u,
                Err(e) => last = e,
            }
        }
        panic!("unbound did not start: {last}");
    }

    fn try_start(
        unbound: &Path,
        zone: &str,
        local_data: &[&str],
        cert: &Path,
        key: &Path,
    ) -> Result<Unbound, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let plain = free_dns_port();
        let tls_port = free_port();
        let https_port = free_port();
        let data: String = local_data
            .iter()
            .map(|l| format!("  local-data: \"{l}\"\n"))
            .collect();
        let conf = format!(
            r#"server:
  verbosity: 1
  interface: 127.0.0.1@{plain}
  interface: 127.0.0.1@{tls_port}
  interface: 127.0.0.1@{https_port}
  port: {plain}
  tls-port: {tls_port}
  https-port: {https_port}
  http-endpoint: "/dns-query"
  tls-service-key: "{key}"
  tls-service-pem: "{cert}"
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  use-syslog: no
  logfile: "{d}/unbound.log"
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: yes
  local-zone: "." refuse
  local-zone: "{zone}." static
{data}remote-control:
  control-enable: no
"#,
            key = key.display(),
            cert = cert.display(),
        );
        let conf_path = dir.path().join("unbound.conf");
        std::fs::write(&conf_path, conf).expect("write unbound.conf");
        let child = Command::new(unbound)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start unbound");
        let mut guard = ChildGuard {
            child,
            name: "unbound",
        };
        let addr: SocketAddr = format!("127.0.0.1:{plain}").parse().expect("addr");
        // An early exit (a port taken meanwhile) is retried by the caller.
        let ready = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for_dns(addr, zone, "unbound", &mut guard)
        }));
        if !matches!(ready, Ok(true)) {
            let log = std::fs::read_to_string(dir.path().join("unbound.log")).unwrap_or_default();
            return Err(format!("not answering on {addr}: {log}"));
        }
        for port in [tls_port, https_port] {
            let a: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            wait_for_port(a, "unbound (encrypted port)");
        }
        Ok(Unbound {
            plain: addr,
            tls_port,
            https_port,
            _guard: guard,
            _dir: dir,
        })
    }
}
