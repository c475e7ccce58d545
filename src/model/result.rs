//! What one check produced: [`Status`], [`Outcome`] (one attempt), [`CheckResult`] (what every
//! reporter reads) and where the check is defined.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{
    CheckGate, CheckHistory, ConditionResult, Facts, Phases, Reason, ResultChange, Text, TextValue,
};

/// The verdict of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Everything the check asserts held.
    Pass,
    /// The check ran and something is worth a look (slow, certificate expiring, body text missing).
    Warn,
    /// The check failed, or could not run at all.
    Fail,
    /// The check was not run because a check it depends on (`depends_on`) did not pass.
    /// Never counts as passed.
    Skip,
    /// The check failed, but an unexpired waiver (`waivers:`) accepts the failure for now.
    Waived,
}

impl Status {
    /// Whether the check ran and held (PASS or WARN, whatever `--fail-on-warn` says): it
    /// satisfies a dependency, and its latency can be compared.
    pub fn ran_well(self) -> bool {
        matches!(self, Status::Pass | Status::Warn)
    }

    /// The upper-case label used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
            Status::Waived => "WAIVED",
        }
    }

    /// The status of an upper-case label (`PASS`…), as [`Status::as_str`] writes it.
    pub fn from_label(label: &str) -> Option<Status> {
        [
            Status::Pass,
            Status::Warn,
            Status::Fail,
            Status::Skip,
            Status::Waived,
        ]
        .into_iter()
        .find(|s| s.as_str() == label)
    }

    /// How much a status needs attention, for "worst first" orderings: FAIL, SKIP, WARN,
    /// WAIVED, PASS.
    pub fn severity(self) -> u8 {
        match self {
            Status::Fail => 4,
            Status::Skip => 3,
            Status::Warn => 2,
            Status::Waived => 1,
            Status::Pass => 0,
        }
    }
}

/// The `kind` of the synthetic result that reports a stale waiver (`waiver:<pattern>`).
pub const WAIVER_KIND: &str = "waiver";

/// A check kind's name (`http`, `tcp`, …). Spelt as an alias so that reading a result back
/// does not borrow from the document (serde borrows a field written `&str`).
pub type Kind = &'static str;

/// Where a check is defined in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Location {
    /// The config file that defines the check: the main config as given on the command line,
    /// or an included file (its path joined onto the including file's directory); shared by
    /// every check of the file (one allocation per file, not one per check and copy).
    #[serde(with = "shared_str")]
    pub file: Arc<str>,
    /// 1-based line of the check's first key.
    pub line: usize,
    /// 1-based column of the check's first key.
    pub column: usize,
}

/// What one attempt of a check found, before the engine adds timing and identity.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The verdict.
    pub status: Status,
    /// Why, when not PASS.
    pub reason: Option<Reason>,
    /// One human line (its excerpts cut by the redactor).
    pub message: Text,
    /// The full error chain behind a short `message`, for `-v` logs and the JSON `detail`
    /// (boxed: most outcomes have none, and an outcome travels in `Result`s).
    pub detail: Option<Box<Text>>,
    /// Facts the check observed (status code, address, certificate expiry…).
    pub metadata: BTreeMap<String, serde_json::Value>,
    /// Facts that are texts to be cut by the redactor (an excerpt of a body or an output),
    /// by key; a key is in `metadata` or here, not both (boxed: most outcomes have none).
    pub texts: Option<Box<BTreeMap<String, TextValue>>>,
    /// Where the attempt's time went (`dns`, `connect`, …); filled in from what the check
    /// recorded once it returns (see `checks::run`).
    pub phases: Phases,
    /// The values the attempt observed, for the check's `expect:` conditions, and how they
    /// went (boxed: most outcomes have none, and an outcome travels in `Result`s).
    pub observed: Option<Box<Observations>>,
}

/// What an attempt observed for its check's `expect:` conditions, and how they went.
#[derive(Debug, Clone, Default)]
pub struct Observations {
    /// The values observed (empty when the attempt observed nothing).
    pub facts: Facts,
    /// How each of the check's conditions went (filled in by `checks::run`).
    pub conditions: Vec<ConditionResult>,
}

impl Outcome {
    /// An outcome with its verdict and message only: no detail, no facts, no phases.
    pub fn new(status: Status, reason: Option<Reason>, message: impl Into<Text>) -> Self {
        Outcome {
            status,
            reason,
            message: message.into(),
            detail: None,
            metadata: BTreeMap::new(),
            texts: None,
            phases: Phases::new(),
            observed: None,
        }
    }

