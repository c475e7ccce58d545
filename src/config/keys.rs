//! Every key of the config outside the check kinds, declared once as a [`Field`] table: the
//! readers' known keys (unknown-key problems and their suggestions) and the JSON Schema
//! ([`super::schema`]) both come from these tables. A kind's own keys are its `FIELDS`, in the
//! kind registry ([`crate::checks::REGISTRY`]).

use crate::reader::key_table::{Field, FieldType, opt, req};

/// The names of `fields`, for [`MapReader::finish`](crate::reader::yaml::MapReader::finish).
pub(super) fn names(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.key).collect()
}

/// The keys a check of any kind takes: [`COMMON_FIELDS`] and the `environments` filter (only
/// accepted in the shared `checks:` block, where it is read first).
pub(super) fn common_check_keys() -> Vec<&'static str> {
    let mut keys = names(COMMON_FIELDS);
    keys.push(PHASES_KEY);
    keys.push(EXPECT_KEY);
    keys.push(ENVIRONMENTS_FILTER.key);
    keys
}

/// The top-level keys holding checks rather than options.
pub(super) const TOP_CHECK_KEYS: &[&str] = &["checks", "environments"];

/// The keys every check takes, whatever its kind (without `environments`).
pub(super) const COMMON_FIELDS: &[Field] = &[
    req(
        "name",
        FieldType::String,
        "Unique name of the check within its environment.",
    ),
    opt(
        "timeout",
        FieldType::Duration,
        "Timeout of one attempt, covering the whole check (default 10s).",
    ),
    opt(
        "retries",
        FieldType::Integer,
        "Extra attempts after a FAIL (0-100, default 0).",
    ),
    opt(
        "retry_delay",
        FieldType::Duration,
        "Delay before the first retry; doubles on each further retry (default 1s).",
    ),
    opt(
        "warn_latency",
        FieldType::Duration,
        "Slower than this is WARN.",
    ),
    opt(
        "fail_latency",
        FieldType::Duration,
        "Slower than this is FAIL.",
    ),
    opt(
        "depends_on",
        FieldType::StringList,
        "Names of checks that must pass first; otherwise this check is SKIP (blocked).",
    ),
    opt(
        "targets",
        FieldType::TargetList,
        "Run this check once per target: strings (`{{target}}`) or mappings (`{{target.KEY}}`), replaced in every string value; a name without a reference gets ` [TARGET]` appended.",
    ),
    opt(
        "tags",
        FieldType::Tags,
        "Labels for selecting checks (`--tags`, `--exclude-tags`); no spaces or commas.",
    ),
    opt(
        "interval",
        FieldType::Duration,
        "Under `infracheck serve`: how often the check runs (default 60s, at least 100ms); `run` ignores it.",
    ),
];

/// The common keys a kind takes only when its registry line says `latency: true`.
pub(super) const LATENCY_KEYS: &[&str] = &["warn_latency", "fail_latency", PHASES_KEY];

/// `phases:` on a check: `warn`/`fail` thresholds per timed phase. Its names are the kind's
/// phases (the registry's `phases`), so the schema builds it per kind rather than from a
/// [`Field`] (see [`super::schema`]).
pub(super) const PHASES_KEY: &str = "phases";

/// `expect:` on a check: conditions on the values it observed (`status == 200`). Its values
/// are the kind's (the registry's `values`), so the schema builds it per kind rather than
/// from a [`Field`] (see [`super::schema`]). A `tcp` check's `expect` written as one text is
/// the kind's own banner key.
pub(super) const EXPECT_KEY: &str = "expect";

/// The keys of one condition written as a mapping under `expect:`.
pub(super) const EXPECT_ITEM_FIELDS: &[Field] = &[
    req(
        "assert",
        FieldType::String,
        "The condition: `VALUE OP EXPECTED` (`status == 200`, `body.$.status == \"UP\"`).",
    ),
    opt(
        "severity",
        FieldType::Choice(&["fail", "warn"]),
        "What a failed condition makes of the check: `fail` (default) or `warn`.",
    ),
];

/// The keys of one phase's thresholds under `phases:`.
pub(super) const PHASE_LIMIT_FIELDS: &[Field] = &[
    opt(
        "warn",
        FieldType::Duration,
        "The phase taking longer than this is WARN.",
    ),
    opt(
        "fail",
        FieldType::Duration,
        "The phase taking longer than this is FAIL.",
    ),
];

/// `environments` on a check of the shared top-level `checks:` block.
pub(super) const ENVIRONMENTS_FILTER: Field = opt(
    "environments",
    FieldType::StringList,
    "Only in the top-level `checks:` block: the environments this check runs in (default: all).",
);

