//! The connection phase of the MySQL protocol: the server's greeting, the SSL request, the
//! handshake response and the authentication exchange up to the server's OK ("Connection
//! Phase" of the MySQL client/server protocol documentation). Supported:
//! `mysql_native_password`, `caching_sha2_password` (the fast path; the full authentication
//! sends the password over TLS as the protocol requires, and without TLS encrypts it with
//! the server's RSA public key, RSA-OAEP), one authentication switch, and
//! `mysql_clear_password` over TLS. Any other plugin is a clear one-line error.

use mysql_common::constants::CapabilityFlags;
use mysql_common::io::ParseBuf;
use mysql_common::packets::{
    AuthPlugin, AuthSwitchRequest, HandshakePacket, HandshakeResponse, SslRequest,
};
use mysql_common::proto::MySerialize;

use super::wire::{Conn, MAX_PACKET, WireError, parse_err, protocol};
use crate::checks::common::escape_controls;

/// The most packets the server may send before the login ends (greeting excluded): a switch,
/// the full authentication's two replies and the OK are five.
const MAX_ROUNDS: usize = 8;

/// `utf8mb4_general_ci`, and `utf8_general_ci` for servers older than 5.5.3.
const UTF8MB4: u8 = 45;
const UTF8: u8 = 33;

/// Who logs in.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The user name (may be empty).
    pub user: &'a str,
    /// The password (may be empty). Never printed.
    pub password: &'a str,
    /// The default database, if any.
    pub database: Option<&'a str>,
    /// Send the password in clear text without TLS when the server asks for
    /// `mysql_clear_password` (the URL's `enable_cleartext_plugin=true`).
    pub clear_without_tls: bool,
}

/// The server's greeting, parsed.
pub struct Greeting {
    /// The capabilities this client asks for, as far as the server has them.
    pub capabilities: CapabilityFlags,
    /// The server's version as numbers (`(0, 0, 0)` when it cannot be read).
    version: (u16, u16, u16),
    /// The 20 bytes the password is scrambled with.
    nonce: Vec<u8>,
    /// The plugin the server expects first.
    plugin: AuthPlugin<'static>,
}

impl Greeting {
    /// Parse the server's first packet (an error packet: the server refuses the connection,
    /// e.g. too many connections). `tls`: the client will ask for TLS; `database`: it names a
    /// default database.
    pub fn parse(payload: &[u8], tls: bool, database: bool) -> Result<Greeting, WireError> {
        if payload.first() == Some(&0xFF) {
            return Err(parse_err(payload));
        }
        let payload = clamp_scramble_len(payload);
        let hello: HandshakePacket<'_> = ParseBuf(&payload)
            .parse(())
            .map_err(|e| protocol(format!("invalid server greeting: {e}")))?;
        if hello.protocol_version() != 10 {
            return Err(protocol(format!(
                "protocol version {} (10 expected)",
                hello.protocol_version()
            )));
        }
        let server = hello.capabilities();
        if !server.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
            return Err(WireError::Unsupported(
                "the server does not speak protocol 4.1 (MySQL 4.1 or later is required)"
                    .to_owned(),
            ));
        }
        let mut wanted = CapabilityFlags::CLIENT_PROTOCOL_41
            | CapabilityFlags::CLIENT_SECURE_CONNECTION
            | CapabilityFlags::CLIENT_LONG_PASSWORD
            | CapabilityFlags::CLIENT_TRANSACTIONS
            | CapabilityFlags::CLIENT_MULTI_STATEMENTS
            | CapabilityFlags::CLIENT_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
            | CapabilityFlags::CLIENT_PLUGIN_AUTH;
        if database {
            wanted |= CapabilityFlags::CLIENT_CONNECT_WITH_DB;
        }
        if tls {
            if !server.contains(CapabilityFlags::CLIENT_SSL) {
                return Err(WireError::Unsupported(
                    "the server does not support TLS (`tls: require`)".to_owned(),
                ));
            }
            wanted |= CapabilityFlags::CLIENT_SSL;
        }
        let version = hello
            .maria_db_server_version_parsed()
            .or_else(|| hello.server_version_parsed())
            .unwrap_or((0, 0, 0));
        // As the server's own client: answer with caching_sha2_password when the server
        // starts with it, else with mysql_native_password (a server that wants another plugin
        // asks for it with a switch request).
        let plugin = match hello.auth_plugin() {
            Some(AuthPlugin::CachingSha2Password) => AuthPlugin::CachingSha2Password,
            _ => AuthPlugin::MysqlNativePassword,
        };
        Ok(Greeting {
            capabilities: server & wanted,
            version,
            nonce: hello.nonce(),
            plugin,
        })
    }

    fn collation(&self) -> u8 {
        if self.version >= (5, 5, 3) {
            UTF8MB4
        } else {
            UTF8
        }
    }

    /// The SSL request: the client's capabilities, after which both sides start TLS.
    pub fn ssl_request(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        SslRequest::new(self.capabilities, max_packet(), self.collation()).serialize(&mut buf);
        buf
    }
}

