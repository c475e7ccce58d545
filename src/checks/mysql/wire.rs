//! The MySQL client/server protocol's framing and the text protocol's result sets, over any
//! byte stream (plain TCP or TLS): every packet is a 3-byte little-endian length, a sequence
//! number and the payload (the "MySQL Client/Server Protocol" of the MySQL and MariaDB
//! documentation). Every read is bounded: a payload longer than [`MAX_PACKET`] and a result
//! with more than [`MAX_COLUMNS`] columns are errors, and the rows of a result are counted,
//! not kept (the check judges the row count and the first value only).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufStream};

use crate::checks::common::db::QueryResult;

/// The largest payload accepted, also the `max_packet_size` announced to the server.
pub const MAX_PACKET: usize = 16 * 1024 * 1024;

/// The most columns a result may have (MySQL allows 4096 per table).
pub const MAX_COLUMNS: u64 = 65_535;

/// The most result sets one query may return (a stored procedure returns one per statement).
const MAX_RESULT_SETS: usize = 1024;

/// A payload of this length continues in the next packet.
const CHUNK: usize = 0xFF_FFFF;

/// `SERVER_MORE_RESULTS_EXISTS`: another result set follows this one.
const MORE_RESULTS: u16 = 0x0008;

/// A byte stream the connection runs over (TCP, then TLS when it is negotiated).
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a connection or a query failed.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The server answered with an error packet.
    #[error("{}", server_message(.code, .state, .message))]
    Server {
        /// The server's error number (`1045`).
        code: u16,
        /// The SQLSTATE (`28000`), when the server sent one.
        state: Option<String>,
        /// The server's message.
        message: String,
    },
    /// The connection failed or closed.
    #[error("connection lost: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something this client does not expect.
    #[error("unexpected reply from the server: {0}")]
    Protocol(String),
    /// The server asks for something this client does not do.
    #[error("{0}")]
    Unsupported(String),
}

fn server_message(code: &u16, state: &Option<String>, message: &str) -> String {
    match state {
        Some(s) => format!("{message} ({code} {s})"),
        None => format!("{message} ({code})"),
    }
}

/// A protocol error.
pub fn protocol(what: impl Into<String>) -> WireError {
    WireError::Protocol(what.into())
}

/// Parse an error packet (`0xFF`, the error number, `#` and the SQLSTATE when present, the
/// message).
pub fn parse_err(payload: &[u8]) -> WireError {
    let Some((&0xFF, rest)) = payload.split_first() else {
        return protocol("not an error packet");
    };
    let Some((code, rest)) = rest.split_first_chunk::<2>() else {
        return protocol("truncated error packet");
    };
    let code = u16::from_le_bytes(*code);
    let (state, message) = match rest.split_first() {
        Some((b'#', tail)) if tail.len() >= 5 => {
            let (state, message) = tail.split_at(5);
            (Some(String::from_utf8_lossy(state).into_owned()), message)
        }
        _ => (None, rest),
    };
    WireError::Server {
        code,
        state,
        message: String::from_utf8_lossy(message).into_owned(),
    }
}

/// One connection: the buffered stream and the packet sequence number.
pub struct Conn {
    io: BufStream<Box<dyn Stream>>,
    seq: u8,
}

impl Conn {
    /// A connection over `stream`, expecting the server's first packet.
    pub fn new(stream: Box<dyn Stream>) -> Self {
        Conn {
            io: BufStream::new(stream),
            seq: 0,
        }
    }

    /// The stream, to wrap it in TLS, and the sequence number to go on with. Only called when
    /// the server waits for the client (after the SSL request), so nothing buffered is lost.
    pub fn into_parts(self) -> (Box<dyn Stream>, u8) {
        (self.io.into_inner(), self.seq)
    }

    /// A connection over `stream` going on from sequence number `seq` (after the TLS
    /// handshake).
    pub fn resume(stream: Box<dyn Stream>, seq: u8) -> Self {
        Conn {
            io: BufStream::new(stream),
            seq,
        }
    }

