//! Facts read from an X.509 certificate (dates, names, issuer), for the kinds that report them.

/// Facts about one certificate.
#[derive(Debug, Clone)]
pub struct CertFacts {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// notBefore, RFC 3339.
    pub not_before: time::OffsetDateTime,
    /// notAfter, RFC 3339.
    pub not_after: time::OffsetDateTime,
    /// DNS and IP subject alternative names.
    pub sans: Vec<String>,
    /// Issuer and subject are the same name (a self-signed certificate or a root).
    pub self_issued: bool,
}

impl CertFacts {
    /// Whole days from `now` until notAfter (negative once expired).
    pub fn days_left(&self, now: time::OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }
}

/// Parse a DER certificate; `None` if it is not a valid X.509 certificate.
pub fn cert_facts(der: &[u8]) -> Option<CertFacts> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let validity = cert.validity();
    let mut sans = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(d) => sans.push((*d).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(ip) => {
                    let text = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip)
                            .map(|b| std::net::IpAddr::from(b).to_string())
                            .ok(),
                        16 => <[u8; 16]>::try_from(*ip)
                            .map(|b| std::net::IpAddr::from(b).to_string())
                            .ok(),
                        _ => None,
                    };
                    if let Some(t) = text {
                        sans.push(t);
                    }
                }
                _ => {}
            }
        }
    }
    Some(CertFacts {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
        sans,
        self_issued: cert.issuer().as_raw() == cert.subject().as_raw(),
    })
}

/// The certificate values of `expect:` conditions: `cert.days_left`, `cert.issuer`,
/// `cert.subject`, `cert.sans`.
pub fn cert_values(c: &CertFacts, now: time::OffsetDateTime, facts: &mut crate::model::Facts) {
    facts.value("cert.days_left", c.days_left(now));
    facts.value("cert.issuer", c.issuer.clone());
    facts.value("cert.subject", c.subject.clone());
    facts.value("cert.sans", c.sans.clone());
}

/// RFC 3339 text for a timestamp (empty if it cannot be formatted).
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
