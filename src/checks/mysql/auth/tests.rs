//! The login against a scripted server on an in-memory stream: each plugin's exchange, the
//! switch, the RSA path, and the refusals.

use super::*;
use mysql_common::constants::StatusFlags;
use mysql_common::packets::HandshakeResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

const NONCE: [u8; 20] = *b"abcdefghijklmnopqrst";
const PW: &str = "s3cret-sentinel-77";

fn server_caps() -> CapabilityFlags {
    CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_TRANSACTIONS
}

fn greeting_bytes(caps: CapabilityFlags, plugin: &str) -> Vec<u8> {
    let mut tail = NONCE[8..].to_vec();
    tail.push(0);
    let hello = HandshakePacket::new(
        10,
        &b"8.0.36"[..],
        7,
        NONCE[..8].try_into().unwrap(),
        Some(tail),
        caps,
        45,
        StatusFlags::empty(),
        Some(plugin.as_bytes()),
    );
    let mut out = Vec::new();
    hello.serialize(&mut out);
    out
}

async fn read_packet(s: &mut DuplexStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h[3], p)
}

async fn write_packet(s: &mut DuplexStream, seq: u8, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap().to_le_bytes();
    s.write_all(&[len[0], len[1], len[2], seq]).await.unwrap();
    s.write_all(payload).await.unwrap();
}

const OK: &[u8] = &[0x00, 0, 0, 2, 0, 0, 0];

fn who(password: &str) -> Credentials<'_> {
    Credentials {
        user: "app",
        password,
        database: Some("appdb"),
        clear_without_tls: false,
    }
}

/// Send the greeting, run the login with `server` playing the server's side, and return the
/// login's result and what the server returned.
async fn exchange<F, Fut, T>(
    plugin: &str,
    password: &str,
    secure: bool,
    server: F,
) -> (Result<(), WireError>, T)
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (client, mut srv) = tokio::io::duplex(1 << 16);
    write_packet(&mut srv, 0, &greeting_bytes(server_caps(), plugin)).await;
    let task = tokio::spawn(server(srv));
    let mut conn = Conn::new(Box::new(client));
    let hello = conn.read().await.unwrap();
    let greeting = Greeting::parse(&hello, false, true).unwrap();
    let out = login(&mut conn, &greeting, who(password), secure).await;
    drop(conn);
    (out, task.await.unwrap())
}

fn response_of(p: &[u8]) -> (Vec<u8>, Vec<u8>, Option<Vec<u8>>) {
    let r: HandshakeResponse<'_> = ParseBuf(p).parse(()).unwrap();
    (
        r.user().to_vec(),
        r.scramble_buf().to_vec(),
        r.db_name().map(<[u8]>::to_vec),
    )
}

#[tokio::test]
async fn native_password_sends_the_scramble_user_and_database() {
    let (out, (seq, user, proof, db)) =
        exchange("mysql_native_password", PW, false, |mut s| async move {
            let (seq, p) = read_packet(&mut s).await;
            let (user, proof, db) = response_of(&p);
            write_packet(&mut s, 2, OK).await;
            (seq, user, proof, db)
        })
        .await;
    out.unwrap();
    assert_eq!(seq, 1);
    assert_eq!(user, b"app");
    assert_eq!(db.as_deref(), Some(&b"appdb"[..]));
    let want = mysql_common::scramble::scramble_native(&NONCE, PW.as_bytes()).unwrap();
    assert_eq!(proof, want);
}

