//! The proxy of an `http_checks` entry: `proxy: URL`, `proxy: none`, or (no key) the proxy
//! environment variables, read as curl reads them (curl(1), "ENVIRONMENT"):
//! - `http_proxy`, then `HTTP_PROXY`, for `http://` URLs — except that the upper-case one is
//!   ignored inside a CGI program (`REQUEST_METHOD` set), where a request's `Proxy:` header
//!   sets it ("httpoxy"; curl ignores it always, Go's net/http and reqwest as here);
//! - `https_proxy`, then `HTTPS_PROXY`, for `https://` URLs;
//! - `all_proxy`, then `ALL_PROXY`, for either when the one above is not set;
//! - `no_proxy`, then `NO_PROXY`: hosts reached directly (comma-separated names, each also
//!   matching its subdomains, `.domain`, IP addresses, CIDR ranges, `*` for every host).
//!
//! An empty variable counts as unset; a value without a scheme is an `http://` proxy (as
//! curl). The credentials of a proxy URL are secrets; a proxy is only ever printed as its
//! [`ProxyUrl::name`] (`scheme://host:port`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hyper_util::client::proxy::matcher::Matcher;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};

use crate::checks::common::tls::{Presented, server_cert_verifier};

use crate::model::{Outcome, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::interpolate::Environment;
use crate::reader::yaml::MapReader;

/// The proxy schemes accepted.
const SCHEMES: &[&str] = &["http", "https", "socks5", "socks5h"];

/// The variables read, by role, in order of precedence.
const HTTP_VARS: &[&str] = &["http_proxy", "HTTP_PROXY"];
/// [`HTTP_VARS`] inside a CGI program.
const HTTP_VARS_CGI: &[&str] = &["http_proxy"];
/// Inside a CGI program (this variable set), `HTTP_PROXY` may come from a request's header.
const CGI_VAR: &str = "REQUEST_METHOD";
const HTTPS_VARS: &[&str] = &["https_proxy", "HTTPS_PROXY"];
const ALL_VARS: &[&str] = &["all_proxy", "ALL_PROXY"];
const NO_PROXY_VARS: &[&str] = &["no_proxy", "NO_PROXY"];

/// A proxy: `scheme://[user:password@]host[:port]` with one of [`SCHEMES`]. Without a port:
/// 80 (`http`), 443 (`https`) or 1080 (`socks5`, `socks5h`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl(url::Url);

impl ProxyUrl {
    /// Parse `text`; a text without `://` gets `default_scheme` when one is given. The error
    /// never repeats the text (it may hold a password).
    pub fn parse(text: &str, default_scheme: Option<&str>) -> Result<ProxyUrl, String> {
        let text = text.trim();
        let with_scheme;
        let text = if text.contains("://") {
            text
        } else if let Some(s) = default_scheme {
            with_scheme = format!("{s}://{text}");
            &with_scheme
        } else {
            return Err(
                "a proxy URL needs a scheme: http://, https://, socks5:// or socks5h://".to_owned(),
            );
        };
        let mut url = url::Url::parse(text).map_err(|e| format!("invalid proxy URL: {e}"))?;
        if !SCHEMES.contains(&url.scheme()) {
            return Err(format!(
                "unsupported proxy scheme `{}` (use http://, https://, socks5:// or socks5h://)",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("invalid proxy URL: it has no host".to_owned());
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(
                "invalid proxy URL: it is scheme://[user:password@]host[:port], without a path"
                    .to_owned(),
            );
        }
        if url.port_or_known_default().is_none() {
            // socks5 and socks5h have no default port in the URL standard.
            let _ = url.set_port(Some(1080));
        }
        Ok(ProxyUrl(url))
    }

    /// `scheme://host:port`: how the proxy is named in messages, never with its credentials.
    pub fn name(&self) -> String {
        let host = self.0.host().map(|h| h.to_string()).unwrap_or_default();
        let port = self.0.port_or_known_default().unwrap_or(1080);
        format!("{}://{host}:{port}", self.0.scheme())
    }

    /// The secret forms of its credentials: the password (as written and decoded), and
    /// `user:password` as written, decoded and base64-encoded (the `Proxy-Authorization: Basic`
    /// value).
    pub fn secrets(&self) -> Vec<String> {
        let Some(pw) = self.0.password() else {
            return Vec::new();
        };
        let decoded = crate::checks::common::percent_decode(pw);
        let user = crate::checks::common::percent_decode(self.0.username());
        let pair = format!("{user}:{decoded}");
        vec![
            pw.to_owned(),
            format!("{}:{pw}", self.0.username()),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pair),
            pair,
            decoded,
        ]
    }

    /// Whether requests go through it as SOCKS (no HTTP between us and the proxy).
    fn is_socks(&self) -> bool {
        self.0.scheme().starts_with("socks")
    }
}

/// One of the proxy environment variables, with the variable it was read from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvProxy {
    url: ProxyUrl,
    var: &'static str,
}

/// The proxies the environment gives (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct EnvProxies {
    http: Option<EnvProxy>,
    https: Option<EnvProxy>,
    no_proxy: String,
}

