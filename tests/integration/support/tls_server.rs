//! Certificates generated at test time (rcgen) and served by a real `openssl s_server` on an
//! ephemeral loopback port, stopped by PID when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

use super::{ChildGuard, require_bin, spawn_listening};

/// Who signs a leaf.
#[derive(Clone, Copy, Debug)]
pub enum Signer {
    /// The private CA whose PEM is [`Pki::ca_file`].
    Ca,
    /// Another CA that nothing trusts.
    OtherCa,
    /// The leaf's own key.
    SelfSigned,
}

/// A private CA and another, untrusted CA, in a temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: (CertificateParams, KeyPair),
    other: (CertificateParams, KeyPair),
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, cn);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.not_before = OffsetDateTime::now_utc() - Duration::days(365);
    p.not_after = OffsetDateTime::now_utc() + Duration::days(3650);
    p
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate().expect("key");
        let ca = ca_params("infracheck test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).expect("write ca");
        let other_key = KeyPair::generate().expect("key");
        let other = ca_params("some other CA");
        let other_cert = other.self_signed(&other_key).expect("other cert");
        std::fs::write(dir.path().join("other-ca.pem"), other_cert.pem()).expect("write ca");
        Pki {
            dir,
            ca: (ca, ca_key),
            other: (other, other_key),
        }
    }

    /// The private CA's PEM, for `ca_file`.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Write a leaf certificate and key named `name`; returns (cert, key) paths.
    /// `names` become SANs (IP literals become IP SANs).
    pub fn leaf(
        &self,
        name: &str,
        names: &[&str],
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        signer: Signer,
    ) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("key");
        let mut p =
            CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                .expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, name);
        p.not_before = not_before;
        p.not_after = not_after;
        let cert = match signer {
            Signer::Ca => p
                .signed_by(&key, &Issuer::from_params(&self.ca.0, &self.ca.1))
                .expect("sign"),
            Signer::OtherCa => p
                .signed_by(&key, &Issuer::from_params(&self.other.0, &self.other.1))
                .expect("sign"),
            Signer::SelfSigned => p.self_signed(&key).expect("self-sign"),
        };
        let cert_path = self.dir.path().join(format!("{name}.pem"));
        let key_path = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_path, cert.pem()).expect("write cert");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        (cert_path, key_path)
    }

    /// A leaf from the private CA for `app.test` and 127.0.0.1 expiring in `days` (+1 hour so
    /// the whole-day count is stable during the test).
    pub fn leaf_days(&self, name: &str, days: i64) -> (PathBuf, PathBuf) {
        let now = OffsetDateTime::now_utc();
        self.leaf(
            name,
            &["app.test", "127.0.0.1"],
            now - Duration::days(30),
            now + Duration::days(days) + Duration::hours(1),
            Signer::Ca,
        )
    }
}

/// A running `openssl s_server -www`.
pub struct TlsServer {
    pub port: u16,
    _guard: ChildGuard,
}

impl TlsServer {
    /// Serve `cert`/`key` (plus `chain`, when given); `extra` adds s_server flags (`-tls1_2`).
    pub fn start(cert: &Path, key: &Path, chain: Option<&Path>, extra: &[&str]) -> TlsServer {
        let openssl = require_bin("openssl", &["/usr/bin/openssl"], "openssl");
        let (port, guard) = spawn_listening("openssl s_server", |port| {
            let mut cmd = Command::new(&openssl);
            cmd.arg("s_server")
                .arg("-accept")
                .arg(format!("127.0.0.1:{port}"))
                .arg("-cert")
                .arg(cert)
                .arg("-key")
                .arg(key)
                .arg("-www")
                .arg("-quiet")
                .args(extra);
            if let Some(c) = chain {
                cmd.arg("-cert_chain").arg(c);
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        });
        TlsServer {
            port,
            _guard: guard,
        }
    }
}
