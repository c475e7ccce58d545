//! Reading untrusted output with a cap: the first bytes are kept, the rest only counted, so a
//! server or a program cannot make a check allocate without limit.

use tokio::io::{AsyncRead, AsyncReadExt};

/// What was read from one body or stream.
#[derive(Debug, Default)]
pub struct Capped {
    /// The first bytes, at most the cap.
    pub kept: Vec<u8>,
    /// Every byte read, kept or not.
    pub total: usize,
    cap: usize,
}

impl Capped {
    /// Nothing read yet; keep at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Capped {
            kept: Vec::new(),
            total: 0,
            cap,
        }
    }

    /// Count `chunk` and keep what still fits under the cap.
    pub fn push(&mut self, chunk: &[u8]) {
        self.total = self.total.saturating_add(chunk.len());
        let room = self.cap.saturating_sub(self.kept.len());
        self.kept
            .extend_from_slice(chunk.get(..chunk.len().min(room)).unwrap_or(&[]));
    }

    /// More was read than kept.
    pub fn truncated(&self) -> bool {
        self.total > self.kept.len()
    }
}

/// Read a stream to its end into `into` (the rest past the cap is drained, so a child never
/// blocks on a full pipe). What was read is in `into` even when the read is abandoned; a read
/// error ends the stream like its end would.
pub async fn drain(stream: Option<impl AsyncRead + Unpin>, into: &mut Capped) {
    let Some(mut s) = stream else {
        return;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => into.push(buf.get(..n).unwrap_or(&[])),
        }
    }
}

/// Read an HTTP response body, stopping at the first byte past the cap.
pub async fn body(mut resp: reqwest::Response, cap: usize) -> Result<Capped, reqwest::Error> {
    let mut body = Capped::new(cap);
    while let Some(chunk) = resp.chunk().await? {
        body.push(&chunk);
        if body.truncated() {
            break;
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_cap_and_counts_the_rest() {
        let mut c = Capped::new(4);
        c.push(b"ab");
        c.push(b"cd");
        assert!(!c.truncated());
        c.push(b"ef");
        assert_eq!(c.kept, b"abcd");
        assert_eq!(c.total, 6);
        assert!(c.truncated());
    }

    #[tokio::test]
    async fn drains_a_stream() {
        let mut c = Capped::new(3);
        drain(Some(&b"hello"[..]), &mut c).await;
        assert_eq!((c.kept.as_slice(), c.total), (&b"hel"[..], 5));
    }
}
