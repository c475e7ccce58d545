//! Where an HTTP check's time goes: `dns`, `connect` and `tls` of a new connection, `ttfb`
//! (request sent to the response head) and `transfer` (the body, timed in [`super::run`]).
//!
//! reqwest opens connections inside its pool, so the spans of a connection are taken by three
//! hooks on the shared client ([`super::client`]), each writing into the [`Marks`] of the
//! request being sent (a task-local set by [`timed_send`] / [`timed`]):
//! - [`TimedResolver`], the client's DNS resolver, marks the lookup (hyper's connector never
//!   asks it for an IP literal: no `dns` then);
//! - [`ConnectTiming`], a layer around reqwest's connector, marks when a connection starts and
//!   when it is ready (TCP and, for `https`, TLS done);
//! - [`TlsStartMark`], the rustls session store, marks the ClientHello: rustls asks its store
//!   for a ticket to resume as it builds the first flight, right after TCP connected.
//!
//! The own HTTP/1.1 path for plain `http://` ([`super::direct`]) opens its connections itself,
//! inside [`timed`], and marks the same instants ([`connection_started`], [`looked_up`],
//! [`connection_ready`]).
//!
//! A request served by a pooled connection has no connection spans (they are absent, not 0).
//! A connection that finishes in the pool's background task after another connection won the
//! race has no task-local: it marks nothing. The spans are disjoint and lie inside the
//! request's own send, so they never add up to more than the check's time.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use rustls::NamedGroup;
use rustls::client::Tls13ClientSessionValue;
use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, Tls12ClientSessionValue};
use rustls::pki_types::ServerName;

use crate::checks::Phase;
use crate::model::PhaseName;

tokio::task_local! {
    /// The marks of the request being sent in this task.
    static MARKS: Marks;
}

/// The instants a request's connection went through; empty for a pooled connection.
#[derive(Debug, Default)]
pub(super) struct Marks(Mutex<Instants>);

#[derive(Debug, Default, Clone, Copy)]
struct Instants {
    lookup: Option<(Instant, Instant)>,
    tls_start: Option<Instant>,
    /// When the connector started and when the connection was ready.
    connection: Option<(Instant, Option<Instant>)>,
}

impl Marks {
    fn edit(&self, f: impl FnOnce(&mut Instants)) {
        if let Ok(mut g) = self.0.lock() {
            f(&mut g);
        }
    }

    fn get(&self) -> Instants {
        self.0.lock().map(|g| *g).unwrap_or_default()
    }
}

/// Apply `f` to the marks of the request this task is sending, if any.
fn mark(f: impl FnOnce(&mut Instants)) {
    let _ = MARKS.try_with(|m| m.edit(f));
}

/// Send `request` with its own marks, then record its phases in `phase` (see [`timed`]).
pub(super) async fn timed_send(
    request: reqwest::RequestBuilder,
    phase: &Phase,
) -> reqwest::Result<reqwest::Response> {
    timed(request.send(), phase, |_| None).await
}

/// Await `sending` (one request, reqwest's or the own path's in [`super::direct`]) with its own
/// marks, then record its phases in `phase`: the connection's spans when this request opened
/// one, and `ttfb` from the request going out (on the new connection once it is ready, else at
/// once) to the response head: to when its first byte reached the socket where `first_byte`
/// knows it (the own path's kernel stamps, `stamps.rs`), else to when the head was read.
pub(super) async fn timed<T, E>(
    sending: impl Future<Output = Result<T, E>>,
    phase: &Phase,
    first_byte: impl FnOnce(&T) -> Option<Instant>,
) -> Result<T, E> {
    let sent = Instant::now();
    let mut scoped = std::pin::pin!(MARKS.scope(Marks::default(), sending));
    let result = scoped.as_mut().await;
    let read = Instant::now();
    let head = match result.as_ref().ok().and_then(first_byte) {
        Some(first) => first.min(read),
        None => read,
    };
    // The marks come back out of the finished scope.
    let marks = scoped.as_mut().take_value().unwrap_or_default();
    record(
        &marks.get(),
        sent,
        result.as_ref().ok().map(|_| head),
        phase,
    );
    result
}

/// A connector starts a new connection for the request of this task (the marks before it,
/// of a connection that lost the pool's race, are dropped).
pub(super) fn connection_started() {
    let now = Instant::now();
    mark(|i| {
        *i = Instants {
            connection: Some((now, None)),
            ..Instants::default()
        };
    });
}

/// The name lookup of the connection being opened took `start..end`.
pub(super) fn looked_up(start: Instant, end: Instant) {
    mark(|i| i.lookup = Some((start, end)));
}

/// The connection being opened is ready (TCP and, for `https`, TLS done).
pub(super) fn connection_ready() {
    connection_ready_at(Instant::now());
}

