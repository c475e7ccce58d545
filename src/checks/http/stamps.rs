//! The own path's clock ended by the kernel: when the bytes of a response reached the socket,
//! not when the check's task happened to be woken to read them.
//!
//! On a busy machine the task that reads a response can be woken late (another check's work
//! on the same runtime thread; on a virtual machine, a wake-up held to the next timer tick,
//! BENCHMARKS.md "True numbers IX"), and that wait is not the server's nor the network's. Each
//! connection of the own path ([`super::direct`]) asks the kernel for a receive timestamp of
//! every segment (`SO_TIMESTAMPNS`; on Linux, stamped when the packet is received, before any
//! task is woken) and reads with `recvmsg`, so each read that returns data comes with the
//! instant its last segment arrived. [`Stamps`] keeps, per connection, when the request last
//! went out and the instants of the first and the last read with data since then: `ttfb` ends
//! at the first, `transfer` and the check's own clock at the last byte it needed. A read's
//! stamp is that of the last segment it took, so the "first byte" is the first read's: when
//! the response's first segments were all waiting for a late task, `ttfb` ends at the last of
//! them (still no later than that read returned, as before).
//!
//! The kernel stamps `CLOCK_REALTIME`; the clocks of a check are monotonic ([`Instant`]). A
//! stamp is converted with a reading of both clocks taken right after the request went out,
//! and the result is kept within what the task itself observed (after the request went out,
//! not after the read returned, [`stamped_at`]): a step of the wall clock can shorten a phase
//! to what the task saw but never make it negative or longer. A read without a stamp (other
//! systems, a kernel that gives none) counts at the instant the read returned.

use std::sync::Mutex;
use std::time::{Instant, SystemTime};

/// When a connection's request went out and its response's bytes came in. Shared by the
/// connection (which writes and reads) and the request using it (which reads the instants).
#[derive(Debug, Default)]
pub(super) struct Stamps(Mutex<Marks>);

#[derive(Debug, Default, Clone, Copy)]
struct Marks {
    /// Both clocks, read right after the last write of the request.
    sent: Option<(Instant, SystemTime)>,
    /// The first read with data since then, and the last one.
    first: Option<Instant>,
    last: Option<Instant>,
}

impl Stamps {
    /// Bytes of a request were written: the instants of the response start from here.
    pub(super) fn wrote(&self) {
        let sent = (Instant::now(), SystemTime::now());
        if let Ok(mut m) = self.0.lock() {
            *m = Marks {
                sent: Some(sent),
                first: None,
                last: None,
            };
        }
    }

    /// A read returned data; `stamp`: the kernel's receive timestamp of its last segment.
    /// Nothing is marked before a request went out (a read of an idle connection).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(super) fn read(&self, stamp: Option<SystemTime>) {
        let returned = Instant::now();
        if let Ok(mut m) = self.0.lock()
            && let Some(sent) = m.sent
        {
            let at = stamp.map_or(returned, |s| stamped_at(s, sent, returned));
            let first = *m.first.get_or_insert(at);
            // Never before an earlier read (a step of the wall clock between two reads): the
            // spans from the first byte to the last stay whole.
            m.last = Some(m.last.unwrap_or(first).max(at));
        }
    }

    /// The first read of the response since the request went out (the stamp of the last
    /// segment it took), if one came.
    pub(super) fn first(&self) -> Option<Instant> {
        self.0.lock().ok().and_then(|m| m.first)
    }

    /// The last byte read since the request went out, if one came.
    pub(super) fn last(&self) -> Option<Instant> {
        self.0.lock().ok().and_then(|m| m.last)
    }
}

/// Holds the kernel's receive timestamping on while it lives. Linux stamps received packets
/// only while some socket asks for it, and switching that on is deferred to a kernel worker
/// that patches the kernel's code on every CPU (about half a millisecond here, the CPUs
/// interrupted); a run's first connection asking for it would otherwise pay that inside its
/// clock, and its packets could arrive before the switch, unstamped. One socket of the
/// client asks for it from the client's start, before any check's clock starts.
#[derive(Debug)]
pub(super) struct Keeper {
    #[cfg(target_os = "linux")]
    _socket: Option<socket2::Socket>,
}

impl Keeper {
    pub(super) fn new() -> Self {
        Keeper {
            #[cfg(target_os = "linux")]
            _socket: linux::keeper(),
        }
    }
}

/// The monotonic instant of a kernel receive timestamp `stamp` (`CLOCK_REALTIME`), given
/// `sent`, both clocks read together right after the request went out, and `returned`, when
/// the read that carried it returned. Kept within `sent..=returned`: the bytes came after the
/// request went out and before the read returned, whatever the wall clock did meanwhile.
pub(super) fn stamped_at(
    stamp: SystemTime,
    (sent, sent_real): (Instant, SystemTime),
    returned: Instant,
) -> Instant {
    let at = match stamp.duration_since(sent_real) {
        Ok(after) => sent.checked_add(after).unwrap_or(returned),
        // Stamped before the clocks were read (the answer can reach the socket while the
        // request's write is still returning): the phase ends at the earliest instant seen.
        Err(_) => sent,
    };
    at.min(returned).max(sent.min(returned))
}

