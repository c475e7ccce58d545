//! ICMP echo messages as bytes: the request this check sends (RFC 792 for IPv4, RFC 4443 for
//! IPv6: type, code, checksum, identifier, sequence, payload) and what a received datagram
//! says about it. Pure functions, no sockets.

/// ICMPv4 echo request / reply and destination unreachable types (RFC 792).
const V4_ECHO_REQUEST: u8 = 8;
const V4_ECHO_REPLY: u8 = 0;
const V4_UNREACHABLE: u8 = 3;
/// ICMPv6 echo request / reply and destination unreachable types (RFC 4443).
const V6_ECHO_REQUEST: u8 = 128;
const V6_ECHO_REPLY: u8 = 129;
const V6_UNREACHABLE: u8 = 1;
/// The fixed IPv6 header in front of the invoking packet quoted by an ICMPv6 error.
const V6_HEADER: usize = 40;

/// How the socket delivers datagrams: what to strip and what the kernel already matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// IPv6 (ICMPv6 types) rather than IPv4.
    pub v6: bool,
    /// A raw socket: an IPv4 datagram starts with its IP header, and every ICMP message of the
    /// host arrives, so the identifier must be compared. A datagram ("ping") socket gets only
    /// the replies to its own identifier, which the kernel rewrites.
    pub raw: bool,
}

/// What one received datagram means for this probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The echo reply to the request with this sequence number.
    Echo(u16),
    /// A router or host says the request with this sequence number cannot be delivered; the
    /// ICMP code names why.
    Unreachable(u16, u8),
    /// Anything else (another program's ping, our own request seen on a raw socket, noise).
    Other,
}

/// An echo request: 8 header bytes, then `payload`. The checksum is filled for IPv4; for IPv6
/// the kernel computes it over the pseudo-header (RFC 3542 §3.1).
pub fn echo_request(v6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let kind = if v6 { V6_ECHO_REQUEST } else { V4_ECHO_REQUEST };
    let mut p = Vec::with_capacity(8 + payload.len());
    p.extend_from_slice(&[kind, 0, 0, 0]);
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&p).to_be_bytes();
        if let Some(slot) = p.get_mut(2..4) {
            slot.copy_from_slice(&sum);
        }
    }
    p
}

/// The internet checksum (RFC 1071): the ones' complement of the ones' complement sum of the
/// 16-bit words, an odd last byte padded with zero.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| match c {
            [a, b] => u32::from(u16::from_be_bytes([*a, *b])),
            [a] => u32::from(u16::from_be_bytes([*a, 0])),
            _ => 0,
        })
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(0xffff)
}

/// Read a received datagram: an echo reply carrying `token` (and, on a raw socket, `ident`),
/// or an error quoting one of our requests.
pub fn read_reply(buf: &[u8], framing: Framing, ident: u16, token: &[u8]) -> Reply {
    let icmp = if framing.raw && !framing.v6 {
        strip_ipv4(buf)
    } else {
        Some(buf)
    };
    let Some(icmp) = icmp else {
        return Reply::Other;
    };
    let (reply, unreachable) = if framing.v6 {
        (V6_ECHO_REPLY, V6_UNREACHABLE)
    } else {
        (V4_ECHO_REPLY, V4_UNREACHABLE)
    };
    match (icmp.first(), header(icmp)) {
        (Some(&t), Some((id, seq))) if t == reply => {
            let ours = !framing.raw || id == ident;
            if ours && icmp.get(8..).is_some_and(|p| p.starts_with(token)) {
                Reply::Echo(seq)
            } else {
                Reply::Other
            }
        }
        (Some(&t), Some(_)) if t == unreachable => quoted(icmp, framing, ident),
        _ => Reply::Other,
    }
}

/// The request an ICMP error quotes (after its 8-byte header: the invoking IP packet).
fn quoted(icmp: &[u8], framing: Framing, ident: u16) -> Reply {
    let code = icmp.get(1).copied().unwrap_or(0);
    let inner = icmp.get(8..).unwrap_or(&[]);
    let (inner, request) = if framing.v6 {
        (inner.get(V6_HEADER..), V6_ECHO_REQUEST)
    } else {
        (strip_ipv4(inner), V4_ECHO_REQUEST)
    };
    match inner.and_then(|i| Some((i.first()?, header(i)?))) {
        Some((&t, (id, seq))) if t == request && (!framing.raw || id == ident) => {
            Reply::Unreachable(seq, code)
        }
        _ => Reply::Other,
    }
}

/// Identifier and sequence number of an ICMP echo header.
fn header(icmp: &[u8]) -> Option<(u16, u16)> {
    let id = icmp.get(4..6)?;
    let seq = icmp.get(6..8)?;
    Some((
        u16::from_be_bytes([*id.first()?, *id.get(1)?]),
        u16::from_be_bytes([*seq.first()?, *seq.get(1)?]),
    ))
}