    /// A passing outcome.
    pub fn pass(message: impl Into<Text>) -> Self {
        Outcome::new(Status::Pass, None, message)
    }

    /// A warning with its reason.
    pub fn warn(reason: Reason, message: impl Into<Text>) -> Self {
        Outcome::new(Status::Warn, Some(reason), message)
    }

    /// A failure with its reason.
    pub fn fail(reason: Reason, message: impl Into<Text>) -> Self {
        Outcome::new(Status::Fail, Some(reason), message)
    }

    /// Keep the full error chain behind the short message (JSON `detail`, `-v` logs).
    pub fn with_detail(mut self, detail: impl Into<Text>) -> Self {
        let detail = detail.into();
        if detail != self.message {
            self.detail = Some(Box::new(detail));
        }
        self
    }

    /// Add one metadata entry.
    pub fn with_meta(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let Some(texts) = &mut self.texts {
            texts.remove(key);
        }
        self.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Add one metadata entry that is a text (or a list of texts) with deferred cuts.
    pub fn with_meta_text(mut self, key: &str, text: impl Into<TextValue>) -> Self {
        self.metadata.remove(key);
        self.texts
            .get_or_insert_default()
            .insert(key.to_owned(), text.into());
        self
    }

    /// Keep the values the attempt observed, for the check's conditions.
    pub fn with_facts(mut self, facts: Facts) -> Self {
        self.observed.get_or_insert_default().facts = facts;
        self
    }

    /// Take the observed values, leaving none.
    pub fn take_facts(&mut self) -> Facts {
        self.observed
            .as_mut()
            .map(|o| std::mem::take(&mut o.facts))
            .unwrap_or_default()
    }

    /// Record how the check's conditions went.
    pub fn set_conditions(&mut self, conditions: Vec<ConditionResult>) {
        self.observed.get_or_insert_default().conditions = conditions;
    }

    /// Merge metadata gathered before the verdict was known (a map of values, or a [`Meta`]
    /// with texts too); an entry already set is kept.
    pub fn with_metadata(mut self, metadata: impl Into<Meta>) -> Self {
        let Meta { values, texts } = metadata.into();
        for (k, v) in values {
            if !self.texts.as_ref().is_some_and(|t| t.contains_key(&k)) {
                self.metadata.entry(k).or_insert(v);
            }
        }
        for (k, t) in texts {
            if !self.metadata.contains_key(&k) {
                self.texts.get_or_insert_default().entry(k).or_insert(t);
            }
        }
        self
    }
}

/// Facts a check gathers before its verdict is known: values, and texts with deferred cuts
/// (an excerpt of what a server said).
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// The values, by key.
    pub values: BTreeMap<String, serde_json::Value>,
    /// The texts, by key (a key is in `values` or here).
    pub texts: BTreeMap<String, TextValue>,
}

impl Meta {
    /// No facts.
    pub fn new() -> Self {
        Meta::default()
    }

    /// Set a value.
    pub fn insert(&mut self, key: String, value: serde_json::Value) {
        self.texts.remove(&key);
        self.values.insert(key, value);
    }

    /// Set a text (or a list of texts) with deferred cuts.
    pub fn insert_text(&mut self, key: String, text: impl Into<TextValue>) {
        self.values.remove(&key);
        self.texts.insert(key, text.into());
    }
}

impl From<BTreeMap<String, serde_json::Value>> for Meta {
    fn from(values: BTreeMap<String, serde_json::Value>) -> Self {
        Meta {
            values,
            texts: BTreeMap::new(),
        }
    }
}

/// One failed attempt that was retried (JUnit flaky runs / reruns). Read back by
/// [`ResultSeed`](super::document::ResultSeed), which knows the reasons it may name.
#[derive(Debug, Clone, Serialize)]
pub struct FailedAttempt {
    /// Why the attempt failed.
    pub reason: Reason,
    /// Its message.
    #[serde(with = "super::text::serde_text")]
    pub message: Text,
    /// How long it took.
    #[serde(rename = "duration_ms", with = "super::ms")]
    pub duration: Duration,
}

