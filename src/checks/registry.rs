//! The kind contract and the machinery behind the kind registry in [`super`].
//!
//! A kind is one implementation of [`Kind`] for its spec type, in the kind's own module: its
//! name, its keys (`FIELDS`), its parser, the phases it times, the values its conditions may
//! name, the reason codes it may emit (its own rows, written in its module with
//! `model::reasons!`, and the shared families of `common/reasons.rs`), and how a check of it
//! runs. The table of every reason ([`reasons`]) is read from the registry. The `kinds!` macro turns one registry line per kind in [`super`]
//! into the [`CheckSpec`](super::CheckSpec) enum, [`REGISTRY`](super::REGISTRY),
//! [`KINDS`](super::KINDS) and the dispatch from a check to its kind.
//!
//! The options every kind shares (`timeout`, `warn_latency`/`fail_latency`, `phases`,
//! `expect`) are read once, into the [`CheckDef`]; a kind reads them there.

use std::future::Future;
use std::time::Duration;

use super::common::tls::TlsTrust;
use super::{CheckDef, Phase, RunContext};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::key_table::Field;
use crate::reader::yaml::MapReader;

/// What a check kind is: one implementation per kind, on its spec type (the parsed
/// kind-specific part of a check), named on one line of the registry in [`super`].
pub trait Kind: Sized + Send + Sync + 'static {
    /// The kind name (`http`); its checks are listed under `<NAME>_checks`.
    const NAME: &'static str;

    /// Every key the kind accepts besides the common ones, with its type and description:
    /// the validator's known keys, the typo suggestions and the JSON Schema are read from it,
    /// and a unit test proves [`Kind::parse`] reads exactly these keys.
    const FIELDS: &'static [Field];

    /// The phases the kind times, in the order they happen (the only names `phases:` takes).
    const PHASES: &'static [PhaseName];

    /// The values its checks observe for `expect:` conditions, besides `latency` and
    /// `latency.<phase>` (`status`, `header.<name>`…; see `checks/common/expect`).
    const VALUES: &'static [&'static str];

    /// The reason of a slow check or phase (`http.latency`).
    const LATENCY_REASON: Reason;

    /// The reason of a failed `expect:` condition (`http.expect`).
    const EXPECT_REASON: Reason;

    /// Every reason code a check of the kind may end with, besides the [`RUN_REASONS`] any
    /// check may get: groups, its own rows (the `ROWS` of its `reasons.rs`) and the families
    /// several kinds share (the TLS verdicts, the connect failures), each written once.
    const REASONS: &'static [&'static [Reason]];

    /// Whether checks of the kind take `warn_latency`, `fail_latency` and `phases`; a kind
    /// without them rejects the keys and ignores the latency `defaults`.
    const LATENCY: bool = true;

    /// The `warn_latency` of a check that sets none, in the check or in `defaults`.
    const DEFAULT_WARN_LATENCY: Option<Duration> = None;

    /// Parse the kind's own keys of one check (the common ones are read already, into the
    /// [`CheckDef`]); returns the spec and its printable target. `None` when a key has a
    /// problem, reported through `ctx`.
    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)>;

    /// The printable target [`Kind::parse`] returned, as reports show it: a kind that quotes
    /// text which may hold a secret (a command line) cuts it here, by the redactor, after
    /// the secrets are masked ([`crate::model::Text::cut`]).
    fn target(&self, printable: String) -> crate::model::Text {
        printable.into()
    }

    /// The `host:port` the check connects to, shared by every check that targets it: the key
    /// of the per-host concurrency limit. `None` for a kind that is not host-limited.
    fn host_key(&self) -> Option<String>;

    /// Certificate days-left thresholds `(warn, fail)`, if the kind judges certificates.
    fn days(&self) -> (Option<i64>, Option<i64>) {
        (None, None)
    }

    /// The trust settings of the check's TLS connections, if it may speak TLS: the run
    /// prepares their verifier once, before any check's clock starts (see
    /// [`tls::prepare`](super::common::tls::prepare)).
    fn tls_trust(&self) -> Option<TlsTrust<'_>> {
        None
    }

    /// Whether the check connects before the TLS preparation is done and waits for it between
    /// its connect and its handshake, outside its clock ([`RunContext::tls_ready`]); otherwise
    /// the engine waits for it before the check starts.
    fn tls_after_connect(&self) -> bool {
        false
    }

    /// Run one attempt; `check` carries the shared options (`timeout`, the latency
    /// thresholds, the `expect:` conditions).
    fn run(
        &self,
        check: &CheckDef,
        ctx: &RunContext,
        phase: &Phase,
    ) -> impl Future<Output = Outcome> + Send;
}

pub use crate::model::RUN_REASONS;

