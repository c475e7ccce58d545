//! The socket side of an ICMP check: open an ICMP socket (an unprivileged datagram "ping"
//! socket where `net.ipv4.ping_group_range` admits the process's group, else a raw socket,
//! which needs root or `CAP_NET_RAW`), send the echo requests `interval` apart and collect the
//! replies until all arrived or the budget is spent. Gathers [`Facts`]; judges nothing.

/// Why no probe could be made.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Neither socket type may be opened by this process.
    #[error(
        "no ICMP socket may be opened: an unprivileged ICMP socket was refused ({dgram}; \
         `net.ipv4.ping_group_range` must include the process's group) and a raw socket too \
         ({raw}; it needs root or CAP_NET_RAW)"
    )]
    Permission {
        /// Why the datagram socket was refused.
        dgram: std::io::Error,
        /// Why the raw socket was refused.
        raw: std::io::Error,
    },
    /// This platform has no support in infracheck.
    #[error("ICMP checks are not supported on this platform (Linux and other Unix systems only)")]
    Unsupported,
    /// The socket was opened but could not be set up for async use.
    #[error("cannot set up the ICMP socket: {0}")]
    Setup(std::io::Error),
}

/// Ping `addr` `count` times, `interval` apart, waiting for replies until `budget` has passed.
#[cfg(not(unix))]
pub async fn ping(
    _addr: std::net::IpAddr,
    _count: u16,
    _interval: std::time::Duration,
    _budget: std::time::Duration,
) -> Result<super::judge::Facts, ProbeError> {
    Err(ProbeError::Unsupported)
}

#[cfg(unix)]
pub use unix::ping;

#[cfg(unix)]
mod unix {
    use std::net::{IpAddr, SocketAddr};
    use std::sync::atomic::{AtomicU16, Ordering};
    use std::time::{Duration, Instant};

    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    use tokio::net::UdpSocket;

    use super::super::judge::Facts;
    use super::super::packet::{Framing, Reply, echo_request, read_reply, unreachable_text};
    use super::ProbeError;

    /// Datagrams read per probe at most (replies, other programs' ICMP on a raw socket): a
    /// bound on the loop besides its deadline.
    const MAX_DATAGRAMS: u32 = 10_000;
    /// Distinguishes the probes of one process (raw sockets see every echo reply of the host).
    static NEXT_IDENT: AtomicU16 = AtomicU16::new(0);

    /// Ping `addr` `count` times, `interval` apart, waiting for replies until `budget` has
    /// passed.
    pub async fn ping(
        addr: IpAddr,
        count: u16,
        interval: Duration,
        budget: Duration,
    ) -> Result<Facts, ProbeError> {
        let v6 = addr.is_ipv6();
        let (socket, raw) = open(v6)?;
        let framing = Framing { v6, raw };
        // The low bits of the process id plus a per-process counter (RFC 792 leaves the
        // identifier to the sender; a ping socket replaces it with its own).
        let ident = (std::process::id() as u16)
            .wrapping_mul(31)
            .wrapping_add(NEXT_IDENT.fetch_add(1, Ordering::Relaxed));
        let mut token = b"infracheck".to_vec();
        token.extend_from_slice(&ident.to_be_bytes());
        let mut probe = Probe {
            socket,
            framing,
            addr,
            ident,
            token,
            sent_at: Vec::with_capacity(usize::from(count)),
            rtts: vec![None; usize::from(count)],
            unreachable: None,
        };
        probe.run(count, interval, budget).await;
        Ok(Facts {
            addr,
            socket: if raw { "raw" } else { "datagram" },
            sent: u16::try_from(probe.sent_at.len()).unwrap_or(u16::MAX),
            rtts: probe.rtts.into_iter().flatten().collect(),
            unreachable: probe.unreachable,
        })
    }

    /// A datagram ICMP socket if the kernel allows one, else a raw socket.
    fn open(v6: bool) -> Result<(UdpSocket, bool), ProbeError> {
        let (domain, proto) = if v6 {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let (socket, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
            Ok(s) => (s, false),
            Err(dgram) => match Socket::new(domain, Type::RAW, Some(proto)) {
                Ok(s) => (s, true),
                Err(raw) => return Err(ProbeError::Permission { dgram, raw }),
            },
        };
        socket.set_nonblocking(true).map_err(ProbeError::Setup)?;
        // Tokio's datagram socket wraps any connectionless socket: `send_to`/`recv_from` are
        // the same system calls for an ICMP socket.
        let std: std::net::UdpSocket = socket.into();
        let socket = UdpSocket::from_std(std).map_err(ProbeError::Setup)?;
        Ok((socket, raw))
    }

    struct Probe {
        socket: UdpSocket,
        framing: Framing,
        addr: IpAddr,
        ident: u16,
        token: Vec<u8>,
        /// When each request was sent, by sequence number.
        sent_at: Vec<Instant>,
        /// The round trip of each request, by sequence number.
        rtts: Vec<Option<Duration>>,
        unreachable: Option<String>,
    }

    impl Probe {
        async fn run(&mut self, count: u16, interval: Duration, budget: Duration) {
            let start = Instant::now();
            let deadline = start + budget;
            let mut next_send = start;
            let mut buf = vec![0u8; 2048];
            for _ in 0..MAX_DATAGRAMS {
                let now = Instant::now();
                let sending = self.sent_at.len() < usize::from(count) && self.unreachable.is_none();
                if sending && now >= next_send {
                    self.send().await;
                    next_send += interval;
                    continue;
                }
                let received = self.rtts.iter().flatten().count();
                // The network said the host cannot be reached: waiting longer tells nothing.
                let done =
                    self.unreachable.is_some() || (!sending && received == self.sent_at.len());
                if done || now >= deadline {
                    return;
                }
                let wake = if sending {
                    next_send.min(deadline)
                } else {
                    deadline
                };
                let read = self.socket.recv_from(&mut buf);
                match tokio::time::timeout_at(wake.into(), read).await {
                    Err(_) => {}
                    Ok(Ok((n, from))) => self.read(buf.get(..n).unwrap_or(&[]), from),
                    Ok(Err(e)) => {
                        self.unreachable = Some(e.to_string());
                        return;
                    }
                }
            }
        }

        async fn send(&mut self) {
            let seq = u16::try_from(self.sent_at.len()).unwrap_or(u16::MAX);
            let packet = echo_request(self.framing.v6, self.ident, seq, &self.token);
            let to = SockAddr::from(SocketAddr::new(self.addr, 0));
            let Some(to) = to.as_socket() else { return };
            self.sent_at.push(Instant::now());
            if let Err(e) = self.socket.send_to(&packet, to).await {
                self.unreachable = Some(e.to_string());
            }
        }

        fn read(&mut self, datagram: &[u8], from: SocketAddr) {
            match read_reply(datagram, self.framing, self.ident, &self.token) {
                Reply::Echo(seq) if from.ip() == self.addr => {
                    let i = usize::from(seq);
                    if let (Some(at), Some(slot @ None)) =
                        (self.sent_at.get(i), self.rtts.get_mut(i))
                    {
                        *slot = Some(at.elapsed());
                    }
                }
                Reply::Unreachable(seq, code) if usize::from(seq) < self.sent_at.len() => {
                    let why = unreachable_text(self.framing.v6, code);
                    self.unreachable = Some(format!("{why} (ICMP error from {})", from.ip()));
                }
                _ => {}
            }
        }
    }
}
