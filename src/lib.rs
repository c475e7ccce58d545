//! infracheck: audit the health of an environment from one YAML file and report in every
//! format a CI system reads.
//!
//! The pipeline: [`config`] (YAML → validated [`config::Plan`]) → [`driver`] (one round, or
//! the deploy gate's rounds) → [`engine`] (bounded concurrency, timeouts, retries, deadline) → [`checks`] (one module per kind) → the
//! finished results, judged by the run's [`policy`] and redacted once ([`redact`]) →
//! [`report`] (the model's types, the policy's verdict) → an [`exit_code::ExitCode`].

pub mod app;
pub mod baseline;
pub mod checks;
pub mod cli;
pub mod comment;
pub mod config;
pub mod driver;
pub mod engine;
pub mod event;
pub mod exit_code;
pub mod gate;
pub mod history;
pub mod init;
pub mod merge;
pub mod model;
pub mod policy;
pub mod reader;
pub mod redact;
pub mod report;
pub mod select;
pub mod serve;
pub mod shard;
pub mod text;
pub mod waiver;

#[cfg(test)]
mod testing;