/// Every reason a result of this build may have: the [`RUN_REASONS`] and every kind's
/// [`Kind::REASONS`], each once, in [`Reason`] order. The table a document is read back
/// with (`merge`, `--baseline`) and the one `docs/results.md` documents.
pub fn reasons() -> Vec<Reason> {
    let mut all: Vec<Reason> = RUN_REASONS
        .iter()
        .copied()
        .chain(super::REGISTRY.iter().flat_map(KindEntry::reasons))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// Whether this build has every optional kind (the default features).
#[cfg(test)]
pub(super) const EVERY_KIND: bool = cfg!(all(
    feature = "aws",
    feature = "grpc",
    feature = "kubernetes",
    feature = "mysql",
    feature = "postgres"
));

/// One line of the kind registry: what the config reader, the schema and the engine ask of
/// a kind without a check in hand, read from its [`Kind`] implementation.
#[derive(Debug, Clone, Copy)]
pub struct KindEntry {
    /// The kind name (`http`).
    pub kind: &'static str,
    /// The YAML list key holding checks of the kind (`http_checks`).
    pub list_key: &'static str,
    /// [`Kind::FIELDS`].
    pub fields: &'static [Field],
    /// [`Kind::LATENCY`].
    pub latency: bool,
    /// [`Kind::DEFAULT_WARN_LATENCY`].
    pub default_warn_latency: Option<Duration>,
    /// [`Kind::PHASES`].
    pub phases: &'static [PhaseName],
    /// [`Kind::LATENCY_REASON`].
    pub latency_reason: Reason,
    /// [`Kind::VALUES`].
    pub values: &'static [&'static str],
    /// [`Kind::EXPECT_REASON`].
    pub expect_reason: Reason,
    /// [`Kind::REASONS`].
    pub reasons: &'static [&'static [Reason]],
}

impl KindEntry {
    /// The registry line of kind `K`.
    pub const fn of<K: Kind>() -> Self {
        KindEntry {
            kind: K::NAME,
            list_key: ListKey::<K>::KEY,
            fields: K::FIELDS,
            latency: K::LATENCY,
            default_warn_latency: K::DEFAULT_WARN_LATENCY,
            phases: K::PHASES,
            latency_reason: K::LATENCY_REASON,
            values: K::VALUES,
            expect_reason: K::EXPECT_REASON,
            reasons: K::REASONS,
        }
    }

    /// The values the kind's conditions may name, for the condition parser.
    pub fn expect_values(&self) -> super::common::expect::KindValues<'static> {
        super::common::expect::KindValues {
            kind: self.kind,
            values: self.values,
            phases: self.phases,
        }
    }

    /// Every reason code a check of the kind may end with, besides the [`RUN_REASONS`].
    pub fn reasons(&self) -> impl Iterator<Item = Reason> + '_ {
        self.reasons.iter().flat_map(|group| group.iter().copied())
    }
}

/// The list key of kind `K`, `<NAME>_checks`, built at compile time so that the name is
/// written once (a `const` cannot `format!`).
struct ListKey<K>(std::marker::PhantomData<K>);

/// The longest list key a kind may have.
const LIST_KEY_MAX: usize = 64;

impl<K: Kind> ListKey<K> {
    const BYTES: ([u8; LIST_KEY_MAX], usize) = list_key_bytes(K::NAME);
    const KEY: &'static str = match std::str::from_utf8(Self::BYTES.0.split_at(Self::BYTES.1).0) {
        Ok(key) => key,
        // Not reached: a name is UTF-8 and so is the suffix (the registry test reads each key).
        Err(_) => "",
    };
}

/// `name` followed by `_checks`, in a buffer, and its length.
#[expect(
    clippy::indexing_slicing,
    reason = "every index is bounded by the assertion and the loop conditions; `get` is not const"
)]
const fn list_key_bytes(name: &str) -> ([u8; LIST_KEY_MAX], usize) {
    const SUFFIX: &[u8] = b"_checks";
    let name = name.as_bytes();
    assert!(
        name.len() + SUFFIX.len() <= LIST_KEY_MAX,
        "kind name too long"
    );
    let mut out = [0u8; LIST_KEY_MAX];
    let mut i = 0;
    while i < name.len() {
        out[i] = name[i];
        i += 1;
    }
    let mut j = 0;
    while j < SUFFIX.len() {
        out[i + j] = SUFFIX[j];
        j += 1;
    }
    (out, name.len() + SUFFIX.len())
}

/// The questions about one check that the engine and the reports ask of its kind, answered
/// for every kind by its [`Kind`] implementation (an object-safe view of it).
pub(super) trait Spec {
    /// [`Kind::NAME`].
    fn kind(&self) -> &'static str;
    /// [`Kind::host_key`].
    fn host_key(&self) -> Option<String>;
    /// [`Kind::days`].
    fn days(&self) -> (Option<i64>, Option<i64>);
    /// [`Kind::tls_trust`].
    fn tls_trust(&self) -> Option<TlsTrust<'_>>;
    /// [`Kind::tls_after_connect`].
    fn tls_after_connect(&self) -> bool;
}

