//! rustls plumbing shared by every kind that speaks TLS: one crypto provider (aws-lc-rs), the
//! system roots loaded once, `ca_file` loading, the one verifier (web PKI, or the opt-out behind
//! `insecure: true`, wrapped so its verdict is kept), the client certificate
//! (`client_cert`/`client_key`, [`ClientIdentity`]) and mapping of rustls errors to reason
//! codes.
//!
//! Measurement boundary: loading the trust store, building a web PKI verifier (parsing every
//! root certificate) and seeding the crypto library's random generator cost far more than a
//! loopback handshake. [`prepare`] does it once (once per distinct `ca_file`), on a thread of
//! its own while the checks that need no TLS already run ([`prepare_in_background`]); a check
//! that speaks TLS waits for it before its clock starts (`RunContext::ready_for`). It then only
//! wraps the prepared verifier in a fresh, cheap `ClientConfig` per connection (fresh, so no
//! check resumes another check's TLS session and every handshake is a full one). A client
//! certificate and its key are read, parsed and matched when the config is read
//! ([`ClientIdentity::load`]), before any check runs; a connection only shares the loaded key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{CertificateError, InconsistentKeys, RootCertStore};

use crate::model::Reason;

/// The one crypto provider of the process.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static P: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .clone()
}

/// The system's trusted roots, loaded once.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// The trust settings of a check's TLS connections, as [`prepare`] takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsTrust<'a> {
    /// Extra roots (a PEM file) trusted beside the system's.
    pub ca_file: Option<&'a str>,
    /// `insecure: true`: any certificate is accepted, nothing to prepare.
    pub insecure: bool,
}

/// A prepared web PKI verifier (`None`: no trusted root at all), or why it cannot be built.
type Verifier = Result<Option<Arc<dyn ServerCertVerifier>>, String>;

/// The web PKI verifiers, one per `ca_file` (`None`: the system roots alone).
fn prepared() -> &'static Mutex<HashMap<Option<String>, Verifier>> {
    static PREPARED: OnceLock<Mutex<HashMap<Option<String>, Verifier>>> = OnceLock::new();
    PREPARED.get_or_init(Mutex::default)
}

/// Whether the preparation started by [`prepare_in_background`] has finished.
#[derive(Debug, Clone)]
pub struct Prepared(tokio::sync::watch::Receiver<bool>);

impl Prepared {
    /// Resolves once the preparation has finished (at once when there was nothing to prepare).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        // An error means the preparing thread ended without saying so (it could not start or
        // it panicked): whatever it did not prepare is built on first use.
        let _ = rx.wait_for(|done| *done).await;
    }
}

#[cfg(test)]
impl Prepared {
    /// A preparation that is done when the test sends `true` on the returned sender.
    pub(crate) fn held() -> (Prepared, tokio::sync::watch::Sender<bool>) {
        let (done, rx) = tokio::sync::watch::channel(false);
        (Prepared(rx), done)
    }
}

/// Start [`prepare`] for `trusts` on a thread of its own, so that it delays no check that
/// needs none of it.
pub fn prepare_in_background<'a>(trusts: impl IntoIterator<Item = TlsTrust<'a>>) -> Prepared {
    let owned: std::collections::BTreeSet<(Option<String>, bool)> = trusts
        .into_iter()
        .map(|t| (t.ca_file.map(str::to_owned), t.insecure))
        .collect();
    let (done, rx) = tokio::sync::watch::channel(owned.is_empty());
    if !owned.is_empty() {
        let _ = std::thread::Builder::new()
            .name("infracheck-tls-prepare".to_owned())
            .spawn(move || {
                idle_priority();
                prepare(owned.iter().map(|(ca_file, insecure)| TlsTrust {
                    ca_file: ca_file.as_deref(),
                    insecure: *insecure,
                }));
                let _ = done.send(true);
            });
    }
    Prepared(rx)
}

