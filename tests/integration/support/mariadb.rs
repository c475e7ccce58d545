//! A real MariaDB (Debian package `mariadb-server`) in a temp dir on an ephemeral loopback
//! port. mariadbd refuses to run as root, so it is started with `--user=mysql` (it drops
//! privileges itself, keeping its PID); users with passwords are created over its socket.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::postgres::user_ids;
use super::{ChildGuard, require_bin, spawn_listening};

/// A running MariaDB; shut down by PID (SIGTERM), then its process group is killed, when
/// dropped.
pub struct MariaDb {
    pub port: u16,
    socket: PathBuf,
    guard: ChildGuard,
    _dir: tempfile::TempDir,
}

impl MariaDb {
    /// Install a data dir, start the server and create user `app`@`%` (password
    /// `app_password`) owning database `app`; then run `setup_sql` in `app` as root.
    pub fn start(app_password: &str, setup_sql: &str) -> MariaDb {
        Self::start_with(app_password, setup_sql, &[])
    }

    /// [`MariaDb::start`] with extra server options (`--ssl-cert=…`).
    pub fn start_with(app_password: &str, setup_sql: &str, extra: &[String]) -> MariaDb {
        let install = require_bin(
            "mariadb-install-db",
            &["/usr/bin/mariadb-install-db"],
            "mariadb-server",
        );
        let server = require_bin("mariadbd", &["/usr/sbin/mariadbd"], "mariadb-server");
        let (uid, gid) = user_ids("mysql");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        let data = dir.path().join("data");
        // A temp dir of its own: the bootstrap's temporary tables are named from the server id
        // and process id, and two installs sharing /tmp have removed each other's files.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("mkdir tmp");
        std::os::unix::fs::chown(&tmp, Some(uid), Some(gid)).expect("chown tmp");
        let out = Command::new(&install)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--user=mysql",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
            ])
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let socket = dir.path().join("mysqld.sock");
        let (port, guard) = spawn_listening("mariadbd", |port| {
            let mut cmd = Command::new(&server);
            cmd.arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .arg(format!(
                    "--pid-file={}",
                    dir.path().join("mysqld.pid").display()
                ))
                .arg(format!("--port={port}"))
                .args([
                    "--bind-address=127.0.0.1",
                    "--user=mysql",
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=8M",
                ])
                .args(extra)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
        let db = MariaDb {
            port,
            socket,
            guard,
            _dir: dir,
        };
        db.sql(&format!(
            "CREATE DATABASE app; CREATE USER 'app'@'%' IDENTIFIED BY '{app_password}'; \
             GRANT ALL ON app.* TO 'app'@'%'; FLUSH PRIVILEGES;"
        ));
        if !setup_sql.is_empty() {
            db.sql(&format!("USE app; {setup_sql}"));
        }
        db
    }

    /// Run SQL as root over the socket; panics on error.
    pub fn sql(&self, sql: &str) {
        let client = require_bin("mariadb", &["/usr/bin/mariadb"], "mariadb-client");
        let out = Command::new(client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-u", "root", "-e", sql])
            .output()
            .expect("run mariadb");
        assert!(
            out.status.success(),
            "mariadb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.guard
            .stop_gracefully(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(15));
    }
}
