//! A real redis-server (Debian package `redis-server`) on an ephemeral loopback port, no
//! persistence, optionally password-protected or replicating another one.

use std::process::{Command, Stdio};

use super::{ChildGuard, require_bin, spawn_listening};

/// A running redis-server; stopped by PID when dropped.
pub struct Redis {
    pub port: u16,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// Start a server; `extra` are more `--option value` arguments.
    pub fn start(extra: &[&str]) -> Redis {
        let bin = require_bin("redis-server", &["/usr/bin/redis-server"], "redis-server");
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, guard) = spawn_listening("redis-server", |port| {
            let mut cmd = Command::new(&bin);
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cmd
        });
        Redis {
            port,
            _guard: guard,
            _dir: dir,
        }
    }

    /// Start a server speaking TLS only (`rediss://`) with `cert`/`key`; client certificates
    /// issued by `ca` are required when `auth_clients` (`tls-auth-clients yes`).
    pub fn start_tls(
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &std::path::Path,
        auth_clients: bool,
    ) -> Redis {
        let bin = require_bin("redis-server", &["/usr/bin/redis-server"], "redis-server");
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, guard) = spawn_listening("redis-server (TLS)", |port| {
            let mut cmd = Command::new(&bin);
            cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--bind", "127.0.0.1"])
                .arg("--tls-cert-file")
                .arg(cert)
                .arg("--tls-key-file")
                .arg(key)
                .arg("--tls-ca-cert-file")
                .arg(ca)
                .args([
                    "--tls-auth-clients",
                    if auth_clients { "yes" } else { "no" },
                ])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cmd
        });
        Redis {
            port,
            _guard: guard,
            _dir: dir,
        }
    }

    /// Run redis-cli against this server (for test setup).
    pub fn cli(&self, args: &[&str]) -> String {
        let cli = require_bin("redis-cli", &["/usr/bin/redis-cli"], "redis-tools");
        let out = Command::new(cli)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