/// Prepare everything the TLS connections of `trusts` need: the verifier of
/// every trust setting (the system roots are loaded with the first) and, on a second thread
/// meanwhile, the crypto library's random generator, which seeds itself on first use. Built
/// from this repository it seeds from the operating system (`.cargo/config.toml`); a build
/// without that setting samples CPU timing jitter instead, about 40 ms of CPU, which would
/// otherwise land in the first handshake.
/// A setting that cannot be prepared (an unreadable `ca_file`) keeps its error, which the
/// check reports as it always has. Nothing to do when `trusts` is empty; a setting not
/// prepared here is built on first use (see [`webpki_verifier`]).
pub fn prepare<'a>(trusts: impl IntoIterator<Item = TlsTrust<'a>>) {
    let trusts: Vec<TlsTrust<'a>> = trusts.into_iter().collect();
    if trusts.is_empty() {
        return;
    }
    let provider = provider();
    std::thread::scope(|s| {
        s.spawn(|| {
            idle_priority();
            let mut seed = [0u8; 32];
            let _ = provider.secure_random.fill(&mut seed);
        });
        for t in trusts.iter().filter(|t| !t.insecure) {
            let _ = webpki_verifier(t.ca_file);
        }
    });
}

/// Put the calling thread in the scheduler's idle class (Linux `SCHED_IDLE`, see
/// sched(7)): the preparation then runs on the CPU time the runtime's workers leave, so on a
/// machine with as many cores as workers it never preempts a worker that must read a measured
/// response (BENCHMARKS.md, "True numbers V"). The checks that need the preparation wait for it
/// outside their clocks. Elsewhere, or if refused, the thread keeps its priority.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
    }
}

/// Read every certificate of a PEM file.
pub fn read_pem_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read ca_file {path}: {e}"))?;
    let mut reader = std::io::BufReader::new(data.as_slice());
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut reader).collect();
    let certs = certs.map_err(|e| format!("ca_file {path} is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("ca_file {path} contains no PEM certificate"));
    }
    Ok(certs)
}

/// A root store: the system roots plus `ca_file`.
fn root_store(ca_file: Option<&str>) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    let _ = store.add_parsable_certificates(system_roots().iter().cloned());
    if let Some(path) = ca_file {
        add_ca_file(&mut store, path)?;
    }
    Ok(store)
}

/// Add every certificate of the `ca_file` at `path` to `store`: an error when one cannot be
/// read or is not usable as a root.
fn add_ca_file(store: &mut RootCertStore, path: &str) -> Result<(), String> {
    for cert in read_pem_certs(path)? {
        store
            .add(cert)
            .map_err(|e| format!("ca_file {path}: unusable certificate: {e}"))?;
    }
    Ok(())
}