impl<K: Kind> Spec for K {
    fn kind(&self) -> &'static str {
        K::NAME
    }
    fn host_key(&self) -> Option<String> {
        Kind::host_key(self)
    }
    fn days(&self) -> (Option<i64>, Option<i64>) {
        Kind::days(self)
    }
    fn tls_trust(&self) -> Option<TlsTrust<'_>> {
        Kind::tls_trust(self)
    }
    fn tls_after_connect(&self) -> bool {
        Kind::tls_after_connect(self)
    }
}

/// Derive everything kind-shaped from the registry lines in [`super`]: each line is
/// `Variant(module::SpecType);`, optionally behind a `#[cfg(feature = "…")]`, and `SpecType`
/// implements [`Kind`].
macro_rules! kinds {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $variant:ident($spec:ty);
    )*) => {
        /// The kind-specific part of a check.
        #[derive(Debug, Clone)]
        pub enum CheckSpec {
            $(
                $(#[doc = $doc])*
                $(#[cfg($cfg)])?
                $variant(Box<$spec>),
            )*
        }

        /// Every kind of this build, in registry order.
        pub const REGISTRY: &[KindEntry] = &[
            $(
                $(#[cfg($cfg)])?
                KindEntry::of::<$spec>(),
            )*
        ];

        /// A kind's YAML list key (`http_checks`) and its kind name (`http`).
        pub const KINDS: &[(&str, &str)] = &[
            $(
                $(#[cfg($cfg)])?
                (KindEntry::of::<$spec>().list_key, <$spec as Kind>::NAME),
            )*
        ];

        impl CheckSpec {
            /// The spec as the answers of its kind.
            fn as_spec(&self) -> &dyn registry::Spec {
                match self {
                    $(
                        $(#[cfg($cfg)])?
                        CheckSpec::$variant(s) => &**s,
                    )*
                }
            }

            /// Parse the kind-specific keys of one check; the reader's remaining keys are
            /// unknown. `None` for a kind this build does not know or a spec with problems.
            pub fn parse(
                kind: &str,
                reader: &mut MapReader<'_>,
                ctx: &mut Ctx<'_>,
            ) -> Option<(CheckSpec, crate::model::Text)> {
                $(
                    $(#[cfg($cfg)])?
                    if kind == <$spec as Kind>::NAME {
                        return <$spec as Kind>::parse(reader, ctx).map(|(s, t)| {
                            let target = s.target(t);
                            (CheckSpec::$variant(Box::new(s)), target)
                        });
                    }
                )*
                None
            }

            /// Run one attempt. Each kind's future is boxed: the future of this `match` would
            /// otherwise be as large as its largest arm (the SDK clients' futures run to
            /// kilobytes), and every in-flight check holds one, moved on each spawn.
            async fn run_kind(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
                match self {
                    $(
                        $(#[cfg($cfg)])?
                        CheckSpec::$variant(s) => Box::pin(Kind::run(&**s, check, ctx, phase)).await,
                    )*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::{CheckSpec, REGISTRY};
    use super::RUN_REASONS;
    use crate::model::Reason;
    use crate::reader::key_table::{Field, FieldType};
    use crate::reader::yaml::{Key, Node, Value};

    fn node(value: Value) -> Node {
        Node {
            value,
            line: 1,
            column: 1,
            file: crate::reader::source::Source::new("t.yaml"),
        }
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.to_owned(),
                        line: 1,
                        column: 1,
                        file: crate::reader::source::Source::new("t.yaml"),
                    };
                    (key, node(v))
                })
                .collect(),
        )
    }

    /// A value of the field's shape; `choice` picks the word of a `Choice`.
    fn sample(ty: FieldType, choice: usize) -> Value {
        let s = |v: &str| Value::Str(v.to_owned());
        match ty {
            FieldType::String | FieldType::Any | FieldType::TextOrObject(_) => s("x"),
            FieldType::Integer => Value::Int(1),
            FieldType::Bool | FieldType::FlagOrObject(_) => Value::Bool(true),
            FieldType::Duration => s("1s"),
            FieldType::StringList | FieldType::TargetList | FieldType::Tags => {
                Value::Seq(vec![node(s("x"))])
            }
            FieldType::ScalarList => Value::Seq(vec![node(Value::Int(200))]),
            FieldType::StringMap => map(vec![("k", s("v"))]),
            FieldType::Choice(words) => s(words.get(choice).or(words.first()).unwrap_or(&"x")),
            FieldType::Object(fields) => object(fields, choice),
            FieldType::ObjectList(fields) => Value::Seq(vec![node(object(fields, choice))]),
        }
    }

    fn object(fields: &[Field], choice: usize) -> Value {
        map(fields
            .iter()
            .map(|f| (f.key, sample(f.ty, choice)))
            .collect())
    }

    /// The keys `parse` asks for when every key of `fields` is set.
    fn asked(kind: &str, fields: &[Field], choice: usize) -> BTreeSet<String> {
        let root = node(object(fields, choice));
        let (asked, _) = crate::testing::read_mapping(&root, |mut reader, ctx| {
            let _ = CheckSpec::parse(kind, &mut reader, ctx);
            reader.asked
        });
        asked.into_iter().collect()
    }

    /// A key is declared once, in the kind's `FIELDS`: every key a parser reads is declared
    /// there (so the unknown-key check, the suggestions and the schema know it), and every
    /// declared key is read (no documented key that the parser ignores).
    #[test]
    fn every_kind_reads_exactly_its_fields() {
        for entry in REGISTRY {
            let declared: BTreeSet<String> =
                entry.fields.iter().map(|f| f.key.to_owned()).collect();
            assert_eq!(
                declared.len(),
                entry.fields.len(),
                "duplicate key in `{}`",
                entry.kind
            );
            // Each word of a choice once, so keys read for one choice only are seen too.
            let choices = entry
                .fields
                .iter()
                .map(|f| match f.ty {
                    FieldType::Choice(words) => words.len(),
                    _ => 1,
                })
                .max()
                .unwrap_or(1);
            let mut read = BTreeSet::new();
            for choice in 0..choices {
                read.extend(asked(entry.kind, entry.fields, choice));
            }
            let undeclared: Vec<&String> = read.difference(&declared).collect();
            assert!(
                undeclared.is_empty(),
                "`{}` reads keys missing from its FIELDS: {undeclared:?}",
                entry.kind
            );
            let unread: Vec<&String> = declared.difference(&read).collect();
            assert!(
                unread.is_empty(),
                "`{}` declares keys its parser never reads: {unread:?}",
                entry.kind
            );
        }
    }

    #[test]
    fn the_registry_names_each_kind_and_list_once() {
        let kinds: BTreeSet<&str> = REGISTRY.iter().map(|e| e.kind).collect();
        let lists: BTreeSet<&str> = REGISTRY.iter().map(|e| e.list_key).collect();
        assert_eq!(kinds.len(), REGISTRY.len());
        assert_eq!(lists.len(), REGISTRY.len());
        for e in REGISTRY {
            assert_eq!(e.list_key, format!("{}_checks", e.kind));
            assert!(super::super::KINDS.contains(&(e.list_key, e.kind)));
            assert!(!e.fields.is_empty(), "{}", e.kind);
        }
    }

    /// A kind's latency and condition reasons are among its own, none of its own is one any
    /// check may get, and every row of a shared family is some kind's (with every optional
    /// kind built): a row no kind declares would be missing from the table documents are read
    /// back with.
    #[test]
    fn every_reason_belongs_to_a_kind_or_to_every_run() {
        for entry in REGISTRY {
            let own: Vec<Reason> = entry.reasons().collect();
            for r in [entry.latency_reason, entry.expect_reason] {
                assert!(own.contains(&r), "`{}` does not declare `{r}`", entry.kind);
            }
            for r in &own {
                assert!(
                    !RUN_REASONS.contains(r),
                    "`{}` declares `{r}`, which every check may get",
                    entry.kind
                );
            }
        }
        if super::EVERY_KIND {
            for r in super::super::common::reasons::ROWS {
                assert!(
                    REGISTRY.iter().any(|e| e.reasons().any(|x| x == *r)),
                    "no kind declares `{r}`"
                );
            }
        }
    }

    /// The table of every reason has each code once, with a SARIF rule id and an order of its
    /// own: codes and rule ids are a contract, and the order sorts SARIF rules.
    #[test]
    fn every_reason_has_its_own_code_rule_id_and_order() {
        let all = super::reasons();
        assert!(all.len() >= RUN_REASONS.len() + REGISTRY.len());
        let codes: BTreeSet<&str> = all.iter().map(|r| r.code()).collect();
        let ids: BTreeSet<String> = all.iter().map(|r| r.rule_id()).collect();
        let orders: BTreeSet<u16> = all.iter().map(|r| r.order()).collect();
        assert_eq!(codes.len(), all.len(), "a code is written twice");
        assert_eq!(ids.len(), all.len(), "two codes have one rule id");
        assert_eq!(
            orders.len(),
            all.len(),
            "two codes have one order; the highest is {:?}",
            orders.last()
        );
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(Reason::HttpStatus.rule_id(), "http/status");
        assert_eq!(Reason::find(&all, "tls.expired"), Some(Reason::TlsExpired));
    }
}