/// The keys of `defaults:` (top level or per environment).
pub(super) const DEFAULT_FIELDS: &[Field] = &[
    opt(
        "timeout",
        FieldType::Duration,
        "Default timeout of one attempt.",
    ),
    opt(
        "retries",
        FieldType::Integer,
        "Default extra attempts after a FAIL.",
    ),
    opt(
        "retry_delay",
        FieldType::Duration,
        "Default delay before the first retry.",
    ),
    opt(
        "warn_latency",
        FieldType::Duration,
        "Default WARN latency threshold.",
    ),
    opt(
        "fail_latency",
        FieldType::Duration,
        "Default FAIL latency threshold.",
    ),
    opt(
        "interval",
        FieldType::Duration,
        "Default interval of a check under `infracheck serve` (60s when unset).",
    ),
    opt(
        "concurrency",
        FieldType::Integer,
        "Maximum checks in flight (default 50).",
    ),
    opt(
        "per_host_concurrency",
        FieldType::Integer,
        "Maximum checks in flight against one host (default: no limit).",
    ),
];

/// Keys of an environment other than the check lists.
pub(super) const ENVIRONMENT_FIELDS: &[Field] = &[
    opt(
        "vars",
        FieldType::StringMap,
        "Variables for `${name}` in this environment (override the top-level ones).",
    ),
    opt(
        "defaults",
        FieldType::Object(DEFAULT_FIELDS),
        "Defaults for this environment's checks.",
    ),
    opt(
        "concurrency",
        FieldType::Integer,
        "Maximum checks in flight.",
    ),
    opt(
        "max_workers",
        FieldType::Integer,
        "Maximum checks in flight (same as `concurrency`).",
    ),
    opt(
        "per_host_concurrency",
        FieldType::Integer,
        "Maximum checks in flight against one host.",
    ),
];

/// Top-level keys other than `checks` and `environments`.
pub(super) const TOP_FIELDS: &[Field] = &[
    opt(
        "include",
        FieldType::StringList,
        "Files or globs merged into this config, relative to this file's directory.",
    ),
    opt(
        "max_workers",
        FieldType::Integer,
        "Maximum checks in flight (or `concurrency`, not both).",
    ),
    opt(
        "concurrency",
        FieldType::Integer,
        "Maximum checks in flight (or `max_workers`, not both).",
    ),
    opt(
        "per_host_concurrency",
        FieldType::Integer,
        "Maximum checks in flight against one host.",
    ),
    opt(
        "defaults",
        FieldType::Object(DEFAULT_FIELDS),
        "Defaults for every check, overridden per environment and per check.",
    ),
    opt(
        "secrets",
        FieldType::StringList,
        "Environment variables whose values are never printed.",
    ),
    opt(
        "vars",
        FieldType::StringMap,
        "Variables for `${name}` in every environment.",
    ),
    opt(
        "waivers",
        FieldType::ObjectList(WAIVER_FIELDS),
        "Expiring exceptions: a matching FAIL is WAIVED until `expires`.",
    ),
    opt(
        "alerts",
        FieldType::Object(ALERT_FIELDS),
        "Under `infracheck serve`: webhooks told when a check starts failing, keeps failing and recovers.",
    ),
];

/// The keys of `alerts:`.
pub(super) const ALERT_FIELDS: &[Field] = &[
    req(
        "webhooks",
        FieldType::ObjectList(WEBHOOK_FIELDS),
        "Where alerts are POSTed.",
    ),
    opt(
        "after",
        FieldType::Integer,
        "Consecutive failures before a check alerts (1-1000, default 1).",
    ),
    opt(
        "resend_every",
        FieldType::Duration,
        "While a check keeps failing, alert again this often (default: once).",
    ),
];

/// The keys of one entry of `alerts.webhooks`.
pub(super) const WEBHOOK_FIELDS: &[Field] = &[
    req(
        "url",
        FieldType::String,
        "The http(s) URL the alert is POSTed to (a secret: never printed).",
    ),
    opt(
        "format",
        FieldType::Choice(&["json", "slack"]),
        "`json` (default): the alert document; `slack`: a `{\"text\": …}` message.",
    ),
    opt(
        "headers",
        FieldType::StringMap,
        "Request headers (secrets: their values are never printed).",
    ),
];

/// The keys of one entry of `waivers:`.
pub(super) const WAIVER_FIELDS: &[Field] = &[
    req(
        "check",
        FieldType::String,
        "Check name or glob (`payments-*`).",
    ),
    req(
        "reason",
        FieldType::String,
        "Why the failure is accepted (ticket, incident).",
    ),
    opt("owner", FieldType::String, "Who owns the exception."),
    req(
        "expires",
        FieldType::String,
        "Last day the waiver applies (YYYY-MM-DD); after it the check fails again.",
    ),
];