/// The HTTP client of infracheck's own calls (the pull-request comment, `serve`'s webhooks):
/// system roots, no redirects, infracheck's user agent, `timeout` per request; `what` names it
/// in the error.
pub fn own_http_client(
    timeout: std::time::Duration,
    what: &str,
) -> Result<reqwest::Client, String> {
    let tls = client_config(None, false, rustls::DEFAULT_VERSIONS, None)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("infracheck/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .build()
        .map_err(|e| format!("cannot build the {what}: {e}"))
}

/// A client config for the given trust settings. `versions` limits the protocol versions.
/// `client`: the certificate presented when the server asks for one.
pub fn client_config(
    ca_file: Option<&str>,
    insecure: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, String> {
    client_config_wrapped(ca_file, insecure, versions, client, |v| v)
}

/// [`client_config`] with its verifier wrapped by `wrap` (which delegates the decisions).
pub fn client_config_wrapped(
    ca_file: Option<&str>,
    insecure: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&ClientIdentity>,
    wrap: impl FnOnce(Arc<dyn ServerCertVerifier>) -> Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, String> {
    let web_pki = || -> Result<Arc<dyn ServerCertVerifier>, String> {
        Ok(match webpki_verifier(ca_file)? {
            Some(v) => v,
            // No trusted root at all: every certificate has an unknown issuer.
            None => Arc::new(RecordingVerifier::new(None)),
        })
    };
    trust_config(insecure, web_pki, wrap, versions, client)
}

/// [`client_config_wrapped`] whose web PKI verifier is looked up only when a certificate is
/// verified ([`DeferredVerifier`]), not now: for clients built before the run (HTTP), so that
/// building them neither waits for the preparation nor reads the trust store on the thread
/// that starts the checks. A check through such a client waits for the preparation before
/// its handshake (`RunContext::ready_for`), so the lookup finds the prepared verifier.
pub fn deferred_client_config(
    ca_file: Option<&str>,
    insecure: bool,
    client: Option<&ClientIdentity>,
    wrap: impl FnOnce(Arc<dyn ServerCertVerifier>) -> Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, String> {
    let deferred = || -> Result<Arc<dyn ServerCertVerifier>, String> {
        // The `ca_file` is read now (a few certificates, no system roots): a file no root
        // store accepts stops the run before any check starts, as a client that cannot be
        // built always has (exit 4).
        if let Some(path) = ca_file {
            add_ca_file(&mut RootCertStore::empty(), path)?;
        }
        Ok(Arc::new(DeferredVerifier {
            ca_file: ca_file.map(str::to_owned),
        }))
    };
    trust_config(insecure, deferred, wrap, rustls::DEFAULT_VERSIONS, client)
}

/// A client config that accepts any certificate under `insecure`, else verifies with the web
/// PKI verifier `web_pki` gives; its verifier wrapped by `wrap`.
fn trust_config(
    insecure: bool,
    web_pki: impl FnOnce() -> Result<Arc<dyn ServerCertVerifier>, String>,
    wrap: impl FnOnce(Arc<dyn ServerCertVerifier>) -> Arc<dyn ServerCertVerifier>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, String> {
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(AcceptAnyCert)
    } else {
        web_pki()?
    };
    config_with_verifier(wrap(verifier), versions, client)
}

/// A certificate to verify, as [`ServerCertVerifier::verify_server_cert`] is given it.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The server's certificate.
    pub end_entity: &'a CertificateDer<'a>,
    /// The rest of the chain the server sent.
    pub intermediates: &'a [CertificateDer<'a>],
    /// The name the certificate must be valid for.
    pub server_name: &'a ServerName<'a>,
    /// The stapled OCSP response (empty: none).
    pub ocsp_response: &'a [u8],
    /// The time the verification happens at.
    pub now: UnixTime,
}

impl Presented<'_> {
    /// `verifier`'s verdict on this certificate.
    pub fn verified_by(
        &self,
        verifier: &dyn ServerCertVerifier,
    ) -> Result<ServerCertVerified, rustls::Error> {
        verifier.verify_server_cert(
            self.end_entity,
            self.intermediates,
            self.server_name,
            self.ocsp_response,
            self.now,
        )
    }
}

/// `impl ServerCertVerifier for $ty`, for a verifier that decides about the certificate by
/// its own `fn verify(&self, &Presented<'_>)`; the one place the trait's methods are written.
/// The rest, the handshake signature checks (TLS 1.2 and 1.3), the schemes they accept, the
/// raw public key requirement and the root hints, is either
/// - `server_cert_verifier!(Type)`: the crypto provider's signature checks, no raw public
///   keys, no root hints (what the web PKI verifier does too), or
/// - `server_cert_verifier!(Type, |v| expr)`: whatever the verifier `expr` (an expression of
///   `v`, the verifier) answers.
macro_rules! server_cert_verifier {
    ($ty:ty) => {
        $crate::checks::common::tls::server_cert_verifier!(@impl $ty, provider);
    };
    ($ty:ty, |$v:ident| $to:expr) => {
        $crate::checks::common::tls::server_cert_verifier!(@impl $ty, (|$v| $to));
    };
    (@impl $ty:ty, $by:tt) => {
        impl ::rustls::client::danger::ServerCertVerifier for $ty {
            fn verify_server_cert(
                &self,
                end_entity: &::rustls::pki_types::CertificateDer<'_>,
                intermediates: &[::rustls::pki_types::CertificateDer<'_>],
                server_name: &::rustls::pki_types::ServerName<'_>,
                ocsp_response: &[u8],
                now: ::rustls::pki_types::UnixTime,
            ) -> Result<::rustls::client::danger::ServerCertVerified, ::rustls::Error> {
                self.verify(&$crate::checks::common::tls::Presented {
                    end_entity,
                    intermediates,
                    server_name,
                    ocsp_response,
                    now,
                })
            }

            $crate::checks::common::tls::server_cert_verifier!(
                @signatures $by,
                verify_tls12_signature,
                verify_tls13_signature
            );

            fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
                $crate::checks::common::tls::server_cert_verifier!(
                    @by $by, self, supported_verify_schemes()
                )
            }

            fn requires_raw_public_keys(&self) -> bool {
                $crate::checks::common::tls::server_cert_verifier!(
                    @by $by, self, requires_raw_public_keys()
                )
            }

            fn root_hint_subjects(&self) -> Option<&[::rustls::DistinguishedName]> {
                $crate::checks::common::tls::server_cert_verifier!(
                    @by $by, self, root_hint_subjects()
                )
            }
        }
    };
    (@signatures $by:tt, $($method:ident),*) => {
        $(
            fn $method(
                &self,
                message: &[u8],
                cert: &::rustls::pki_types::CertificateDer<'_>,
                dss: &::rustls::DigitallySignedStruct,
            ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
                $crate::checks::common::tls::server_cert_verifier!(
                    @by $by, self, $method(message, cert, dss)
                )
            }
        )*
    };
    // What `$this` answers to `$method`: ...
    (@by (|$v:ident| $to:expr), $this:tt, $method:ident($($arg:ident),*)) => {{
        let $v = $this;
        $to.$method($($arg),*)
    }};
    // ... the provider's signature checks ...
    (@by provider, $this:tt, supported_verify_schemes()) => {
        $crate::checks::common::tls::provider()
            .signature_verification_algorithms
            .supported_schemes()
    };
    (@by provider, $this:tt, requires_raw_public_keys()) => {
        false
    };
    (@by provider, $this:tt, root_hint_subjects()) => {
        None
    };
    (@by provider, $this:tt, $method:ident($($arg:ident),*)) => {
        ::rustls::crypto::$method(
            $($arg,)*
            &$crate::checks::common::tls::provider().signature_verification_algorithms,
        )
    };
}
pub(crate) use server_cert_verifier;

/// The web PKI verifier of `ca_file` (over the system roots), looked up when a certificate is
/// to be verified: the prepared one ([`prepare`]), else built then. Its signature checks are
/// the provider's, as the web PKI verifier's are.
#[derive(Debug)]
pub struct DeferredVerifier {
    ca_file: Option<String>,
}

impl DeferredVerifier {
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        match webpki_verifier(self.ca_file.as_deref()) {
            Ok(Some(v)) => cert.verified_by(&*v),
            // No trusted root at all: every certificate has an unknown issuer.
            Ok(None) => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
            Err(e) => Err(rustls::Error::General(e)),
        }
    }
}

