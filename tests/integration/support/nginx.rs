//! A real nginx (Debian package) on an ephemeral loopback port, with a config written per test.

use std::process::{Command, Stdio};

use super::{ChildGuard, require_bin, spawn_listening};

/// A running nginx; stopped by PID when dropped.
pub struct Nginx {
    pub port: u16,
    _guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl Nginx {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Start nginx with `locations` (the inside of a `server {}` block, after `listen`).
    pub fn start(locations: &str) -> Nginx {
        Nginx::start_listening("", locations)
    }

    /// [`Nginx::start`] serving HTTPS: `server` holds the `ssl_*` directives and locations.
    pub fn start_tls(server: &str) -> Nginx {
        Nginx::start_listening(" ssl", server)
    }

    /// [`Nginx::start_tls`] offering HTTP/2 too.
    pub fn start_tls_h2(server: &str) -> Nginx {
        Nginx::start_listening(" ssl http2", server)
    }

    /// nginx as a TLS-terminating TCP proxy (the stream module, Debian package
    /// `libnginx-mod-stream`): `server` holds the `ssl_*` directives and `proxy_pass`.
    pub fn start_stream_tls(server: &str) -> Nginx {
        let nginx = require_bin("nginx", &["/usr/sbin/nginx"], "nginx");
        let module = "/usr/lib/nginx/modules/ngx_stream_module.so";
        assert!(
            std::path::Path::new(module).is_file(),
            "{module} is required by this test: install the Debian package `libnginx-mod-stream` (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let conf_path = dir.path().join("nginx.conf");
        let (port, guard) = spawn_listening("nginx (stream)", |port| {
            let conf = format!(
                r#"load_module {module};
user root;
master_process off;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
stream {{
    server {{
        listen 127.0.0.1:{port} ssl;
        {server}
    }}
}}
"#
            );
            std::fs::write(&conf_path, conf).expect("write nginx.conf");
            let mut cmd = Command::new(&nginx);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cmd
        });
        Nginx {
            port,
            _guard: guard,
            _dir: dir,
        }
    }

    /// `listen 127.0.0.1:PORT{listen_opts};` then `locations`.
    fn start_listening(listen_opts: &str, locations: &str) -> Nginx {
        let nginx = require_bin("nginx", &["/usr/sbin/nginx"], "nginx");
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        let echo = "/usr/lib/nginx/modules/ngx_http_echo_module.so";
        let load_echo = if std::path::Path::new(echo).is_file() {
            format!("load_module {echo};")
        } else {
            String::new()
        };
        // `master_process off`: one process, the one we started, holds the socket and serves;
        // nothing is forked that could outlive the test.
        let conf_for = |port: u16| {
            format!(
                r#"{load_echo}
user root;
master_process off;
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    default_type text/plain;
    server {{
        listen 127.0.0.1:{port}{listen_opts};
        {locations}
    }}
}}
"#
            )
        };
        let conf_path = dir.path().join("nginx.conf");
        let (port, guard) = spawn_listening("nginx", |port| {
            std::fs::write(&conf_path, conf_for(port)).expect("write nginx.conf");
            let mut cmd = Command::new(&nginx);
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf_path)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit());
            cmd
        });
        Nginx {
            port,
            _guard: guard,
            _dir: dir,
        }
    }
}
