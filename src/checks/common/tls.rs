//! rustls plumbing shared by every kind that speaks TLS: one crypto provider (aws-lc-rs), the
//! system roots loaded once, `ca_file` loading, the one verifier (web PKI, or the opt-out behind
//! `insecure: true`, wrapped so its verdict is kept) and mapping of rustls errors to reason
//! codes.
//!
//! Measurement boundary: loading the trust store, building a web PKI verifier (parsing every
//! root certificate) and seeding the crypto library's random generator cost far more than a
//! loopback handshake. [`prepare`] does it once (once per distinct `ca_file`), on a thread of
//! its own while the checks that need no TLS already run ([`prepare_in_background`]); a check
//! that speaks TLS waits for it before its clock starts (`RunContext::ready_for`). It then only
//! wraps the prepared verifier in a fresh, cheap `ClientConfig` per connection (fresh, so no
//! check resumes another check's TLS session and every handshake is a full one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

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
/// meanwhile, the crypto library's random generator, which seeds itself from CPU jitter on
/// first use (tens of milliseconds of CPU that would otherwise land in the first handshake).
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
            let mut seed = [0u8; 32];
            let _ = provider.secure_random.fill(&mut seed);
        });
        for t in trusts.iter().filter(|t| !t.insecure) {
            let _ = webpki_verifier(t.ca_file);
        }
    });
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
        for cert in read_pem_certs(path)? {
            store
                .add(cert)
                .map_err(|e| format!("ca_file {path}: unusable certificate: {e}"))?;
        }
    }
    Ok(store)
}

/// A client config for the given trust settings. `versions` limits the protocol versions.
pub fn client_config(
    ca_file: Option<&str>,
    insecure: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ClientConfig, String> {
    client_config_wrapped(ca_file, insecure, versions, |v| v)
}

/// [`client_config`] with its verifier wrapped by `wrap` (which delegates the decisions).
pub fn client_config_wrapped(
    ca_file: Option<&str>,
    insecure: bool,
    versions: &[&'static rustls::SupportedProtocolVersion],
    wrap: impl FnOnce(Arc<dyn ServerCertVerifier>) -> Arc<dyn ServerCertVerifier>,
) -> Result<rustls::ClientConfig, String> {
    let verifier: Arc<dyn ServerCertVerifier> = if insecure {
        Arc::new(AcceptAnyCert)
    } else {
        match webpki_verifier(ca_file)? {
            Some(v) => v,
            // No trusted root at all: every certificate has an unknown issuer.
            None => Arc::new(RecordingVerifier::new(None)),
        }
    };
    config_with_verifier(wrap(verifier), versions)
}

/// A client config whose verifier keeps the certificate error it reported, for transports that
/// hand the handshake error back only as text (hickory's DNS over TLS): the typed error still
/// gives the reason code. One config (and verifier) per connection.
pub fn recording_client_config(
    ca_file: Option<&str>,
    insecure: bool,
) -> Result<(rustls::ClientConfig, Arc<RecordingVerifier>), String> {
    let verifier = Arc::new(RecordingVerifier::for_trust(ca_file, insecure)?);
    let config = config_with_verifier(
        Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>,
        rustls::DEFAULT_VERSIONS,
    )?;
    Ok((config, verifier))
}

/// A client config that verifies through `verifier` (which decides trust itself).
pub fn config_with_verifier(
    verifier: Arc<dyn ServerCertVerifier>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ClientConfig, String> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth())
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

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(Ok(mut kept)) = self.chain.as_ref().map(|c| c.lock()) {
            *kept = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|d| d.clone().into_owned())
                .collect();
        }
        let verdict = match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
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

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAnyCert.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        AcceptAnyCert.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        AcceptAnyCert.supported_verify_schemes()
    }
}

/// Accepts any certificate but still checks handshake signatures (`insecure: true`).
#[derive(Debug)]
pub struct AcceptAnyCert;

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

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
        assert!(client_config(Some(good), false, rustls::DEFAULT_VERSIONS).is_ok());
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
        let err = client_config(Some(bad), false, rustls::DEFAULT_VERSIONS).unwrap_err();
        assert!(err.contains("contains no PEM certificate"), "{err}");
    }
}