server_cert_verifier!(DeferredVerifier);

/// A client config whose verifier keeps the certificate error it reported, for transports that
/// hand the handshake error back only as text (hickory's DNS over TLS): the typed error still
/// gives the reason code. One config (and verifier) per connection.
pub fn recording_client_config(
    ca_file: Option<&str>,
    insecure: bool,
    client: Option<&ClientIdentity>,
) -> Result<(rustls::ClientConfig, Arc<RecordingVerifier>), String> {
    let verifier = Arc::new(RecordingVerifier::for_trust(ca_file, insecure)?);
    let config = config_with_verifier(
        Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>,
        rustls::DEFAULT_VERSIONS,
        client,
    )?;
    Ok((config, verifier))
}

/// A client config that verifies through `verifier` (which decides trust itself) and presents
/// `client` when the server asks for a certificate (none: the handshake goes on without one,
/// and a server that requires one refuses it).
pub fn config_with_verifier(
    verifier: Arc<dyn ServerCertVerifier>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, String> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    Ok(match client {
        Some(id) => builder
            .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(Arc::clone(&id.certified)))),
        None => builder.with_no_client_auth(),
    })
}

/// The largest `client_cert` or `client_key` file read (a chain or a key is a few KiB).
const MAX_IDENTITY_FILE: u64 = 1 << 20;

