//! `http_checks`: one request, then assertions on status, headers, body, JSON and latency.
//! One shared client (and connection pool) per distinct TLS setting, and one of the own
//! HTTP/1.1 path (`direct.rs`) for plain `http://` on a direct route. By job: [`spec`] reads
//! the keys, [`client`] speaks the wire (clients, redirects, transport errors), [`judge`]
//! decides from the facts of a response, [`run`] gathers those facts.

pub mod client;
mod direct;
pub mod judge;
mod phases;
pub mod proxy;
mod reasons;
pub mod run;
pub mod spec;
mod stamps;
pub mod status;

pub use client::{Clients, classify};
pub use judge::{Facts, judge};
pub use run::run;
#[cfg(feature = "grpc")]
pub(crate) use spec::read_headers;
pub use spec::{ClientKey, DEFAULT_MAX_BODY, HttpSpec, JsonAssert, redacted_url};

pub use status::StatusPattern;
