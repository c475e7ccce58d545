//! The one integration-test binary: drives the built `infracheck` binary against real servers
//! started on loopback by `support`.
//!
//! Unix only: the servers are Debian packages started as other users, and the command checks
//! run `sh`. On Windows this binary is empty; the Windows build is proven by compiling and
//! linting the library, the binary and their unit tests for `x86_64-pc-windows-gnu`.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod support;

#[cfg(feature = "aws")]
mod aws;
mod baseline_gate;
mod ci_action_contract;
mod ci_action_install;
mod ci_action_scripts;
mod ci_docs;
mod ci_first_run;
mod ci_versions;
mod ci_workflows;
mod cli_basics;
mod cli_options;
mod command;
mod command_process;
mod concurrency;
mod conditions;
mod config_env;
mod config_errors;
mod config_merge;
mod container;
mod deploy_kubernetes;
mod deps_waivers;
mod dns;
mod docs_links;
mod docs_match_binary;
mod documented;
mod encrypted_dns;
mod fleet;
mod fuzz_corpus;
#[cfg(feature = "grpc")]
mod grpc;
mod hardening;
mod history;
mod html;
mod http_faults;
mod http_nginx;
mod http_own_path;
mod icmp;
mod interference;
#[cfg(feature = "kubernetes")]
mod kubernetes;
mod layering;
mod merge_plan;
mod metrics;
mod mtls;
#[cfg(feature = "mysql")]
mod mysql;
mod phases;
#[cfg(feature = "postgres")]
mod postgres;
mod pr_comment;
mod progress;
mod properties;
mod proxy;
mod real_reasons;
mod redaction_outputs;
mod redirects;
mod redis;
mod report_paths;
mod reports;
mod run_reports;
mod scale;
mod schema;
mod select;
mod serve;
mod stderr_sink;
mod stdout_reports;
mod suite;
mod tap;
mod tcp;
mod tls;
mod trust_config;
mod trust_files;
mod trust_leaks;
mod trust_limits;
mod trust_secrets;
mod trust_signals;
mod trust_streams;