    /// Read one payload (joining the packets of a payload of 16 MiB or more).
    pub async fn read(&mut self) -> Result<Vec<u8>, WireError> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            self.io.read_exact(&mut header).await?;
            let [a, b, c, seq] = header;
            let len = usize::from(a) | usize::from(b) << 8 | usize::from(c) << 16;
            if seq != self.seq {
                return Err(protocol(format!(
                    "packet {seq} out of order (expected {})",
                    self.seq
                )));
            }
            self.seq = self.seq.wrapping_add(1);
            if payload.len() + len > MAX_PACKET {
                return Err(protocol(format!(
                    "a packet larger than {} MiB",
                    MAX_PACKET >> 20
                )));
            }
            let start = payload.len();
            payload.resize(start + len, 0);
            if let Some(buf) = payload.get_mut(start..) {
                self.io.read_exact(buf).await?;
            }
            if len < CHUNK {
                return Ok(payload);
            }
        }
    }

    /// Write one payload (split into packets of less than 16 MiB) and flush.
    pub async fn write(&mut self, payload: &[u8]) -> Result<(), WireError> {
        // A payload of exactly 16 MiB (or a multiple) ends with an empty packet; an empty
        // payload is one empty packet. Each round writes a full chunk or ends.
        let mut rest = payload;
        loop {
            let (chunk, tail) = rest.split_at(rest.len().min(CHUNK));
            self.write_packet(chunk).await?;
            if chunk.len() < CHUNK {
                break;
            }
            rest = tail;
        }
        self.io.flush().await?;
        Ok(())
    }

    async fn write_packet(&mut self, chunk: &[u8]) -> Result<(), WireError> {
        let len = u32::try_from(chunk.len()).unwrap_or(0).to_le_bytes();
        let [a, b, c, _] = len;
        self.io.write_all(&[a, b, c, self.seq]).await?;
        self.io.write_all(chunk).await?;
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }

    /// Say goodbye (`COM_QUIT`; the server closes without answering). Errors are ignored:
    /// the check has its result.
    pub async fn quit(&mut self) {
        self.seq = 0;
        let _ = self.write(&[0x01]).await;
    }

    /// Run `sql` with the text protocol (`COM_QUERY`) and read every result set: the row count
    /// and the first value of the first one that has columns (none: no row, no value, as for
    /// a statement that returns no result set).
    pub async fn query(&mut self, sql: &str) -> Result<QueryResult, WireError> {
        self.seq = 0;
        let mut command = Vec::with_capacity(sql.len() + 1);
        command.push(0x03); // COM_QUERY
        command.extend_from_slice(sql.as_bytes());
        self.write(&command).await?;
        let mut result: Option<QueryResult> = None;
        for _ in 0..MAX_RESULT_SETS {
            let (set, more) = self.result_set().await?;
            if result.is_none() {
                result = set;
            }
            if !more {
                return Ok(result.unwrap_or_default());
            }
        }
        Err(protocol(format!("more than {MAX_RESULT_SETS} result sets")))
    }

    /// Read one result set: `None` for an OK packet (a statement without a result set), and
    /// whether another result set follows.
    async fn result_set(&mut self) -> Result<(Option<QueryResult>, bool), WireError> {
        let first = self.read().await?;
        let columns = match first.first() {
            Some(0x00) => return Ok((None, ok_status(&first) & MORE_RESULTS != 0)),
            Some(0xFF) => return Err(parse_err(&first)),
            Some(0xFB) => return Err(protocol("a LOCAL INFILE request")),
            _ => {
                let mut at = first.as_slice();
                lenenc_int(&mut at).ok_or_else(|| protocol("invalid column count"))?
            }
        };
        if columns == 0 || columns > MAX_COLUMNS {
            return Err(protocol(format!("a result with {columns} columns")));
        }
        for _ in 0..columns {
            let def = self.read().await?;
            if def.first() == Some(&0xFF) {
                return Err(parse_err(&def));
            }
        }
        // Without CLIENT_DEPRECATE_EOF, an EOF packet ends the column definitions.
        let eof = self.read().await?;
        if !is_eof(&eof) {
            return Err(protocol("no EOF after the column definitions"));
        }
        let mut set = QueryResult::default();
        // Each row is one packet: the loop ends at the EOF (or error) packet; the server
        // cannot send more rows than it has packets for, and the check's timeout bounds it.
        loop {
            let row = self.read().await?;
            if is_eof(&row) {
                return Ok((Some(set), eof_status(&row) & MORE_RESULTS != 0));
            }
            if row.first() == Some(&0xFF) {
                return Err(parse_err(&row));
            }
            if set.rows == 0 {
                set.first = Some(first_cell(&row)?);
            }
            set.rows = set.rows.saturating_add(1);
        }
    }
}

