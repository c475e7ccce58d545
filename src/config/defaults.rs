//! `defaults:` (top level and per environment) and the number readers shared with the
//! top-level and environment keys.

use std::time::Duration;

use super::keys;
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{MapReader, Node};

/// Defaults that apply to checks, layered top-level → environment → check.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Defaults {
    pub(super) timeout: Option<Duration>,
    pub(super) retries: Option<u32>,
    pub(super) retry_delay: Option<Duration>,
    pub(super) warn_latency: Option<Duration>,
    pub(super) fail_latency: Option<Duration>,
    pub(super) concurrency: Option<usize>,
    pub(super) per_host_concurrency: Option<usize>,
    pub(super) interval: Option<Duration>,
}

impl Defaults {
    /// `top`'s values where set, `self`'s otherwise.
    pub(super) fn overlay(self, top: Defaults) -> Defaults {
        Defaults {
            timeout: top.timeout.or(self.timeout),
            retries: top.retries.or(self.retries),
            retry_delay: top.retry_delay.or(self.retry_delay),
            warn_latency: top.warn_latency.or(self.warn_latency),
            fail_latency: top.fail_latency.or(self.fail_latency),
            concurrency: top.concurrency.or(self.concurrency),
            per_host_concurrency: top.per_host_concurrency.or(self.per_host_concurrency),
            interval: top.interval.or(self.interval),
        }
    }
}

/// A `defaults:` mapping.
pub(super) fn read_defaults(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Defaults {
    let mut d = Defaults::default();
    let Some(mut r) = MapReader::new(node, path, ctx.problems) else {
        return d;
    };
    if let Some((n, p)) = r.take("timeout") {
        d.timeout = positive_duration(ctx, n, &p);
    }
    if let Some((n, p)) = r.take("retries") {
        d.retries = ctx.uint(n, &p, 100).and_then(|v| u32::try_from(v).ok());
    }
    if let Some((n, p)) = r.take("retry_delay") {
        d.retry_delay = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("warn_latency") {
        d.warn_latency = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("fail_latency") {
        d.fail_latency = ctx.duration(n, &p);
    }
    if let Some((n, p)) = r.take("concurrency") {
        d.concurrency = positive(ctx, n, &p);
    }
    if let Some((n, p)) = r.take("per_host_concurrency") {
        d.per_host_concurrency = positive(ctx, n, &p);
    }
    if let Some((n, p)) = r.take("interval") {
        d.interval = interval(ctx, n, &p);
    }
    r.finish(&keys::names(keys::DEFAULT_FIELDS), ctx.problems);
    d
}

/// A count of at least 1 (concurrency limits).
pub(super) fn positive(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<usize> {
    let n = ctx.uint(node, path, 100_000)?;
    if n == 0 {
        ctx.problem(node, path, "must be at least 1");
        return None;
    }
    usize::try_from(n).ok()
}

/// A duration greater than zero (timeouts).
pub(super) fn positive_duration(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<Duration> {
    let d = ctx.duration(node, path)?;
    if d.is_zero() {
        ctx.problem(node, path, "must be greater than zero");
        return None;
    }
    Some(d)
}

/// A check's `interval` under `serve`: at least [`MIN_INTERVAL`](crate::checks::MIN_INTERVAL).
pub(super) fn interval(ctx: &mut Ctx<'_>, node: &Node, path: &str) -> Option<Duration> {
    let d = ctx.duration(node, path)?;
    if d < crate::checks::MIN_INTERVAL {
        ctx.problem(node, path, "must be at least 100ms");
        return None;
    }
    Some(d)
}