impl EnvProxies {
    /// Read the variables from `env`; a variable that is not a proxy URL is a problem naming it.
    pub fn read(env: &dyn Environment) -> (EnvProxies, Vec<String>) {
        let mut problems = Vec::new();
        let mut read = |names: &[&'static str]| -> Option<EnvProxy> {
            let (var, value) = first_set(env, names)?;
            match ProxyUrl::parse(&value, Some("http")) {
                Ok(url) => Some(EnvProxy { url, var }),
                Err(e) => {
                    problems.push(format!("environment variable `{var}`: {e}"));
                    None
                }
            }
        };
        let all = read(ALL_VARS);
        let cgi = env.var(CGI_VAR).is_some();
        let http_vars = if cgi { HTTP_VARS_CGI } else { HTTP_VARS };
        let http = read(http_vars).or_else(|| all.clone());
        let https = read(HTTPS_VARS).or(all);
        let no_proxy = first_set(env, NO_PROXY_VARS)
            .map(|(_, v)| v)
            .unwrap_or_default();
        (
            EnvProxies {
                http,
                https,
                no_proxy,
            },
            problems,
        )
    }

    fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }
}

/// The first of `names` set to a non-empty value.
fn first_set(env: &dyn Environment, names: &[&'static str]) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|n| env.var(n).filter(|v| !v.trim().is_empty()).map(|v| (*n, v)))
}

/// How a check reaches its server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ProxyChoice {
    /// Directly (`proxy: none`, or no proxy variable set).
    #[default]
    Direct,
    /// Through `proxy: URL`, whatever the environment says. Boxed, like `Env`: every HTTP
    /// check of a plan holds a choice, and most go direct.
    Fixed(Box<ProxyUrl>),
    /// Through the proxy the environment gives for the URL's scheme and host.
    Env(Box<EnvProxies>),
}

