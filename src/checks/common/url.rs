//! Connection URLs that carry passwords (databases, Redis): parsed with the password pushed to
//! the secrets first, printed without it.

use crate::reader::ctx::Ctx;

/// Parse a connection URL with one of `schemes`, push its password (raw and percent-decoded)
/// to the secrets and return it with its printable, password-free form.
pub fn secret_url(
    ctx: &mut Ctx<'_>,
    node: &crate::reader::yaml::Node,
    path: &str,
    schemes: &[&str],
) -> Option<(url::Url, String)> {
    let raw = ctx.non_empty(node, path)?;
    let parsed = url::Url::parse(&raw);
    // Whatever happens next, the password part must never be printed: push it before any
    // problem message can echo the URL.
    if let Some(pw) = raw
        .split_once("://")
        .and_then(|(_, rest)| rest.split('@').next().filter(|_| rest.contains('@')))
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, pw)| pw)
        .filter(|pw| !pw.is_empty())
    {
        ctx.secrets.push(pw.to_owned());
        ctx.secrets.push(percent_decode(pw));
    }
    let url = match parsed {
        Ok(u) => u,
        Err(e) => {
            ctx.problem(node, path, format!("invalid URL: {e}"));
            return None;
        }
    };
    if !schemes.contains(&url.scheme()) {
        ctx.problem(
            node,
            path,
            format!(
                "unsupported URL scheme `{}` (expected {})",
                url.scheme(),
                schemes
                    .iter()
                    .map(|s| format!("`{s}://`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        );
        return None;
    }
    if let Some(pw) = url.password() {
        ctx.secrets.push(pw.to_owned());
        ctx.secrets.push(percent_decode(pw));
    }
    let target = printable_url(&url);
    Some((url, target))
}

/// The URL with its password replaced by `***` and its query removed (options such as
/// `password=` can hide in a query).
pub fn printable_url(url: &url::Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.set_query(None);
    u.set_fragment(None);
    u.to_string().replace("%2A%2A%2A", "***")
}

/// Percent-decode a URL component (invalid UTF-8 is replaced).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1), bytes.get(i + 2))
            && let (Some(h), Some(l)) = ((*h as char).to_digit(16), (*l as char).to_digit(16))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_url_hides_password_and_query() {
        let u = url::Url::parse("postgres://app:s3cr%40t@db:5432/app?password=x").unwrap();
        assert_eq!(printable_url(&u), "postgres://app:***@db:5432/app");
        assert_eq!(percent_decode("s3cr%40t"), "s3cr@t");
    }
}