/// At most this many lines of a key file become secrets to mask (a PEM key has a few dozen).
const MAX_SECRET_LINES: usize = 256;

/// A client certificate chain and its private key (`client_cert`/`client_key`), read, parsed
/// and matched once when the config is read. Its `Debug` names the files only: the key is a
/// secret.
#[derive(Clone)]
pub struct ClientIdentity {
    cert_file: Arc<str>,
    key_file: Arc<str>,
    certified: Arc<CertifiedKey>,
    /// The files' bytes, for drivers that read PEM themselves (mysql).
    cert_pem: Arc<[u8]>,
    key_pem: Arc<[u8]>,
}

/// Why a client certificate cannot be used, attributed to the key whose file is at fault. The
/// message is one line naming the file and never quotes the key file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// `client_cert` cannot be read or holds no usable certificate.
    #[error("{0}")]
    Cert(String),
    /// `client_key` cannot be read, holds no usable key, or does not match the certificate.
    #[error("{0}")]
    Key(String),
}

impl ClientIdentity {
    /// Read `cert_file` (a PEM chain, end entity first) and `key_file` (a PEM private key:
    /// PKCS#8, PKCS#1 or SEC1) and check that the key belongs to the certificate. Every line
    /// of the key file is added to `secrets` (masked in every output), readable key or not.
    pub fn load(
        cert_file: &str,
        key_file: &str,
        secrets: &mut Vec<String>,
    ) -> Result<Self, IdentityError> {
        let key_pem = read_small(key_file, "client_key").map_err(IdentityError::Key)?;
        add_key_secrets(&key_pem, secrets);
        let cert_pem = read_small(cert_file, "client_cert").map_err(IdentityError::Cert)?;
        let chain: Result<Vec<_>, _> = rustls_pemfile::certs(&mut cert_pem.as_slice()).collect();
        let chain = chain.map_err(|e| {
            IdentityError::Cert(format!("client_cert {cert_file} is not valid PEM: {e}"))
        })?;
        if chain.is_empty() {
            return Err(IdentityError::Cert(format!(
                "client_cert {cert_file} contains no PEM certificate"
            )));
        }
        // The parsers' own errors are not quoted: they may carry bytes of the key.
        let no_key =
            || IdentityError::Key(format!("client_key {key_file} holds no PEM private key"));
        let key = match rustls_pemfile::private_key(&mut key_pem.as_slice()) {
            Ok(Some(k)) => k,
            Ok(None) | Err(_) => return Err(no_key()),
        };
        let signing = provider()
            .key_provider
            .load_private_key(key)
            .map_err(|_| {
                IdentityError::Key(format!(
                    "client_key {key_file} holds a private key that cannot be used (unsupported type or malformed)"
                ))
            })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(InconsistentKeys::Unknown)) => {}
            Err(rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                return Err(IdentityError::Key(format!(
                    "client_key {key_file} does not match the certificate in client_cert {cert_file}"
                )));
            }
            Err(e) => {
                return Err(IdentityError::Cert(format!(
                    "client_cert {cert_file} holds an unusable certificate: {e}"
                )));
            }
        }
        Ok(ClientIdentity {
            cert_file: Arc::from(cert_file),
            key_file: Arc::from(key_file),
            certified: Arc::new(certified),
            cert_pem: Arc::from(cert_pem),
            key_pem: Arc::from(key_pem),
        })
    }

    /// The certificate file, as resolved.
    pub fn cert_file(&self) -> &str {
        &self.cert_file
    }

    /// The key file, as resolved.
    pub fn key_file(&self) -> &str {
        &self.key_file
    }

    /// The certificate file's bytes (PEM), for drivers that parse it themselves.
    pub fn cert_pem(&self) -> &Arc<[u8]> {
        &self.cert_pem
    }

    /// The key file's bytes (PEM; a secret), for drivers that parse it themselves.
    pub fn key_pem(&self) -> &Arc<[u8]> {
        &self.key_pem
    }
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// Two identities are the same when they name the same files (they were read once each).
impl PartialEq for ClientIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.cert_file == other.cert_file && self.key_file == other.key_file
    }
}

