//! The former home of the rustls plumbing, now [`super::common::tls`] and
//! [`super::common::cert`]; kept as a path for the kinds not yet moved over.

pub use super::common::cert::*;
pub use super::common::tls::*;