/// Reading with the kernel's receive timestamps (Linux).
#[cfg(target_os = "linux")]
pub(super) mod linux {
    use std::cell::RefCell;
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, SystemTime};

    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};

    /// Ask the kernel to stamp each segment received on `socket` (best effort: without it the
    /// reads carry no stamp and count when they return).
    pub(crate) fn enable(socket: &impl std::os::fd::AsFd) {
        let _ = setsockopt(socket, sockopt::ReceiveTimestampns, &true);
    }

    /// A socket that only asks for receive timestamps (see [`super::Keeper`]).
    pub(crate) fn keeper() -> Option<socket2::Socket> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::DGRAM.cloexec(), None).ok()?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true).ok()?;
        Some(socket)
    }

    /// The most read at once: hyper asks for 8 KiB at first, more for a large body.
    const MOST: usize = 64 * 1024;

    thread_local! {
        /// Where a read lands before it is copied into hyper's buffer (which offers only
        /// uninitialised memory, filled through an unsafe call this crate does not make).
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }

    /// Room for one `SCM_TIMESTAMPNS` control message (a `cmsghdr` and a `timespec`: 32
    /// bytes), aligned as the kernel writes it.
    #[repr(C, align(8))]
    struct Control([u8; 64]);

    /// Read at most `room` bytes from `stream` (one `recvmsg`) and hand them to `put`; returns
    /// how many were read and the receive timestamp of the last segment among them.
    pub(crate) fn recv(
        stream: &impl AsRawFd,
        room: usize,
        put: impl FnOnce(&[u8]),
    ) -> std::io::Result<(usize, Option<SystemTime>)> {
        let want = room.clamp(1, MOST);
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < want {
                scratch.resize(want, 0);
            }
            let mut control = Control([0; 64]);
            let (n, stamp) = {
                let into = scratch.get_mut(..want).unwrap_or_default();
                let mut iov = [IoSliceMut::new(into)];
                let msg = recvmsg::<()>(
                    stream.as_raw_fd(),
                    &mut iov,
                    Some(&mut control.0),
                    MsgFlags::empty(),
                )
                .map_err(std::io::Error::from)?;
                let stamp = msg.cmsgs().ok().and_then(|mut c| {
                    c.find_map(|m| match m {
                        ControlMessageOwned::ScmTimestampns(ts) => wall(ts.tv_sec(), ts.tv_nsec()),
                        _ => None,
                    })
                });
                (msg.bytes, stamp)
            };
            put(scratch.get(..n).unwrap_or_default());
            Ok((n, stamp))
        })
    }

    /// A `timespec` of `CLOCK_REALTIME` as a [`SystemTime`] (none before 1970).
    fn wall(sec: i64, nsec: i64) -> Option<SystemTime> {
        let d = Duration::new(u64::try_from(sec).ok()?, u32::try_from(nsec).ok()?);
        SystemTime::UNIX_EPOCH.checked_add(d)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_stamp_is_placed_after_the_request_by_its_distance_on_the_wall_clock() {
        let sent = Instant::now();
        let real = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let returned = sent + ms(10);
        // Stamped 3 ms after the request went out, read 7 ms later.
        assert_eq!(
            stamped_at(real + ms(3), (sent, real), returned),
            sent + ms(3)
        );
        assert_eq!(stamped_at(real + ms(10), (sent, real), returned), returned);
    }

    #[test]
    fn a_stamp_outside_what_the_task_saw_is_clamped_to_it() {
        let sent = Instant::now();
        let real = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let returned = sent + ms(10);
        // Before the request went out (the answer came while the write returned, or the wall
        // clock stepped forward between the stamp and the reading): never a negative span.
        assert_eq!(stamped_at(real - ms(1), (sent, real), returned), sent);
        assert_eq!(
            stamped_at(real - Duration::from_secs(3600), (sent, real), returned),
            sent
        );
        // After the read returned (the wall clock stepped back): never a longer span.
        assert_eq!(stamped_at(real + ms(11), (sent, real), returned), returned);
        assert_eq!(
            stamped_at(real + Duration::from_secs(3600), (sent, real), returned),
            returned
        );
        // A stamp far in the future cannot overflow the monotonic clock.
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 64);
        assert_eq!(stamped_at(far, (sent, real), returned), returned);
        // Never past the read even if the readings came out of order.
        assert_eq!(stamped_at(real + ms(5), (sent, real), sent), sent);
    }

    #[test]
    fn a_connection_marks_the_first_and_last_read_after_its_last_write() {
        let s = Stamps::default();
        // A read of an idle connection before any request marks nothing.
        s.read(None);
        assert_eq!((s.first(), s.last()), (None, None));
        s.wrote();
        let real = SystemTime::now();
        s.read(Some(real));
        let first = s.first().unwrap();
        s.read(None);
        let last = s.last().unwrap();
        assert_eq!(s.first(), Some(first));
        assert!(last >= first);
        // A later read stamped earlier (the wall clock stepped back) does not move the last
        // byte back.
        s.read(Some(real - Duration::from_secs(60)));
        assert_eq!(s.last(), Some(last));
        // The next request starts over.
        s.wrote();
        assert_eq!((s.first(), s.last()), (None, None));
    }
}
