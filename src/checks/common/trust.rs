//! Keys several kinds read the same way: `insecure`, `ca_file` and `server_name` for every
//! TLS-speaking kind, and regular expressions (`body_regex`, `stdout_regex`, …).

use rustls::pki_types::ServerName;

use crate::spec::fields::Ctx;
use crate::spec::yaml::MapReader;

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