/// The result of one check, as every reporter sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's unique name within its environment.
    pub name: String,
    /// The check kind (`http`, `tcp`, …). Read back only as one of the kinds the reader was
    /// given, by [`ResultSeed`](super::document::ResultSeed) (a result read without it has no
    /// kind).
    #[serde(skip_deserializing)]
    pub kind: Kind,
    /// What the check targets (URL with password removed, `host:port`, …).
    #[serde(with = "super::text::serde_text")]
    pub target: Text,
    /// The verdict.
    pub status: Status,
    /// Why, when not PASS. Read back only as one of the reasons the reader was given, by
    /// [`ResultSeed`](super::document::ResultSeed).
    #[serde(skip_deserializing)]
    pub reason: Option<Reason>,
    /// One line for a human (its excerpts cut by the redactor).
    #[serde(with = "super::text::serde_text")]
    pub message: Text,
    /// The full error chain behind a short `message` (JSON `detail`; absent when the message
    /// says it all).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::text::serde_opt_text"
    )]
    pub detail: Option<Box<Text>>,
    /// Wall time of all attempts, including retry delays: `duration_ms` (whole milliseconds)
    /// and `duration_us` (the precise figure). Flattened: one value written as two keys (a
    /// result is not a config type; nothing reads its keys for errors).
    #[serde(flatten, with = "super::elapsed")]
    pub duration: Duration,
    /// How long the check waited for a free slot (`concurrency`) or its host's
    /// (`per_host_concurrency`) before it started; never inside `duration`. Absent when it
    /// started at once.
    #[serde(
        rename = "queued_ms",
        default,
        skip_serializing_if = "Option::is_none",
        with = "super::opt_precise_ms"
    )]
    pub queued: Option<Duration>,
    /// Where the final attempt's time went, phase by phase (`{}` when the kind timed none).
    #[serde(default)]
    pub phases: Phases,
    /// Attempts made (1 without retries).
    pub attempts: u32,
    /// Passed only after a failed attempt.
    pub flaky: bool,
    /// Earlier attempts that failed before the final one (read back by
    /// [`ResultSeed`](super::document::ResultSeed), with their reasons).
    #[serde(skip_deserializing, skip_serializing_if = "<[_]>::is_empty")]
    pub failed_attempts: Box<[FailedAttempt]>,
    /// Facts the check observed.
    #[serde(default)]
    pub metadata: Metadata,
    /// How each condition of the check's `expect:` list went, in the order written (absent
    /// when the check has none).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub conditions: Box<[ConditionResult]>,
    /// Where the check is defined.
    pub location: Location,
    /// The check's `tags`, in file order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub tags: Box<[String]>,
    /// When a selection (`--tags`, `--only`…) left the check out but a selected check depends
    /// on it: the checks of the run whose `depends_on` names it, in config order.
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub pulled_in_by: Box<[String]>,
    /// What changed since the `--baseline` run, when one was given (not read back: a
    /// comparison belongs to the run that made it). This and the two records below are boxed:
    /// most results have none, and a retained result should not pay for them inline.
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub baseline: Option<Box<ResultChange>>,
    /// The deploy gate's record of the check (`--until-healthy`), when on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Box<CheckGate>>,
    /// The check's record over the `--history` window, when one was given (not read back).
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub history: Option<Box<CheckHistory>>,
    /// The thresholds the check judged against (for the HTML report's pictures; not in the
    /// JSON document, so a merged run has none).
    #[serde(skip)]
    pub limits: Limits,
}

/// The latency and certificate thresholds of a check, where its kind has them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// Slower than this is WARN.
    pub warn_latency: Option<Duration>,
    /// Slower than this is FAIL.
    pub fail_latency: Option<Duration>,
    /// A certificate with fewer days left is WARN.
    pub warn_days: Option<i64>,
    /// A certificate with fewer days left is FAIL.
    pub fail_days: Option<i64>,
}

impl CheckResult {
    /// The result as it is kept until the end of the run: a copy made by the thread that keeps
    /// it. A check's result is built on the runtime's worker that ran it, and each thread
    /// allocates from an arena of its own: kept as built, 10,000 results would grow the
    /// workers' arenas while the memory of the definitions let go as results come in (the
    /// thread that read the config) stays unused. The copy lands in that memory, every text at
    /// its length; the engine frees the result as built on a worker, whose next checks reuse
    /// its memory.
    pub fn kept(&self) -> CheckResult {
        self.clone()
    }