/// The greeting with its scramble length byte cleared when it is 0x80 or more: the packet
/// parser subtracts 8 from it as a signed byte, which overflows for 0x80..0x87, and a server
/// sends 21 (a cleared byte reads as the minimum, 13 bytes, as any value up to 21 does).
fn clamp_scramble_len(payload: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    // protocol version, server version and its NUL, then 4 + 8 + 1 + 2 + 1 + 2 + 2 bytes.
    let at = payload
        .iter()
        .skip(1)
        .position(|b| *b == 0)
        .map(|nul| 1 + nul + 1 + 20);
    match at.and_then(|i| payload.get(i).map(|b| (i, *b))) {
        Some((i, b)) if b >= 0x80 => {
            let mut fixed = payload.to_vec();
            if let Some(x) = fixed.get_mut(i) {
                *x = 0;
            }
            std::borrow::Cow::Owned(fixed)
        }
        _ => std::borrow::Cow::Borrowed(payload),
    }
}

fn max_packet() -> u32 {
    u32::try_from(MAX_PACKET).unwrap_or(u32::MAX)
}

/// Log in: the handshake response, then the exchange the plugins ask for, until the server's
/// OK (`Ok`) or error packet (`WireError::Server`). `secure`: the connection is TLS.
pub async fn login(
    conn: &mut Conn,
    greeting: &Greeting,
    who: Credentials<'_>,
    secure: bool,
) -> Result<(), WireError> {
    let mut plugin = greeting.plugin.clone();
    let mut nonce = greeting.nonce.clone();
    let data = respond(&plugin, who, &nonce, secure)?;
    let mut response = Vec::new();
    HandshakeResponse::new(
        Some(data.as_slice()),
        greeting.version,
        Some(who.user.as_bytes()),
        who.database.map(str::as_bytes),
        Some(plugin.borrow()),
        greeting.capabilities,
        None,
        max_packet(),
    )
    .serialize(&mut response);
    conn.write(&response).await?;
    let mut switched = false;
    for _ in 0..MAX_ROUNDS {
        let p = conn.read().await?;
        match p.first() {
            Some(0x00) => return Ok(()),
            Some(0xFF) => return Err(parse_err(&p)),
            Some(0xFE) if !switched => {
                switched = true;
                if p.len() == 1 {
                    return Err(unsupported(b"mysql_old_password"));
                }
                let switch: AuthSwitchRequest<'_> = ParseBuf(&p)
                    .parse(())
                    .map_err(|e| protocol(format!("invalid authentication switch: {e}")))?;
                plugin = switch.auth_plugin().into_owned();
                nonce = switch.plugin_data().to_vec();
                let data = respond(&plugin, who, &nonce, secure)?;
                conn.write(&data).await?;
            }
            Some(0x01) if plugin == AuthPlugin::CachingSha2Password => match p.get(1) {
                // The fast path: the server had the password cached; its OK follows.
                Some(0x03) => {}
                // The full authentication.
                Some(0x04) => full_sha2(conn, who.password, &nonce, secure).await?,
                _ => return Err(protocol("unexpected caching_sha2_password data")),
            },
            Some(b) => {
                return Err(protocol(format!(
                    "unexpected packet 0x{b:02X} during the login"
                )));
            }
            None => return Err(protocol("an empty packet during the login")),
        }
    }
    Err(protocol("the login did not end"))
}

/// The password's proof for `plugin` and the scramble `nonce` (empty for an empty password).
fn respond(
    plugin: &AuthPlugin<'_>,
    who: Credentials<'_>,
    nonce: &[u8],
    secure: bool,
) -> Result<Vec<u8>, WireError> {
    let pass = who.password.as_bytes();
    match plugin {
        AuthPlugin::MysqlNativePassword => Ok(mysql_common::scramble::scramble_native(nonce, pass)
            .map(|s| s.to_vec())
            .unwrap_or_default()),
        AuthPlugin::CachingSha2Password => Ok(mysql_common::scramble::scramble_sha256(nonce, pass)
            .map(|s| s.to_vec())
            .unwrap_or_default()),
        AuthPlugin::MysqlClearPassword if secure || who.clear_without_tls => {
            let mut clear = pass.to_vec();
            clear.push(0);
            Ok(clear)
        }
        AuthPlugin::MysqlClearPassword => Err(WireError::Unsupported(
            "the server asks for the password in clear text (mysql_clear_password): infracheck \
             sends it only over TLS (`tls: require`)"
                .to_owned(),
        )),
        other => Err(unsupported(other.as_bytes())),
    }
}