/// Read a check's `proxy` key; without one, the environment's proxies. Their credentials
/// become secrets; a bad URL (or proxy variable) is a problem at the check.
pub(super) fn read(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> ProxyChoice {
    let Some((n, p)) = r.take("proxy") else {
        // The environment is read once for every check of the load.
        let env = ctx.interp.env;
        let (env, problems) = ctx.shared.get_or_make(|| EnvProxies::read(env));
        for problem in problems {
            ctx.problem(r.node, &r.path, problem);
        }
        for e in [&env.http, &env.https].into_iter().flatten() {
            ctx.secrets.extend(e.url.secrets());
        }
        return if env.is_empty() {
            ProxyChoice::Direct
        } else {
            ProxyChoice::Env(Box::new(env))
        };
    };
    let Some(text) = ctx.non_empty(n, &p) else {
        return ProxyChoice::Direct;
    };
    if text.trim().eq_ignore_ascii_case("none") {
        return ProxyChoice::Direct;
    }
    // The password is a secret even in a URL that does not parse.
    if let Some((_, rest)) = text.split_once("://")
        && let Some((userinfo, _)) = rest.rsplit_once('@')
        && let Some((_, pw)) = userinfo.split_once(':')
        && !pw.is_empty()
    {
        ctx.secrets.push(pw.to_owned());
        ctx.secrets.push(crate::checks::common::percent_decode(pw));
    }
    match ProxyUrl::parse(&text, None) {
        Ok(url) => {
            ctx.secrets.extend(url.secrets());
            ProxyChoice::Fixed(Box::new(url))
        }
        Err(e) => {
            ctx.problem(n, &p, e);
            ProxyChoice::Direct
        }
    }
}

/// A client's proxy choice, ready to answer which proxy a URL goes through.
#[derive(Debug)]
pub(super) struct Route {
    choice: ProxyChoice,
    /// `NO_PROXY`, as the matcher reqwest itself uses: it answers "no proxy" exactly for the
    /// hosts the list excludes (its one proxy, [`NEVER_USED`], is never connected to).
    no_proxy: Option<Matcher>,
    /// The certificates servers presented through a tunnel (reqwest gives a response's
    /// certificate only on a direct connection).
    peer_certs: Arc<PeerCerts>,
}

/// The proxy the `NO_PROXY` matcher is given so that it answers at all; never connected to.
const NEVER_USED: &str = "http://0.0.0.0:9";

impl Route {
    pub(super) fn new(choice: &ProxyChoice) -> Route {
        let no_proxy = match choice {
            ProxyChoice::Env(e) if !e.no_proxy.trim().is_empty() => Some(
                Matcher::builder()
                    .all(NEVER_USED.to_owned())
                    .no(e.no_proxy.clone())
                    .build(),
            ),
            _ => None,
        };
        Route {
            choice: choice.clone(),
            no_proxy,
            peer_certs: Arc::default(),
        }
    }

    /// Whether every request goes direct.
    pub(super) fn is_direct(&self) -> bool {
        self.choice == ProxyChoice::Direct
    }

    /// `verifier`, also keeping each server's certificate for [`Route::peer_cert`].
    pub(super) fn recording(
        &self,
        verifier: Arc<dyn ServerCertVerifier>,
    ) -> Arc<dyn ServerCertVerifier> {
        Arc::new(KeepPeerCert {
            inner: verifier,
            certs: Arc::clone(&self.peer_certs),
        })
    }

    /// The last certificate `url`'s server presented through the proxy (DER).
    pub(super) fn peer_cert(&self, url: &url::Url) -> Option<Vec<u8>> {
        if url.scheme() != "https" {
            return None;
        }
        self.proxy_for(url)?;
        let host = url.host_str()?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        self.peer_certs
            .0
            .lock()
            .ok()?
            .get(&host.to_ascii_lowercase())
            .cloned()
    }

    /// The proxy a request to `url` goes through, if any.
    pub(super) fn proxy_for(&self, url: &url::Url) -> Option<&ProxyUrl> {
        match &self.choice {
            ProxyChoice::Direct => None,
            ProxyChoice::Fixed(p) => Some(&**p),
            ProxyChoice::Env(e) => {
                if let Some(m) = &self.no_proxy {
                    let host = url.host()?.to_string();
                    let port = url.port_or_known_default()?;
                    let uri: hyper::Uri =
                        format!("{}://{host}:{port}/", url.scheme()).parse().ok()?;
                    m.intercept(&uri)?;
                }
                let env = match url.scheme() {
                    "http" => e.http.as_ref(),
                    "https" => e.https.as_ref(),
                    _ => None,
                };
                env.map(|e| &e.url)
            }
        }
    }

    /// The reqwest proxy of a client following this route; `None`: the client goes direct.
    pub(super) fn reqwest_proxy(self: &Arc<Self>) -> Option<reqwest::Proxy> {
        if self.choice == ProxyChoice::Direct {
            return None;
        }
        let route = Arc::clone(self);
        Some(reqwest::Proxy::custom(move |url| {
            route.proxy_for(url).map(|p| p.0.clone())
        }))
    }

    /// The variable a proxy came from, for messages (`None` for `proxy:`).
    fn origin_of(&self, proxy: &ProxyUrl) -> Option<&'static str> {
        let ProxyChoice::Env(e) = &self.choice else {
            return None;
        };
        [&e.http, &e.https]
            .into_iter()
            .flatten()
            .find(|x| &x.url == proxy)
            .map(|x| x.var)
    }

    /// A FAIL `http.proxy` naming the proxy (and the variable it came from).
    pub(super) fn fail(&self, proxy: &ProxyUrl, what: &str) -> Outcome {
        let from = self
            .origin_of(proxy)
            .map(|v| format!(" (from {v})"))
            .unwrap_or_default();
        Outcome::fail(
            Reason::HttpProxy,
            format!("proxy {}{from}: {what}", proxy.name()),
        )
    }

    /// The outcome of a response that the proxy gave instead of the server: a 407 to a
    /// request forwarded through an HTTP proxy (a tunnel's 407 is a connect error).
    pub(super) fn refused_response(&self, url: &url::Url, status: u16) -> Option<Outcome> {
        let proxy = self.proxy_for(url)?;
        (status == 407 && url.scheme() == "http" && !proxy.is_socks())
            .then(|| self.fail(proxy, "proxy authentication required (407)"))
    }

    /// The outcome of a request to `url` that failed while connecting through a proxy:
    /// `None` when no proxy was used or the failure is not the proxy's (a timeout, the
    /// server's TLS certificate, the local lookup of a `socks5://` target's name).
    pub(super) fn failed(
        &self,
        url: &url::Url,
        e: &reqwest::Error,
        reason: Reason,
        chain: &str,
    ) -> Option<Outcome> {
        let proxy = self.proxy_for(url)?;
        if !e.is_connect() || e.is_timeout() {
            return None;
        }
        let lower = chain.to_ascii_lowercase();
        if lower.contains("error resolving for socks proxy") {
            return None;
        }
        let what = if lower.contains("proxy authorization required") {
            "proxy authentication required (407)".to_owned()
        } else if lower.contains("tunnel error: unsuccessful") {
            "the proxy refused the CONNECT tunnel".to_owned()
        } else if reason == Reason::ConnectRefused {
            "connection refused".to_owned()
        } else if lower.contains("tunnel error") {
            format!(
                "CONNECT tunnel failed: {}",
                crate::checks::common::short_message(Reason::ConnectError, chain)
            )
        } else if reason.code().starts_with("tls.")
            && !(proxy.0.scheme() == "https" && url.scheme() == "http")
        {
            // The server's certificate, checked through the tunnel (through an `https://`
            // proxy to an `https://` server it may be either's: the reason says which check
            // failed, the detail has the chain).
            return None;
        } else if lower.contains("socks error") || lower.contains("error connecting to socks") {
            format!(
                "SOCKS connection failed: {}",
                crate::checks::common::short_message(Reason::ConnectError, chain)
            )
        } else if reason == Reason::DnsResolve {
            "cannot resolve the proxy host".to_owned()
        } else {
            crate::checks::common::short_message(reason, chain)
        };
        Some(self.fail(proxy, &what).with_detail(chain.to_owned()))
    }
}

