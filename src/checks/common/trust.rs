//! The `insecure` and `ca_file` keys every TLS-speaking kind reads the same way.

use crate::spec::fields::Ctx;
use crate::spec::yaml::MapReader;

/// Read `insecure` (default `false`).
pub fn insecure(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> bool {
    match r.take("insecure") {
        Some((n, p)) => ctx.boolean(n, &p).unwrap_or(false),
        None => false,
    }
}

/// Read `ca_file`: a PEM file that must hold at least one certificate (a problem otherwise).
/// `None` when the value is not a non-empty string: the caller stops parsing the check, as
/// every kind always has (outer `None`: the value could not be read; inner: the key is
/// absent).
pub fn ca_file(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<Option<String>> {
    let Some((n, p)) = r.take("ca_file") else {
        return Some(None);
    };
    let path = ctx.non_empty(n, &p)?;
    if let Err(e) = super::tls::read_pem_certs(&path) {
        ctx.problem(n, &p, e);
    }
    Some(Some(path))
}