/// An EOF packet: `0xFE` and at most 8 more bytes (a longer payload starting with `0xFE` is a
/// row whose first value is longer than 16 MiB).
fn is_eof(p: &[u8]) -> bool {
    p.first() == Some(&0xFE) && p.len() < 9
}

/// The status flags of an EOF packet (`0xFE`, warnings, status).
fn eof_status(p: &[u8]) -> u16 {
    match p.get(3..5) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// The status flags of an OK packet (`0x00`, affected rows, last insert id, status).
fn ok_status(p: &[u8]) -> u16 {
    let mut at = p.get(1..).unwrap_or_default();
    if lenenc_int(&mut at).is_none() || lenenc_int(&mut at).is_none() {
        return 0;
    }
    match at.get(..2) {
        Some(&[a, b]) => u16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// The first value of a text-protocol row: `0xFB` is NULL, else a length-encoded string.
fn first_cell(row: &[u8]) -> Result<Option<String>, WireError> {
    if row.first() == Some(&0xFB) {
        return Ok(None);
    }
    let mut at = row;
    let len = lenenc_int(&mut at).ok_or_else(|| protocol("invalid row"))?;
    let value = usize::try_from(len)
        .ok()
        .and_then(|n| at.get(..n))
        .ok_or_else(|| protocol("truncated row"))?;
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

/// Read a length-encoded integer from the front of `at`, advancing it.
pub fn lenenc_int(at: &mut &[u8]) -> Option<u64> {
    let (&first, rest) = at.split_first()?;
    let width = match first {
        0..=0xFA => {
            *at = rest;
            return Some(u64::from(first));
        }
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return None,
    };
    let bytes = rest.get(..width)?;
    let mut v = [0u8; 8];
    v.get_mut(..width)?.copy_from_slice(bytes);
    *at = rest.get(width..)?;
    Some(u64::from_le_bytes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(seq: u8, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap_or(0).to_le_bytes();
        let mut out = vec![len[0], len[1], len[2], seq];
        out.extend_from_slice(payload);
        out
    }

    fn lenenc_str(s: &[u8]) -> Vec<u8> {
        let mut out = vec![u8::try_from(s.len()).unwrap_or(0)];
        out.extend_from_slice(s);
        out
    }

    #[test]
    fn length_encoded_integers() {
        let mut at: &[u8] = &[
            0x05, 0xFC, 0x34, 0x12, 0xFD, 1, 2, 3, 0xFE, 1, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(lenenc_int(&mut at), Some(5));
        assert_eq!(lenenc_int(&mut at), Some(0x1234));
        assert_eq!(lenenc_int(&mut at), Some(0x0003_0201));
        assert_eq!(lenenc_int(&mut at), Some(1));
        assert!(at.is_empty());
        assert_eq!(lenenc_int(&mut &[0xFC, 1][..]), None, "truncated");
        assert_eq!(lenenc_int(&mut &[0xFF][..]), None, "an error header");
    }

    #[test]
    fn error_packets_with_and_without_sqlstate() {
        let mut p = vec![0xFF, 0x15, 0x04, b'#'];
        p.extend_from_slice(b"28000Access denied for user 'app'");
        match parse_err(&p) {
            WireError::Server {
                code,
                state,
                message,
            } => {
                assert_eq!(code, 1045);
                assert_eq!(state.as_deref(), Some("28000"));
                assert_eq!(message, "Access denied for user 'app'");
            }
            other => panic!("{other:?}"),
        }
        let mut p = vec![0xFF, 0x10, 0x04];
        p.extend_from_slice(b"Too many connections");
        assert_eq!(parse_err(&p).to_string(), "Too many connections (1040)");
        assert!(matches!(parse_err(&[0xFF, 1]), WireError::Protocol(_)));
    }

    #[tokio::test]
    async fn a_text_result_set_is_counted_with_its_first_value() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        let mut script = Vec::new();
        script.extend(packet(1, &[2])); // two columns
        script.extend(packet(2, b"def-a"));
        script.extend(packet(3, b"def-b"));
        script.extend(packet(4, &[0xFE, 0, 0, 0x02, 0]));
        let mut row = lenenc_str(b"42");
        row.push(0xFB);
        script.extend(packet(5, &row));
        script.extend(packet(6, &[0xFB, 0x01, b'x']));
        script.extend(packet(7, &[0xFE, 0, 0, 0x02, 0]));
        tokio::io::AsyncWriteExt::write_all(&mut server, &script)
            .await
            .unwrap_or_default();
        let got = conn.query("select a, b from t").await;
        let mut sent = [0u8; 4 + 19];
        tokio::io::AsyncReadExt::read_exact(&mut server, &mut sent)
            .await
            .unwrap_or_default();
        assert_eq!(&sent[..5], &[19, 0, 0, 0, 0x03]);
        assert_eq!(&sent[5..], b"select a, b from t");
        let got = got.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got.rows, 2);
        assert_eq!(got.first, Some(Some("42".to_owned())));
    }

    #[tokio::test]
    async fn an_error_mid_result_and_packets_out_of_order_fail() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        let mut err = vec![0xFF, 0x7A, 0x04, b'#'];
        err.extend_from_slice(b"42S02Table 'app.missing' doesn't exist");
        tokio::io::AsyncWriteExt::write_all(&mut server, &packet(1, &err))
            .await
            .unwrap_or_default();
        let e = conn.query("select * from missing").await;
        assert!(
            matches!(e, Err(WireError::Server { code: 1146, .. })),
            "{e:?}"
        );
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        tokio::io::AsyncWriteExt::write_all(&mut server, &packet(3, &[0x00, 0, 0, 2, 0, 0, 0]))
            .await
            .unwrap_or_default();
        let e = conn.query("do 1").await;
        assert!(
            matches!(&e, Err(WireError::Protocol(m)) if m.contains("out of order")),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_payload_of_16_mib_ends_with_an_empty_packet() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut server, &mut all).await;
            all
        });
        conn.write(&vec![7u8; CHUNK]).await.unwrap();
        conn.write(&[]).await.unwrap();
        drop(conn);
        let all = reader.await.unwrap();
        assert_eq!(all.len(), 4 + CHUNK + 4 + 4);
        assert_eq!(&all[..4], &[0xFF, 0xFF, 0xFF, 0]);
        assert_eq!(&all[4 + CHUNK..], &[0, 0, 0, 1, 0, 0, 0, 2]);
    }

    #[tokio::test]
    async fn a_statement_without_result_set_has_no_rows_and_an_oversized_packet_fails() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        tokio::io::AsyncWriteExt::write_all(&mut server, &packet(1, &[0x00, 0, 0, 2, 0, 0, 0]))
            .await
            .unwrap_or_default();
        let got = conn.query("do 1").await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, QueryResult::default());
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = Conn::new(Box::new(client));
        // Four packets of 16 MiB - 1 announced: the second one is over the limit.
        let mut script = vec![0xFF, 0xFF, 0xFF, 0];
        script.resize(4 + CHUNK, 0);
        let writer = tokio::spawn(async move {
            let _ = tokio::io::AsyncWriteExt::write_all(&mut server, &script).await;
            let _ = tokio::io::AsyncWriteExt::write_all(&mut server, &[0xFF, 0xFF, 0xFF, 1]).await;
            server
        });
        let e = conn.read().await;
        assert!(
            matches!(&e, Err(WireError::Protocol(m)) if m.contains("larger than 16 MiB")),
            "{e:?}"
        );
        drop(conn);
        let _ = writer.await;
    }
}