/// The payload of an IPv4 datagram (its header length is in the low nibble, in words).
fn strip_ipv4(buf: &[u8]) -> Option<&[u8]> {
    let ihl = usize::from(buf.first()? & 0x0f) * 4;
    if ihl < 20 {
        return None;
    }
    buf.get(ihl..)
}

/// Why an unreachable message was sent, from its code (RFC 792, RFC 4443 §3.1).
pub fn unreachable_text(v6: bool, code: u8) -> &'static str {
    match (v6, code) {
        (false, 0) | (true, 0) => "no route to the network",
        (false, 1) | (true, 3) => "the host is unreachable",
        (false, 13) | (true, 1) => "administratively prohibited",
        _ => "destination unreachable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &[u8] = b"infracheck-tok";
    const V4_RAW: Framing = Framing {
        v6: false,
        raw: true,
    };

    fn ipv4_header(payload_len: usize) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0];
        let total = u16::try_from(20 + payload_len).unwrap_or(0).to_be_bytes();
        h[2..4].copy_from_slice(&total);
        h.extend_from_slice(&[0, 0, 0, 0, 64, 1, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
        h
    }

    #[test]
    fn the_checksum_of_a_packet_with_its_checksum_is_zero() {
        let p = echo_request(false, 0x1234, 7, b"abc");
        assert_eq!(checksum(&p), 0, "{p:?}");
        assert_eq!(&p[..2], &[8, 0]);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
        // RFC 1071 §3's example words sum to 0xddf2 → checksum 0x220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(echo_request(true, 1, 2, b"")[0], 128);
    }

    #[test]
    fn an_echo_reply_is_matched_by_identifier_and_token() {
        let mut reply = echo_request(false, 0x1234, 5, TOKEN);
        reply[0] = 0;
        let mut raw = ipv4_header(reply.len());
        raw.extend_from_slice(&reply);
        assert_eq!(read_reply(&raw, V4_RAW, 0x1234, TOKEN), Reply::Echo(5));
        assert_eq!(
            read_reply(&raw, V4_RAW, 0x9999, TOKEN),
            Reply::Other,
            "another ident"
        );
        assert_eq!(read_reply(&raw, V4_RAW, 0x1234, b"other"), Reply::Other);
        // A ping socket delivers the ICMP message alone, with the ident the kernel chose.
        let dgram = Framing {
            v6: false,
            raw: false,
        };
        assert_eq!(read_reply(&reply, dgram, 0x9999, TOKEN), Reply::Echo(5));
        // Our own request, seen by a raw socket on loopback, is not a reply.
        let mut req = ipv4_header(8);
        req.extend_from_slice(&echo_request(false, 0x1234, 5, TOKEN));
        assert_eq!(read_reply(&req, V4_RAW, 0x1234, TOKEN), Reply::Other);
        assert_eq!(
            read_reply(&[0x45, 0], V4_RAW, 1, TOKEN),
            Reply::Other,
            "truncated"
        );
        assert_eq!(read_reply(&[], V4_RAW, 1, TOKEN), Reply::Other);
    }

    #[test]
    fn an_unreachable_error_quoting_our_request_is_read() {
        let req = echo_request(false, 0x1234, 2, TOKEN);
        let mut quoted = ipv4_header(req.len());
        quoted.extend_from_slice(&req);
        let mut err = vec![3, 1, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&quoted);
        let mut raw = ipv4_header(err.len());
        raw.extend_from_slice(&err);
        assert_eq!(
            read_reply(&raw, V4_RAW, 0x1234, TOKEN),
            Reply::Unreachable(2, 1)
        );
        assert_eq!(read_reply(&raw, V4_RAW, 0x4321, TOKEN), Reply::Other);
        // ICMPv6: the quoted packet starts with a 40-byte IPv6 header.
        let v6 = Framing {
            v6: true,
            raw: true,
        };
        let mut err6 = vec![1, 3, 0, 0, 0, 0, 0, 0];
        err6.extend_from_slice(&[0u8; 40]);
        err6.extend_from_slice(&echo_request(true, 0x1234, 9, TOKEN));
        assert_eq!(
            read_reply(&err6, v6, 0x1234, TOKEN),
            Reply::Unreachable(9, 3)
        );
        assert_eq!(unreachable_text(true, 3), "the host is unreachable");
        let mut reply6 = echo_request(true, 0x1234, 4, TOKEN);
        reply6[0] = 129;
        assert_eq!(read_reply(&reply6, v6, 0x1234, TOKEN), Reply::Echo(4));
    }
}
