//! Helpers every kind shares, one copy each: the latency and days-left judges and the fold of
//! problems into a verdict ([`judge`]), untrusted-text escaping and short transport messages
//! ([`text`]), capped reads ([`capped`]), the `host`/`port` keys and the TCP connect
//! ([`net`]), TLS client configs and the one verifier ([`tls`]),
//! certificate facts ([`cert`]), the `insecure`/`ca_file` readers ([`trust`]), password-bearing
//! URLs ([`url`]) and the database kinds' shared part ([`db`]).

pub mod capped;
pub mod cert;
pub mod db;
pub mod expect;
pub mod judge;
pub mod net;
pub mod reasons;
pub mod text;
pub mod tls;
pub mod trust;
pub mod url;

pub use judge::{
    Problem, TextProblem, add_problem, days_problem, latency_problem, latency_verdict, millis,
    soft_deadline, text_problem, verdict,
};
pub use text::{
    MESSAGE_MAX, error_chain, escape, escape_controls, excerpt, one_short_line, short_message,
};
pub use url::{percent_decode, printable_url, secret_url};

/// The keys of a `FIELDS` table, in order (see [`field_keys!`]).
#[expect(
    clippy::indexing_slicing,
    reason = "both indexes are bounded by the loop condition; `get` is not const"
)]
pub const fn keys_of<const N: usize>(
    fields: &[crate::reader::key_table::Field],
) -> [&'static str; N] {
    let mut keys = [""; N];
    let mut i = 0;
    while i < N && i < fields.len() {
        keys[i] = fields[i].key;
        i += 1;
    }
    keys
}

/// The keys of a `FIELDS` table as a `&'static [&'static str]`, computed at compile time: a
/// key is declared once, in its table. (Used by the kubernetes kind's nested tables.)
#[cfg(feature = "kubernetes")]
macro_rules! field_keys {
    ($fields:expr) => {{
        const KEYS: [&str; $fields.len()] = $crate::checks::common::keys_of($fields);
        &KEYS
    }};
}
#[cfg(feature = "kubernetes")]
pub(crate) use field_keys;
