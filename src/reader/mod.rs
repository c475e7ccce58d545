//! The config-reading toolkit below every check kind: YAML nodes with their positions
//! ([`yaml`]), `${VAR}` interpolation ([`interpolate`]), the typed key readers ([`ctx`]), the
//! key tables ([`key_table`]) and the config error type ([`error`]). It imports nothing of the
//! crate but the shared text helpers, so `checks` can use it and `config` can sit above both.

pub mod ctx;
pub mod error;
pub mod interpolate;
pub mod key_table;
pub mod source;
pub mod template;
pub mod yaml;