fn unsupported(name: &[u8]) -> WireError {
    WireError::Unsupported(format!(
        "the server asks for the authentication plugin `{}`, which infracheck does not support \
         (mysql_native_password, caching_sha2_password, mysql_clear_password over TLS)",
        escape_controls(&String::from_utf8_lossy(name))
            .chars()
            .take(64)
            .collect::<String>()
    ))
}

/// caching_sha2_password's full authentication: the password itself over TLS, else
/// encrypted with the server's RSA public key (asked for with `0x02`).
async fn full_sha2(
    conn: &mut Conn,
    password: &str,
    nonce: &[u8],
    secure: bool,
) -> Result<(), WireError> {
    let mut clear = password.as_bytes().to_vec();
    clear.push(0);
    if secure {
        return conn.write(&clear).await;
    }
    conn.write(&[0x02]).await?;
    let key = conn.read().await?;
    let pem = match key.split_first() {
        Some((0x01, pem)) => pem,
        Some((0xFF, _)) => return Err(parse_err(&key)),
        _ => return Err(protocol("no RSA public key from the server")),
    };
    let sealed = rsa_seal(pem, &clear, nonce)?;
    conn.write(&sealed).await
}

/// Encrypt `clear` (the password and its NUL) XORed with `nonce` with the PEM RSA public key
/// `pem`, RSA-OAEP with SHA-1 as the server decrypts it.
pub fn rsa_seal(pem: &[u8], clear: &[u8], nonce: &[u8]) -> Result<Vec<u8>, WireError> {
    use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey, PublicEncryptingKey};
    let bad_key = || protocol("the server's RSA public key cannot be used");
    if nonce.is_empty() {
        return Err(protocol("no scramble to encrypt the password with"));
    }
    let der = public_key_der(pem).ok_or_else(bad_key)?;
    let key = PublicEncryptingKey::from_der(&der).map_err(|_| bad_key())?;
    let key = OaepPublicEncryptingKey::new(key).map_err(|_| bad_key())?;
    let mixed: Vec<u8> = clear
        .iter()
        .zip(nonce.iter().cycle())
        .map(|(p, n)| p ^ n)
        .collect();
    if mixed.len() > key.max_plaintext_size(&OAEP_SHA1_MGF1SHA1) {
        return Err(WireError::Unsupported(
            "the password is too long for the server's RSA key: use `tls: require`".to_owned(),
        ));
    }
    let mut out = vec![0u8; key.ciphertext_size()];
    let n = key
        .encrypt(&OAEP_SHA1_MGF1SHA1, &mixed, &mut out, None)
        .map_err(|_| bad_key())?
        .len();
    out.truncate(n);
    Ok(out)
}

/// The DER SubjectPublicKeyInfo of a PEM `PUBLIC KEY`, or of a PEM `RSA PUBLIC KEY` (PKCS#1,
/// wrapped into one).
fn public_key_der(pem: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let text = std::str::from_utf8(pem).ok()?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "));
    let label = lines
        .next()?
        .strip_prefix("-----BEGIN ")?
        .strip_suffix("-----")?
        .to_owned();
    let body: String = lines.take_while(|l| !l.starts_with("-----END ")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    match label.as_str() {
        "PUBLIC KEY" => Some(der),
        "RSA PUBLIC KEY" => Some(spki_of_pkcs1(&der)),
        _ => None,
    }
}

/// SubjectPublicKeyInfo { rsaEncryption, NULL; BIT STRING of the PKCS#1 key } (RFC 8017
/// appendix A.1, RFC 5280 section 4.1).
fn spki_of_pkcs1(pkcs1: &[u8]) -> Vec<u8> {
    const ALGORITHM: &[u8] = &[
        0x30, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0x03];
    der_len(pkcs1.len() + 1, &mut bits);
    bits.push(0x00);
    bits.extend_from_slice(pkcs1);
    let mut out = vec![0x30];
    der_len(ALGORITHM.len() + bits.len(), &mut out);
    out.extend_from_slice(ALGORITHM);
    out.extend_from_slice(&bits);
    out
}

fn der_len(n: usize, out: &mut Vec<u8>) {
    let bytes = n.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    match (n, bytes.get(skip..)) {
        (0..=0x7F, _) => out.push(u8::try_from(n).unwrap_or(0)),
        (_, Some(tail)) => {
            out.push(0x80 | u8::try_from(tail.len()).unwrap_or(0));
            out.extend_from_slice(tail);
        }
        (_, None) => out.push(0),
    }
}

#[cfg(test)]
mod tests;