/// The end-entity certificate each server name presented, last one wins; as many entries as
/// the checks have https hosts.
#[derive(Debug, Default)]
struct PeerCerts(Mutex<HashMap<String, Vec<u8>>>);

/// A verifier that keeps the certificate it is shown, then lets `inner` decide.
#[derive(Debug)]
struct KeepPeerCert {
    inner: Arc<dyn ServerCertVerifier>,
    certs: Arc<PeerCerts>,
}

impl KeepPeerCert {
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut certs) = self.certs.0.lock() {
            certs.insert(
                cert.server_name.to_str().to_ascii_lowercase(),
                cert.end_entity.to_vec(),
            );
        }
        cert.verified_by(&*self.inner)
    }
}

server_cert_verifier!(KeepPeerCert, |v| v.inner);

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    fn via(route: &Route, u: &str) -> Option<String> {
        route.proxy_for(&url(u)).map(ProxyUrl::name)
    }

    #[test]
    fn variables_are_read_as_curl_reads_them() {
        let e = env(&[
            ("HTTP_PROXY", "http://upper.test:1"),
            ("HTTPS_PROXY", "upper-s.test:2"),
            ("https_proxy", "http://lower-s.test:3"),
            ("ALL_PROXY", "socks5://all.test"),
        ]);
        let (p, problems) = EnvProxies::read(&e);
        assert!(problems.is_empty(), "{problems:?}");
        let r = Route::new(&ProxyChoice::Env(Box::new(p)));
        assert_eq!(
            via(&r, "http://a.test/").as_deref(),
            Some("http://upper.test:1")
        );
        // In a CGI program the upper-case HTTP_PROXY is ignored: ALL_PROXY is the http proxy.
        let cgi = env(&[
            ("HTTP_PROXY", "http://upper.test:1"),
            ("ALL_PROXY", "socks5://all.test"),
            ("REQUEST_METHOD", "GET"),
        ]);
        let (p, _) = EnvProxies::read(&cgi);
        let in_cgi = Route::new(&ProxyChoice::Env(Box::new(p)));
        assert_eq!(
            via(&in_cgi, "http://a.test/").as_deref(),
            Some("socks5://all.test:1080")
        );
        // Lower case wins.
        assert_eq!(
            via(&r, "https://a.test/").as_deref(),
            Some("http://lower-s.test:3")
        );
        let (p, _) = EnvProxies::read(&env(&[("HTTPS_PROXY", "upper-s.test:2")]));
        let r = Route::new(&ProxyChoice::Env(Box::new(p)));
        assert_eq!(
            via(&r, "https://a.test/").as_deref(),
            Some("http://upper-s.test:2")
        );
        assert_eq!(via(&r, "http://a.test/"), None);
    }

    #[test]
    fn no_proxy_lists_hosts_domains_and_ranges() {
        let (p, _) = EnvProxies::read(&env(&[
            ("http_proxy", "http://p.test:3128"),
            ("NO_PROXY", "internal.test, .corp.test,10.0.0.0/8,::1"),
        ]));
        let r = Route::new(&ProxyChoice::Env(Box::new(p)));
        for direct in [
            "http://internal.test/",
            "http://api.internal.test/",
            "http://x.corp.test:8080/",
            "http://10.1.2.3/",
            "http://[::1]:8080/",
        ] {
            assert_eq!(via(&r, direct), None, "{direct}");
        }
        for proxied in [
            "http://notinternal.test/",
            "http://11.0.0.1/",
            "http://127.0.0.1/",
        ] {
            assert!(via(&r, proxied).is_some(), "{proxied}");
        }
        let (p, _) = EnvProxies::read(&env(&[
            ("http_proxy", "http://p.test:3128"),
            ("no_proxy", "*"),
        ]));
        assert_eq!(
            via(
                &Route::new(&ProxyChoice::Env(Box::new(p))),
                "http://a.test/"
            ),
            None
        );
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_them() {
        for bad in [
            "ftp://u:hunter22@p.test",
            "http://u:hunter22@p.test/path",
            "http://u:hunter22@",
            "p.test:3128",
        ] {
            let e = ProxyUrl::parse(bad, None).unwrap_err();
            assert!(!e.contains("hunter22"), "{e}");
        }
        let (_, problems) = EnvProxies::read(&env(&[("https_proxy", "gopher://u:hunter22@x")]));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("environment variable `https_proxy`"));
        assert!(!problems[0].contains("hunter22"));
    }

    #[test]
    fn names_and_secrets() {
        let p = ProxyUrl::parse("http://us%65r:p%40ss-w0rd@[::1]:3128", None).unwrap();
        assert_eq!(p.name(), "http://[::1]:3128");
        let s = p.secrets();
        assert!(s.contains(&"p@ss-w0rd".to_owned()));
        assert!(s.contains(&"user:p@ss-w0rd".to_owned()));
        assert!(s.contains(&"dXNlcjpwQHNzLXcwcmQ=".to_owned()));
        let p = ProxyUrl::parse("https://p.test", None).unwrap();
        assert_eq!(p.name(), "https://p.test:443");
        assert!(p.secrets().is_empty());
    }
}
