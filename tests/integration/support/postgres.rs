//! A real PostgreSQL (Debian package `postgresql`) in a temp dir on an ephemeral loopback
//! port, with password (SCRAM) authentication. PostgreSQL refuses to run as root, so initdb
//! and the server run as the `postgres` user (set on the process itself, so the PID we stop
//! is the postmaster's, and its backends share its process group).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{ChildGuard, spawn_listening};

/// Password of the `postgres` superuser in the test cluster.
pub const SUPERUSER_PASSWORD: &str = "pg-super-sentinel-0006";

/// A running PostgreSQL; shut down by PID (fast shutdown), then its process group is killed,
/// when dropped.
pub struct Postgres {
    pub port: u16,
    guard: ChildGuard,
    _dir: tempfile::TempDir,
}

/// uid and gid of a system user, from `id`.
pub fn user_ids(user: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id")
            .args([flag, user])
            .output()
            .expect("run id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("system user `{user}` is missing (install its package)"))
    };
    (id("-u"), id("-g"))
}

fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    for v in versions.iter().rev() {
        let p = v.join("bin").join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{name}` is required by this test: install the Debian package `postgresql` (scripts/test.sh does)"
    );
}

impl Postgres {
    /// initdb, start, and create the role `app` (password `app_password`) owning database
    /// `app`, then run `setup_sql` in `app` as `app`.
    pub fn start(app_password: &str, setup_sql: &str) -> Postgres {
        Self::start_with(app_password, setup_sql, &[])
    }

    /// [`Postgres::start`] with more server settings, each passed as `-c NAME=VALUE`.
    pub fn start_with(app_password: &str, setup_sql: &str, settings: &[String]) -> Postgres {
        let initdb = pg_bin("initdb");
        let postgres = pg_bin("postgres");
        let (uid, gid) = user_ids("postgres");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).expect("write pwfile");
        std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).expect("chown");
        let out = Command::new(&initdb)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--auth=scram-sha-256",
                "--no-sync",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .current_dir(dir.path())
            .uid(uid)
            .gid(gid)
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (port, guard) = spawn_listening("postgres", |port| {
            let mut cmd = Command::new(&postgres);
            cmd.arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.path().display()))
                .args(["-c", "fsync=off", "-c", "shared_buffers=16MB"])
                .args(settings.iter().flat_map(|s| ["-c", s.as_str()]))
                .current_dir(dir.path())
                .uid(uid)
                .gid(gid)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
        let pg = Postgres {
            port,
            guard,
            _dir: dir,
        };
        pg.psql(
            "postgres",
            SUPERUSER_PASSWORD,
            "postgres",
            &format!("CREATE ROLE app LOGIN PASSWORD '{app_password}'"),
        );
        pg.psql(
            "postgres",
            SUPERUSER_PASSWORD,
            "postgres",
            "CREATE DATABASE app OWNER app",
        );
        if !setup_sql.is_empty() {
            pg.psql("app", app_password, "app", setup_sql);
        }
        pg
    }

    /// Run SQL with psql over TCP; panics on error. Retries while the server still starts up.
    pub fn psql(&self, user: &str, password: &str, db: &str, sql: &str) {
        let psql = pg_bin("psql");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new(&psql)
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    user,
                    "-d",
                    db,
                ])
                .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
                .env("PGPASSWORD", password)
                .output()
                .expect("run psql");
            if out.status.success() {
                return;
            }
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            if !err.contains("starting up") || Instant::now() > deadline {
                panic!("psql failed: {err}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT is PostgreSQL's fast shutdown: backends end, shared memory is released. The
        // guard's drop then kills whatever is left of the process group.
        self.guard
            .stop_gracefully(nix::sys::signal::Signal::SIGINT, Duration::from_secs(10));
    }
}