    /// A result with its identity and verdict only: no attempt made (`attempts` 0), no time
    /// spent, no facts and no records; the caller sets whatever else it knows. For results no
    /// check attempt produced (a stale waiver, an internal error) and for test rows.
    pub fn new(
        name: String,
        kind: Kind,
        target: impl Into<Text>,
        location: Location,
        status: Status,
        reason: Option<Reason>,
        message: impl Into<Text>,
    ) -> Self {
        CheckResult {
            name,
            kind,
            target: target.into(),
            status,
            reason,
            message: message.into(),
            detail: None,
            duration: Duration::ZERO,
            queued: None,
            phases: Default::default(),
            attempts: 0,
            flaky: false,
            failed_attempts: Box::default(),
            metadata: Default::default(),
            location,
            tags: Box::default(),
            pulled_in_by: Box::default(),
            conditions: Box::default(),
            baseline: None,
            gate: None,
            history: None,
            limits: Default::default(),
        }
    }

    /// The result of a check that the run's deadline or a signal cut short: it says nothing
    /// about the check's health.
    pub fn cut_short(&self) -> bool {
        matches!(
            self.reason,
            Some(Reason::TimeoutDeadline | Reason::Cancelled)
        )
    }

    /// The leaf certificate's notAfter, when the check saw a certificate (`not_after` of tls
    /// checks, `tls_not_after` of https checks).
    pub fn certificate_not_after(&self) -> Option<time::OffsetDateTime> {
        self.timestamp_meta(&["not_after", "tls_not_after"])
    }

    /// The leaf certificate's notBefore, when the check saw a certificate (`not_before` of tls
    /// checks, `tls_not_before` of https checks).
    pub fn certificate_not_before(&self) -> Option<time::OffsetDateTime> {
        self.timestamp_meta(&["not_before", "tls_not_before"])
    }

    /// The first of `keys` whose metadata value is an RFC 3339 timestamp.
    fn timestamp_meta(&self, keys: &[&str]) -> Option<time::OffsetDateTime> {
        keys.iter().find_map(|k| {
            let s = self.metadata.get(k)?.as_str()?;
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        })
    }
}

/// Serde for a shared string: written as a plain string, read back into one allocation.
mod shared_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(s: &Arc<str>, out: S) -> Result<S::Ok, S::Error> {
        out.serialize_str(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(d).map(Arc::from)
    }
}

/// The facts a finished check keeps (a result's `metadata`): key/value pairs sorted by key,
/// held in one exact-size allocation. A check gathers them in a `BTreeMap` ([`Outcome`]); a
/// retained result should not pay for a B-tree node of eleven slots for its three or four
/// facts. Reads, iterates and serialises like that map (a JSON object, keys in order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(
    Vec<(FactName, serde_json::Value)>,
    /// The facts that are texts with deferred cuts, until the redactor folds them. Boxed, the
    /// list costs a result that has none (every result kept to the end) 8 bytes instead of 24.
    #[allow(clippy::box_collection)]
    Option<Box<Vec<(String, TextValue)>>>,
);

/// A fact's name: the names most results carry are kept as static text, not a copy per result
/// (a run of 10,000 HTTP checks would hold 40,000 copies of four names).
type FactName = std::borrow::Cow<'static, str>;

/// The fact names kept as static text, sorted.
const COMMON_FACT_NAMES: &[&str] = &[
    "answer",
    "body_bytes",
    "body_excerpt",
    "connect_ms",
    "exit_code",
    "http_status",
    "latency_ms",
    "not_after",
    "not_before",
    "protocol",
    "rcode",
    "remote_addr",
    "server_name",
    "status_code",
    "stderr_bytes",
    "stdout_bytes",
    "tls_days_left",
    "tls_not_after",
    "tls_not_before",
    "transport",
    "ttl",
];

/// `name` as a [`FactName`]: a common one as static text (the copy is let go).
fn fact_name(name: String) -> FactName {
    match COMMON_FACT_NAMES.binary_search(&name.as_str()) {
        Ok(i) => COMMON_FACT_NAMES
            .get(i)
            .map_or(FactName::Owned(name), |n| FactName::Borrowed(n)),
        Err(_) => FactName::Owned(name),
    }
}

impl Metadata {
    /// No facts.
    pub fn new() -> Self {
        Metadata(Vec::new(), None)
    }

    /// These facts, and the facts that are texts with deferred cuts ([`Outcome::texts`]),
    /// which the redactor turns into string facts ([`Metadata::take_texts`]).
    pub fn with_texts(mut self, texts: Option<Box<BTreeMap<String, TextValue>>>) -> Self {
        for (key, text) in texts.map(|t| *t).unwrap_or_default() {
            if text.is_plain() {
                self.insert(key, text.to_json(&|t| t.as_str().to_owned()));
            } else {
                self.1.get_or_insert_default().push((key, text));
            }
        }
        self
    }