impl Eq for ClientIdentity {}

impl std::hash::Hash for ClientIdentity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.cert_file.hash(state);
        self.key_file.hash(state);
    }
}

/// Read a small file named by `key` (a one-line error naming it otherwise).
fn read_small(path: &str, key: &str) -> Result<Vec<u8>, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {key} {path}: {e}"))?;
    let mut data = Vec::new();
    file.take(MAX_IDENTITY_FILE + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read {key} {path}: {e}"))?;
    if u64::try_from(data.len()).unwrap_or(u64::MAX) > MAX_IDENTITY_FILE {
        return Err(format!(
            "{key} {path} is larger than {} KiB",
            MAX_IDENTITY_FILE / 1024
        ));
    }
    Ok(data)
}

/// The key file's content as secrets: the whole text and each line of it (PEM armour lines
/// aside), so neither the file nor any part of it can reach an output.
fn add_key_secrets(data: &[u8], secrets: &mut Vec<String>) {
    let text = String::from_utf8_lossy(data);
    let whole = text.trim();
    if whole.len() >= crate::redact::MIN_SECRET_CHARS {
        secrets.push(whole.to_owned());
    }
    secrets.extend(
        text.lines()
            .map(str::trim)
            .filter(|l| l.len() >= crate::redact::MIN_SECRET_CHARS && !l.starts_with("-----"))
            .take(MAX_SECRET_LINES)
            .map(str::to_owned),
    );
}

/// The web PKI verifier over the system roots plus `ca_file`; `None` when there is no trusted
/// root at all. Prepared once per `ca_file` ([`prepare`]); built here on first use otherwise.
fn webpki_verifier(ca_file: Option<&str>) -> Verifier {
    let key = ca_file.map(str::to_owned);
    // A poisoned lock only means another thread panicked while inserting: the map is intact.
    let mut map = prepared()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(key)
        .or_insert_with(|| build_webpki_verifier(ca_file))
        .clone()
}

/// Build the web PKI verifier over the system roots plus `ca_file` (see [`webpki_verifier`]).
fn build_webpki_verifier(ca_file: Option<&str>) -> Verifier {
    let roots = root_store(ca_file)?;
    if roots.is_empty() {
        return Ok(None);
    }
    let v =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
    Ok(Some(v))
}

/// Delegates to a verifier (none: no trusted roots at all, so every certificate has an unknown
/// issuer) and keeps the error it returned and, when asked, the chain the server presented.
#[derive(Debug)]
pub struct RecordingVerifier {
    inner: Option<Arc<dyn ServerCertVerifier>>,
    error: std::sync::Mutex<Option<rustls::Error>>,
    chain: Option<std::sync::Mutex<Vec<CertificateDer<'static>>>>,
}

impl RecordingVerifier {
    /// Record the verdicts of `inner` (`None`: no trusted roots, every issuer is unknown).
    pub fn new(inner: Option<Arc<dyn ServerCertVerifier>>) -> Self {
        RecordingVerifier {
            inner,
            error: std::sync::Mutex::new(None),
            chain: None,
        }
    }

    /// Also keep the certificate chain the server presents (end entity first).
    pub fn keeping_chain(mut self) -> Self {
        self.chain = Some(std::sync::Mutex::new(Vec::new()));
        self
    }

