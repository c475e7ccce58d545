//! Keys several kinds read the same way: `insecure`, `ca_file`, `client_cert`/`client_key`
//! and `server_name` for every TLS-speaking kind, and regular expressions (`body_regex`,
//! `stdout_regex`, …).

use rustls::pki_types::ServerName;

use super::tls::{ClientIdentity, IdentityError};
use crate::reader::key_table::{Field, FieldType, field_table, opt};

use crate::reader::ctx::Ctx;
use crate::reader::yaml::MapReader;

/// Read `insecure` (default `false`).
pub fn insecure(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> bool {
    match r.take("insecure") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
        None => false,
    }
}

/// Read `ca_file`: a PEM file that must hold at least one certificate (a problem otherwise),
/// relative to the directory of the config file that names it.
/// `None` when the value is not a non-empty string: the caller stops parsing the check, as
/// every kind always has (outer `None`: the value could not be read; inner: the key is
/// absent).
pub fn ca_file(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<String>> {
    let Some((n, p)) = r.take("ca_file") else {
        return Some(None);
    };
    let path = ctx.config_path(n, &p)?;
    if let Err(e) = super::tls::read_pem_certs(&path) {
        ctx.problem(n, &p, e);
    }
    Some(Some(path))
}

/// The `warn_days` key of a kind that judges the server's certificate.
pub const WARN_DAYS_FIELD: Field = opt(
    "warn_days",
    FieldType::Integer,
    "WARN when the certificate expires within this many days.",
);
/// The `fail_days` key of a kind that judges the server's certificate.
pub const FAIL_DAYS_FIELD: Field = opt(
    "fail_days",
    FieldType::Integer,
    "FAIL when the certificate expires within this many days.",
);

/// Read a days-left threshold (`warn_days`, `fail_days`), if set: a whole number of days.
pub fn days(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Option<i64> {
    let (n, p) = r.take(key)?;
    ctx.uint(n, &p, 100_000).and_then(|v| i64::try_from(v).ok())
}

/// The `ca_file` key of a kind that speaks TLS to one server.
pub const CA_FILE_FIELD: Field = opt(
    "ca_file",
    FieldType::String,
    "PEM file of a private CA trusted in addition to the system roots.",
);
/// The `insecure` key of a kind that speaks TLS to one server.
pub const INSECURE_FIELD: Field = opt(
    "insecure",
    FieldType::Bool,
    "Skip TLS certificate verification.",
);
/// The schema fields of `client_cert` and `client_key`, declared once for every kind that
/// takes them.
pub const CLIENT_CERT_FIELD: Field = opt(
    "client_cert",
    FieldType::String,
    "PEM file of the client certificate (chain) presented when the server asks for one (mTLS); needs `client_key`.",
);
/// See [`CLIENT_CERT_FIELD`].
pub const CLIENT_KEY_FIELD: Field = opt(
    "client_key",
    FieldType::String,
    "PEM file of the private key of `client_cert` (its content is a secret).",
);

/// `client_cert` and `client_key`, in the key table of every kind that takes them.
pub const CLIENT_FIELDS: &[Field] = &[CLIENT_CERT_FIELD, CLIENT_KEY_FIELD];
/// The trust keys of a kind that speaks TLS to one server: `insecure`, `ca_file`,
/// `client_cert` and `client_key`.
pub const TLS_FIELDS: &[Field] = field_table![&[INSECURE_FIELD, CA_FILE_FIELD], CLIENT_FIELDS];
/// `warn_days` and `fail_days`.
pub const DAYS_FIELDS: &[Field] = &[WARN_DAYS_FIELD, FAIL_DAYS_FIELD];

/// Read `client_cert` and `client_key`: both or neither (a problem at the one given alone).
/// Paths are relative to the directory of the config file that names them. The pair is read,
/// parsed and matched here, once, before any check runs: an unreadable or invalid file, or a
/// key that does not belong to the certificate, is a problem at the key naming the file at
/// fault (a mismatch at `client_key`). The key file's content is added to the secrets.
/// `None`: absent, or a problem was reported.
pub fn client_identity(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<ClientIdentity> {
    let cert = r.take("client_cert");
    let key = r.take("client_key");
    match (cert, key) {
        (None, None) => None,
        (Some((n, p)), None) => {
            ctx.problem(
                n,
                &p,
                "`client_cert` needs `client_key` (the certificate's private key)",
            );
            None
        }
        (None, Some((n, p))) => {
            ctx.problem(
                n,
                &p,
                "`client_key` needs `client_cert` (the certificate it belongs to)",
            );
            None
        }
        (Some((cn, cp)), Some((kn, kp))) => {
            let cert_file = ctx.config_path(cn, &cp);
            let key_file = ctx.config_path(kn, &kp);
            let (cert_file, key_file) = (cert_file?, key_file?);
            match ClientIdentity::load(&cert_file, &key_file, ctx.secrets) {
                Ok(id) => Some(id),
                Err(IdentityError::Cert(m)) => {
                    ctx.problem(cn, &cp, m);
                    None
                }
                Err(IdentityError::Key(m)) => {
                    ctx.problem(kn, &kp, m);
                    None
                }
            }
        }
    }
}

/// The TLS server name of a check: `server_name` when given, else `host`, which must then be a
/// valid TLS server name (a problem naming `server_name` otherwise, and `None`).
pub fn server_name_or_host(
    r: &MapReader<'_>,
    ctx: &mut Ctx<'_>,
    server_name: Option<String>,
    host: &str,
) -> Option<String> {
    if let Some(s) = server_name {
        return Some(s);
    }
    if ServerName::try_from(host.to_owned()).is_err() {
        ctx.problem(
            r.node,
            &r.path,
            format!("host `{host}` is not a valid TLS server name; set `server_name`"),
        );
        return None;
    }
    Some(host.to_owned())
}

/// Read `server_name`: a valid TLS server name (a problem otherwise). Outer `None`: the value
/// could not be read and the caller stops parsing the check; inner `None`: absent or invalid.
pub fn server_name(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<String>> {
    let Some((n, p)) = r.take("server_name") else {
        return Some(None);
    };
    let s = ctx.non_empty(n, &p)?.trim().to_owned();
    if ServerName::try_from(s.clone()).is_err() {
        ctx.problem(n, &p, format!("invalid server name `{s}`"));
        return Some(None);
    }
    Some(Some(s))
}

/// Read a regular expression under `key`; an invalid one is a problem quoting the regex
/// crate's own explanation. Outer `None`: the value is not text and the caller stops parsing
/// the check; inner `None`: absent or invalid.
pub fn regex(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, key: &str) -> Option<Option<regex::Regex>> {
    let Some((n, p)) = r.take(key) else {
        return Some(None);
    };
    let s = ctx.string(n, &p)?;
    match regex::Regex::new(&s) {
        Ok(re) => Some(Some(re)),
        Err(e) => {
            let text = e.to_string();
            let last = text
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .trim_start_matches("error: ")
                .to_owned();
            ctx.problem(n, &p, format!("invalid regex: {last}"));
            Some(None)
        }
    }
}