    /// Take the facts that are texts with deferred cuts, leaving none.
    pub fn take_texts(&mut self) -> Vec<(String, TextValue)> {
        self.1.take().map(|t| *t).unwrap_or_default()
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&serde_json::Value> {
        let i = self.position(key).ok()?;
        self.0.get(i).map(|(_, v)| v)
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Set `key`, returning the value it replaces.
    pub fn insert(&mut self, key: String, value: serde_json::Value) -> Option<serde_json::Value> {
        match self.position(&key) {
            Ok(i) => self.0.get_mut(i).map(|(_, v)| std::mem::replace(v, value)),
            Err(i) => {
                self.0.insert(i, (fact_name(key), value));
                None
            }
        }
    }

    /// Remove every fact.
    pub fn clear(&mut self) {
        self.0.clear();
        self.1 = None;
    }

    /// How many facts there are.
    pub fn len(&self) -> usize {
        self.0.len() + self.1.as_ref().map_or(0, |t| t.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.as_ref().is_none_or(|t| t.is_empty())
    }

    /// The facts in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &serde_json::Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// The values in key order, for editing in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut serde_json::Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| (**k).cmp(key))
    }
}

impl From<BTreeMap<String, serde_json::Value>> for Metadata {
    /// Already in key order; one allocation of exactly the map's length.
    fn from(map: BTreeMap<String, serde_json::Value>) -> Self {
        Metadata(
            map.into_iter().map(|(k, v)| (fact_name(k), v)).collect(),
            None,
        )
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a str, &'a serde_json::Value);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (FactName, serde_json::Value)>,
        fn(&'a (FactName, serde_json::Value)) -> (&'a str, &'a serde_json::Value),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (&**k, v))
    }
}

impl Serialize for Metadata {
    /// A JSON object, keys in order; a text fact with its cuts carried out (the redactor has
    /// made it a string fact before any output: [`Text`]'s serialisation).
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        let Some(texts) = self.1.as_deref().filter(|t| !t.is_empty()) else {
            return out.collect_map(self.iter());
        };
        let mut all: BTreeMap<&str, serde_json::Value> =
            self.iter().map(|(k, v)| (k, v.clone())).collect();
        for (k, t) in texts {
            all.insert(k.as_str(), t.to_json(&Text::cut_only));
        }
        out.collect_map(all)
    }
}

impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        BTreeMap::<String, serde_json::Value>::deserialize(d).map(Metadata::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_reads_and_writes_like_the_map_it_replaces() {
        let mut map = BTreeMap::new();
        map.insert("status_code".to_owned(), serde_json::json!(200));
        map.insert("body_bytes".to_owned(), serde_json::json!(2));
        let mut m = Metadata::from(map.clone());
        assert_eq!(m.insert("latency_ms".to_owned(), 5.into()), None);
        map.insert("latency_ms".to_owned(), 5.into());
        assert_eq!(
            m.insert("status_code".to_owned(), 503.into()),
            Some(200.into())
        );
        map.insert("status_code".to_owned(), 503.into());
        assert_eq!(m.get("status_code"), Some(&serde_json::json!(503)));
        assert!(m.contains_key("body_bytes") && !m.contains_key("nope"));
        assert_eq!(m.len(), 3);
        // Same keys in the same order, the same JSON, and read back to the same.
        let keys: Vec<&str> = m.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, map.keys().map(String::as_str).collect::<Vec<_>>());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, serde_json::to_string(&map).unwrap());
        assert_eq!(serde_json::from_str::<Metadata>(&json).unwrap(), m);
        m.clear();
        assert!(m.is_empty());
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_result_slot_stays_small() {
        // The engine holds one slot per check for the whole run (BENCHMARKS.md, "True
        // numbers XV"): what most results lack is boxed, lists are boxed slices.
        let slot = std::mem::size_of::<Option<CheckResult>>();
        assert!(slot <= 384, "Option<CheckResult> is {slot} bytes");
    }

    #[test]
    fn the_common_fact_names_are_sorted_and_kept_without_a_copy() {
        assert!(COMMON_FACT_NAMES.is_sorted());
        assert!(matches!(
            fact_name("latency_ms".to_owned()),
            FactName::Borrowed("latency_ms")
        ));
        assert!(matches!(fact_name("custom".to_owned()), FactName::Owned(n) if n == "custom"));
    }
}
