//! The former home of the shared helpers, now in [`super::common`]; kept as a path for the
//! kinds not yet moved over.

pub use super::common::db::*;
pub use super::common::{
    escape, escape_controls, excerpt, latency_problem, millis, percent_decode, printable_url,
    secret_url, short_message, verdict,
};