/// The connection being opened was ready at `ready` (the own path's first write, `direct.rs`).
pub(super) fn connection_ready_at(ready: Instant) {
    mark(|i| {
        if let Some((_, r)) = &mut i.connection {
            *r = Some(ready);
        }
    });
}

/// Turn the instants of one request into phases; `head` is `None` when no response came.
fn record(i: &Instants, sent: Instant, head: Option<Instant>, phase: &Phase) {
    let (started, ready) = match i.connection {
        Some((started, ready)) => (Some(started), ready),
        None => (None, None),
    };
    let span = |a: Instant, b: Instant| b.saturating_duration_since(a);
    if started.is_some() {
        if let Some((a, b)) = i.lookup {
            phase.record(PhaseName::Dns, span(a, b));
        }
        let tcp_from = i.lookup.map(|(_, b)| b).or(started);
        if let (Some(from), Some(to)) = (tcp_from, i.tls_start.or(ready)) {
            phase.record(PhaseName::Connect, span(from, to));
        }
        if let (Some(a), Some(b)) = (i.tls_start, ready) {
            phase.record(PhaseName::Tls, span(a, b));
        }
    }
    if let Some(head) = head {
        phase.record(PhaseName::Ttfb, span(ready.unwrap_or(sent), head));
    }
}

/// The client's DNS resolver: the system's (`getaddrinfo` on a blocking thread, as reqwest's
/// default), timed.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct TimedResolver;

impl reqwest::dns::Resolve for TimedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let start = Instant::now();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await;
            looked_up(start, Instant::now());
            let addrs: Vec<SocketAddr> = found?.collect();
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A layer around reqwest's connector marking when a connection starts and is ready.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ConnectTiming;

impl<S> tower_layer::Layer<S> for ConnectTiming {
    type Service = TimedConnector<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimedConnector(inner)
    }
}

/// The connector wrapped by [`ConnectTiming`].
#[derive(Debug, Clone)]
pub(super) struct TimedConnector<S>(S);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, R> tower_service::Service<R> for TimedConnector<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.0.call(request);
        Box::pin(async move {
            connection_started();
            let conn = connecting.await;
            if conn.is_ok() {
                connection_ready();
            }
            conn
        })
    }
}

/// The rustls session store of the HTTP clients: rustls' own in-memory cache, marking the
/// start of each handshake when rustls looks for a session to resume.
#[derive(Debug)]
pub(super) struct TlsStartMark(ClientSessionMemoryCache);

impl TlsStartMark {
    /// As many server names as rustls' default store keeps.
    pub(super) fn new() -> Self {
        TlsStartMark(ClientSessionMemoryCache::new(256))
    }
}

fn tls_started() {
    let now = Instant::now();
    mark(|i| {
        i.tls_start.get_or_insert(now);
    });
}

impl ClientSessionStore for TlsStartMark {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.0.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        tls_started();
        self.0.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.0.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        tls_started();
        self.0.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.0.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.0.insert_tls13_ticket(server_name, value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        tls_started();
        self.0.take_tls13_ticket(server_name)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn a_new_connection_splits_into_dns_connect_tls_and_ttfb() {
        let t = Instant::now();
        let i = Instants {
            lookup: Some((at(t, 1), at(t, 3))),
            tls_start: Some(at(t, 7)),
            connection: Some((at(t, 1), Some(at(t, 12)))),
        };
        let phase = Phase::default();
        record(&i, t, Some(at(t, 20)), &phase);
        let p = phase.take_times();
        let ms = Duration::from_millis;
        assert_eq!(p.get(PhaseName::Dns), Some(ms(2)));
        assert_eq!(p.get(PhaseName::Connect), Some(ms(4)));
        assert_eq!(p.get(PhaseName::Tls), Some(ms(5)));
        assert_eq!(p.get(PhaseName::Ttfb), Some(ms(8)));
        assert!(p.sum() <= ms(20));
    }

    #[test]
    fn a_pooled_connection_has_only_ttfb_and_a_failure_no_ttfb() {
        let t = Instant::now();
        let phase = Phase::default();
        record(&Instants::default(), t, Some(at(t, 5)), &phase);
        let p = phase.take_times();
        assert_eq!(p.iter().count(), 1);
        assert_eq!(p.get(PhaseName::Ttfb), Some(Duration::from_millis(5)));
        // Refused after the lookup: dns only (no connection became ready, no TLS started).
        let i = Instants {
            lookup: Some((t, at(t, 2))),
            tls_start: None,
            connection: Some((t, None)),
        };
        record(&i, t, None, &phase);
        let p = phase.take_times();
        assert_eq!(
            p.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            [PhaseName::Dns]
        );
    }
}