    /// The chain of the last verification, when kept ([`RecordingVerifier::keeping_chain`]).
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain
            .as_ref()
            .and_then(|c| c.lock().ok().map(|c| c.clone()))
            .unwrap_or_default()
    }

    /// The verifier for the given trust settings: any certificate under `insecure`, else the
    /// web PKI over the system roots plus `ca_file`.
    pub fn for_trust(ca_file: Option<&str>, insecure: bool) -> Result<Self, String> {
        let inner: Option<Arc<dyn ServerCertVerifier>> = if insecure {
            Some(Arc::new(AcceptAnyCert))
        } else {
            webpki_verifier(ca_file)?
        };
        Ok(RecordingVerifier::new(inner))
    }

    /// The certificate error of the last verification, if it failed.
    pub fn error(&self) -> Option<rustls::Error> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

impl RecordingVerifier {
    fn verify(&self, cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(Ok(mut kept)) = self.chain.as_ref().map(|c| c.lock()) {
            *kept = std::iter::once(cert.end_entity)
                .chain(cert.intermediates)
                .map(|d| d.clone().into_owned())
                .collect();
        }
        let verdict = match &self.inner {
            Some(v) => cert.verified_by(&**v),
            None => Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            )),
        };
        if let Err(e) = &verdict
            && let Ok(mut slot) = self.error.lock()
        {
            *slot = Some(e.clone());
        }
        verdict
    }
}

server_cert_verifier!(RecordingVerifier);

/// Accepts any certificate but still checks handshake signatures (`insecure: true`).
#[derive(Debug)]
pub struct AcceptAnyCert;

impl AcceptAnyCert {
    fn verify(&self, _cert: &Presented<'_>) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
}

server_cert_verifier!(AcceptAnyCert);

/// The reasons of a failed handshake ([`reason_for`]): the certificate verdicts and
/// `tls.handshake`.
pub const HANDSHAKE_REASONS: &[Reason] = &[
    Reason::TlsHandshake,
    Reason::TlsExpired,
    Reason::TlsNotYetValid,
    Reason::TlsNameMismatch,
    Reason::TlsUntrusted,
    Reason::TlsInvalid,
];

/// The reason code for a rustls error.
pub fn reason_for(err: &rustls::Error) -> Reason {
    match err {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                Reason::TlsExpired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                Reason::TlsNotYetValid
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Reason::TlsNameMismatch
            }
            CertificateError::UnknownIssuer => Reason::TlsUntrusted,
            _ => Reason::TlsInvalid,
        },
        _ => Reason::TlsHandshake,
    }
}

/// The rustls error inside an I/O error from a TLS handshake (tokio-rustls wraps it).
pub fn rustls_error_of(e: &std::io::Error) -> Option<&rustls::Error> {
    e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
}

/// The reason code of a failed handshake: the rustls error's, else `tls.handshake`.
pub fn handshake_reason(e: &std::io::Error) -> Reason {
    rustls_error_of(e).map_or(Reason::TlsHandshake, reason_for)
}