#[tokio::test]
async fn a_wrong_password_is_the_servers_error() {
    let (out, ()) = exchange(
        "mysql_native_password",
        "wrong",
        false,
        |mut s| async move {
            let _ = read_packet(&mut s).await;
            let mut err = vec![0xFF, 0x15, 0x04, b'#'];
            err.extend_from_slice(b"28000Access denied for user 'app'@'localhost'");
            write_packet(&mut s, 2, &err).await;
        },
    )
    .await;
    match out {
        Err(WireError::Server { code, state, .. }) => {
            assert_eq!(code, 1045);
            assert_eq!(state.as_deref(), Some("28000"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn caching_sha2_fast_path() {
    let (out, proof) = exchange("caching_sha2_password", PW, false, |mut s| async move {
        let (_, p) = read_packet(&mut s).await;
        write_packet(&mut s, 2, &[0x01, 0x03]).await;
        write_packet(&mut s, 3, OK).await;
        response_of(&p).1
    })
    .await;
    out.unwrap();
    let want = mysql_common::scramble::scramble_sha256(&NONCE, PW.as_bytes()).unwrap();
    assert_eq!(proof, want);
}

#[tokio::test]
async fn caching_sha2_full_authentication_over_tls_sends_the_password() {
    let (out, clear) = exchange("caching_sha2_password", PW, true, |mut s| async move {
        let _ = read_packet(&mut s).await;
        write_packet(&mut s, 2, &[0x01, 0x04]).await;
        let (seq, clear) = read_packet(&mut s).await;
        assert_eq!(seq, 3);
        write_packet(&mut s, 4, OK).await;
        clear
    })
    .await;
    out.unwrap();
    assert_eq!(clear, format!("{PW}\0").as_bytes());
}

#[tokio::test]
async fn caching_sha2_full_authentication_without_tls_encrypts_with_the_servers_key() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{
        KeySize, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey,
    };
    use base64::Engine as _;
    let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
    let spki = private.public_key().as_der().unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki.as_ref());
    let mut pem = b"\x01-----BEGIN PUBLIC KEY-----\n".to_vec();
    for line in b64.as_bytes().chunks(64) {
        pem.extend_from_slice(line);
        pem.push(b'\n');
    }
    pem.extend_from_slice(b"-----END PUBLIC KEY-----\n");
    let (out, (ask, sealed)) = exchange("caching_sha2_password", PW, false, |mut s| async move {
        let _ = read_packet(&mut s).await;
        write_packet(&mut s, 2, &[0x01, 0x04]).await;
        let (_, ask) = read_packet(&mut s).await;
        write_packet(&mut s, 4, &pem).await;
        let (_, sealed) = read_packet(&mut s).await;
        write_packet(&mut s, 6, OK).await;
        (ask, sealed)
    })
    .await;
    out.unwrap();
    assert_eq!(ask, [0x02]);
    assert!(
        !sealed.windows(PW.len()).any(|w| w == PW.as_bytes()),
        "the password went in clear"
    );
    let private = OaepPrivateDecryptingKey::new(private).unwrap();
    let mut plain = vec![0u8; private.min_output_size()];
    let plain = private
        .decrypt(&OAEP_SHA1_MGF1SHA1, &sealed, &mut plain, None)
        .unwrap();
    let clear: Vec<u8> = plain
        .iter()
        .zip(NONCE.iter().cycle())
        .map(|(c, n)| c ^ n)
        .collect();
    assert_eq!(clear, format!("{PW}\0").as_bytes());
}

#[tokio::test]
async fn a_switch_to_native_password_uses_the_new_scramble() {
    let fresh = *b"ZYXWVUTSRQPONMLKJIHG";
    let (out, proof) = exchange(
        "caching_sha2_password",
        PW,
        false,
        move |mut s| async move {
            let _ = read_packet(&mut s).await;
            let mut switch = vec![0xFE];
            switch.extend_from_slice(b"mysql_native_password\0");
            switch.extend_from_slice(&fresh);
            switch.push(0);
            write_packet(&mut s, 2, &switch).await;
            let (_, proof) = read_packet(&mut s).await;
            write_packet(&mut s, 4, OK).await;
            proof
        },
    )
    .await;
    out.unwrap();
    let want = mysql_common::scramble::scramble_native(&fresh, PW.as_bytes()).unwrap();
    assert_eq!(proof, want);
}

#[tokio::test]
async fn an_unknown_plugin_and_clear_text_without_tls_are_refused() {
    for (plugin, needle) in [
        ("client_ed25519", "`client_ed25519`"),
        ("mysql_clear_password", "only over TLS"),
    ] {
        let (out, ()) = exchange(
            "mysql_native_password",
            PW,
            false,
            move |mut s| async move {
                let _ = read_packet(&mut s).await;
                let mut switch = vec![0xFE];
                switch.extend_from_slice(plugin.as_bytes());
                switch.push(0);
                switch.extend_from_slice(&NONCE);
                write_packet(&mut s, 2, &switch).await;
                // The client sends nothing more: the stream ends.
                let mut rest = Vec::new();
                let _ = s.read_to_end(&mut rest).await;
                assert!(rest.is_empty(), "{rest:?}");
            },
        )
        .await;
        match out {
            Err(WireError::Unsupported(m)) => {
                assert!(m.contains(needle), "{m}");
                assert!(!m.contains(PW), "{m}");
                assert!(!m.contains('\n'), "{m}");
            }
            other => panic!("{plugin}: {other:?}"),
        }
    }
}

#[test]
fn greeting_asks_for_tls_only_when_the_server_has_it() {
    let hello = greeting_bytes(server_caps(), "mysql_native_password");
    match Greeting::parse(&hello, true, false) {
        Err(WireError::Unsupported(m)) => assert!(m.contains("does not support TLS"), "{m}"),
        other => panic!("{:?}", other.err()),
    }
    let hello = greeting_bytes(
        server_caps() | CapabilityFlags::CLIENT_SSL,
        "mysql_native_password",
    );
    let g = Greeting::parse(&hello, true, false).unwrap();
    assert!(g.capabilities.contains(CapabilityFlags::CLIENT_SSL));
    assert!(
        !g.capabilities
            .contains(CapabilityFlags::CLIENT_CONNECT_WITH_DB)
    );
    let req = g.ssl_request();
    assert_eq!(req.len(), 32);
    let caps = u32::from_le_bytes(req[..4].try_into().unwrap());
    assert_ne!(caps & CapabilityFlags::CLIENT_SSL.bits(), 0);
    let mut refusal = vec![0xFF, 0x10, 0x04];
    refusal.extend_from_slice(b"Too many connections");
    assert!(matches!(
        Greeting::parse(&refusal, false, false),
        Err(WireError::Server { code: 1040, .. })
    ));
    assert!(matches!(
        Greeting::parse(&[10, b'x'], false, false),
        Err(WireError::Protocol(_))
    ));
}

#[test]
fn a_pkcs1_public_key_is_wrapped_into_the_same_spki() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rsa::{KeySize, PrivateDecryptingKey};
    use base64::Engine as _;
    let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
    let spki = private.public_key().as_der().unwrap().as_ref().to_vec();
    // For a 2048-bit key the SPKI is a fixed 24-byte prefix and the PKCS#1 key.
    let pkcs1 = &spki[24..];
    assert_eq!(spki_of_pkcs1(pkcs1), spki);
    let pem = format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs1)
    );
    assert_eq!(public_key_der(pem.as_bytes()), Some(spki));
    assert!(matches!(
        rsa_seal(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            b"x\0",
            &NONCE
        ),
        Err(WireError::Protocol(_))
    ));
}

