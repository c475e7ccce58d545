//! The config-reading toolkit below every check kind: YAML nodes with their positions
//! ([`yaml`]), `${VAR}` interpolation ([`interpolate`]), the typed key readers ([`fields`]), the
//! key tables ([`field`]) and the config error type ([`error`]). It imports nothing of the
//! crate but the shared text helpers, so `checks` can use it and `config` can sit above both.

pub mod error;
pub mod field;
pub mod fields;
pub mod interpolate;
pub mod source;
pub mod template;
pub mod yaml;