/// The notBefore a rustls "not valid yet" error carries (the certificate itself is not
/// available when verification refused it).
pub fn not_before_of(err: &rustls::Error) -> Option<time::OffsetDateTime> {
    match err {
        rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            not_before,
            ..
        }) => {
            let secs = i64::try_from(not_before.as_secs()).ok()?;
            time::OffsetDateTime::from_unix_timestamp(secs).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Wait for the preparation of `ca_file`, bounded so a hang fails instead of blocking.
    async fn prepared(ca_file: &str) {
        let ready = prepare_in_background([TlsTrust {
            ca_file: Some(ca_file),
            insecure: false,
        }]);
        tokio::time::timeout(Duration::from_secs(60), ready.wait())
            .await
            .unwrap();
    }

    /// A self-signed certificate and its key, written as `NAME.pem` / `NAME.key` in `dir`.
    fn pair(dir: &std::path::Path, name: &str) -> (String, String, String) {
        let c = rcgen::generate_simple_self_signed(vec![format!("{name}.test")]).unwrap();
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, c.cert.pem()).unwrap();
        std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
        let s = |p: std::path::PathBuf| p.to_str().unwrap().to_owned();
        (s(cert), s(key), c.signing_key.serialize_pem())
    }

    #[test]
    fn a_client_identity_is_matched_and_its_key_kept_secret() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, pem) = pair(dir.path(), "a");
        let (_, other_key, _) = pair(dir.path(), "b");
        let mut secrets = Vec::new();
        let id = ClientIdentity::load(&cert, &key, &mut secrets).unwrap();
        let body = pem.lines().nth(1).unwrap();
        assert!(secrets.iter().any(|s| s == body), "{secrets:?}");
        assert!(secrets.iter().any(|s| s == pem.trim()));
        let debug = format!("{id:?}");
        assert!(!debug.contains(body) && debug.contains("a.key"), "{debug}");
        let err = ClientIdentity::load(&cert, &other_key, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, IdentityError::Key(m) if m.contains("does not match")),
            "{err:?}"
        );
        // A certificate where the key belongs is reported at the key, without its content.
        let err = ClientIdentity::load(&cert, &cert, &mut Vec::new()).unwrap_err();
        assert!(
            matches!(&err, IdentityError::Key(m) if m.contains("holds no PEM private key")),
            "{err:?}"
        );
        assert!(client_config(None, false, rustls::DEFAULT_VERSIONS, Some(&id)).is_ok());
    }

    #[test]
    fn a_deferred_config_checks_its_ca_file_when_built_and_verifies_at_the_handshake() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
        let der = cert.cert.der().clone();
        let name = ServerName::try_from("a.test").unwrap();
        let verify = |path: &str| {
            DeferredVerifier {
                ca_file: Some(path.to_owned()),
            }
            .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
        };
        // A file no root store accepts is refused when the config is built (exit 4 upstream).
        let bogus = dir.path().join("bogus.pem");
        std::fs::write(
            &bogus,
            "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = deferred_client_config(bogus.to_str(), false, None, |v| v).unwrap_err();
        assert!(err.contains("bogus.pem"), "{err}");
        // A usable file builds; the verifier (system roots and all) is looked up at the
        // verification.
        let later = dir.path().join("later.pem");
        let later = later.to_str().unwrap();
        std::fs::write(later, cert.cert.pem()).unwrap();
        assert!(deferred_client_config(Some(later), false, None, |v| v).is_ok());
        let read = verify(later);
        assert!(
            !matches!(&read, Err(rustls::Error::General(_))),
            "the file is read at the verification: {read:?}"
        );
        // A file missing at the verification fails that handshake, naming the file.
        let gone = dir.path().join("gone.pem");
        let gone = gone.to_str().unwrap();
        match verify(gone) {
            Err(rustls::Error::General(m)) => assert!(m.contains("cannot read ca_file"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn nothing_to_prepare_is_ready_at_once() {
        prepare_in_background([]).wait().await;
    }

    #[tokio::test]
    async fn a_ca_file_is_read_once_when_prepared_not_in_each_connection() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.pem");
        let cert = rcgen::generate_simple_self_signed(vec!["a.test".to_owned()]).unwrap();
        std::fs::write(&good, cert.cert.pem()).unwrap();
        let good = good.to_str().unwrap();
        prepared(good).await;
        // Gone after the preparation: a config built now uses what was prepared.
        std::fs::remove_file(good).unwrap();
        assert!(client_config(Some(good), false, rustls::DEFAULT_VERSIONS, None).is_ok());
        assert!(RecordingVerifier::for_trust(Some(good), false).is_ok());
    }

    #[tokio::test]
    async fn a_ca_file_that_cannot_be_prepared_keeps_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pem");
        std::fs::write(&bad, "no certificate here\n").unwrap();
        let bad = bad.to_str().unwrap();
        prepared(bad).await;
        std::fs::remove_file(bad).unwrap();
        let err = client_config(Some(bad), false, rustls::DEFAULT_VERSIONS, None).unwrap_err();
        assert!(err.contains("contains no PEM certificate"), "{err}");
    }
}