#[test]
fn the_scramble_length_byte_is_where_the_clamp_looks() {
    let hello = greeting_bytes(server_caps(), "mysql_native_password");
    // "8.0.36" and its NUL after the protocol byte: the length byte is at 1 + 7 + 20.
    assert_eq!(hello[28], 21, "8 + 12 + the NUL");
    let mut hostile = hello.clone();
    hostile[28] = 0x80;
    assert_eq!(clamp_scramble_len(&hostile)[28], 0);
    assert!(Greeting::parse(&hostile, false, false).is_ok());
}

proptest::proptest! {
    /// Whatever a server sends as its greeting, parsing it never panics.
    #[test]
    fn any_greeting_parses_or_fails_without_panicking(
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
        len in proptest::prelude::any::<u8>(),
    ) {
        let mut hello = greeting_bytes(server_caps(), "caching_sha2_password");
        hello[28] = len;
        let cut = tail.len().min(hello.len());
        let mut mixed = hello[..hello.len() - cut].to_vec();
        mixed.extend_from_slice(&tail);
        let _ = Greeting::parse(&mixed, true, true);
        let _ = Greeting::parse(&tail, false, false);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever a server answers to the handshake response (up to three packets), the login
    /// ends with a result and never panics, and an error never carries the password.
    #[test]
    fn any_login_reply_ends_without_panicking(
        replies in proptest::collection::vec(
            proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), 1..4),
        first in proptest::sample::select(vec![0x00u8, 0x01, 0xFE, 0xFF, 0x42]),
        plugin in proptest::sample::select(vec!["mysql_native_password", "caching_sha2_password"]),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let out = rt.block_on(exchange(plugin, PW, false, move |mut s| async move {
            let _ = read_packet(&mut s).await;
            let mut seq = 2u8;
            for (i, mut r) in replies.into_iter().enumerate() {
                if i == 0 {
                    r.insert(0, first);
                }
                write_packet(&mut s, seq, &r).await;
                seq = seq.wrapping_add(2);
            }
            // No more replies: the client reads the end of the stream rather than wait; what
            // it still writes is drained until it hangs up.
            let _ = s.shutdown().await;
            let mut rest = Vec::new();
            let _ = s.read_to_end(&mut rest).await;
        }));
        if let Err(e) = out.0 {
            proptest::prop_assert!(!e.to_string().contains(PW));
        }
    }
}
