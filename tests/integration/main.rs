//! The one integration-test binary: drives the built `infracheck` binary against real servers
//! started on loopback by `support`.

mod support;

mod cli_basics;
mod config_errors;
mod http_faults;
mod http_nginx;
