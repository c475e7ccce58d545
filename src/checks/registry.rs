//! The machinery behind the kind registry in [`super`]: the `kinds!` macro that turns one line
//! per kind into the [`CheckSpec`](super::CheckSpec) enum, [`KINDS`](super::KINDS),
//! [`REGISTRY`](super::REGISTRY) and every dispatch, and the [`Kind`] trait through which each
//! spec type answers the per-kind questions (its host, its limits, how it runs).
//!
//! Each kind module implements [`Kind`] for its spec type, beside its `FIELDS`, `parse` and
//! `run`; adding a kind is that module plus one line of the registry in [`super`].

use std::future::Future;

use super::common::tls::TlsTrust;
use super::{CheckDef, Phase, RunContext, Thresholds};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::key_table::Field;

/// One line of the kind registry.
#[derive(Debug, Clone, Copy)]
pub struct KindEntry {
    /// The kind name (`http`).
    pub kind: &'static str,
    /// The YAML list key holding checks of the kind (`http_checks`).
    pub list_key: &'static str,
    /// The kind's keys: the validator's known keys, the typo suggestions and the JSON Schema.
    pub fields: &'static [Field],
    /// Whether checks of the kind take `warn_latency` / `fail_latency`; a kind without them
    /// rejects both keys and ignores the latency `defaults`.
    pub latency: bool,
    /// The phases the kind times, in the order they happen (the only names `phases:` takes).
    pub phases: &'static [PhaseName],
    /// The reason of a slow check or phase (`http.latency`…).
    pub latency_reason: Reason,
    /// The values its checks observe for `expect:` conditions, besides `latency` and
    /// `latency.<phase>` (`status`, `header.<name>`…).
    pub values: &'static [&'static str],
    /// The reason of a failed `expect:` condition (`http.expect`…).
    pub expect_reason: Reason,
}

impl KindEntry {
    /// The values the kind's conditions may name, for the condition parser.
    pub fn expect_values(&self) -> super::common::expect::KindValues<'static> {
        super::common::expect::KindValues {
            kind: self.kind,
            values: self.values,
            phases: self.phases,
        }
    }
}

/// What the engine and the reports ask of a kind's spec, answered by each spec type.
pub trait Kind {
    /// The `host:port` the check connects to; see [`CheckSpec::host_key`](super::CheckSpec::host_key).
    fn host_key(&self) -> Option<String>;

    /// The latency thresholds the check judges against, if the kind judges latency.
    fn thresholds(&self) -> Option<&Thresholds>;

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

    /// Run one attempt; `check` carries the shared options some kinds need (`timeout`).
    fn run<'a>(
        &'a self,
        check: &'a CheckDef,
        ctx: &'a RunContext,
        phase: &'a Phase,
    ) -> impl Future<Output = Outcome> + Send + 'a
    where
        Self: Sized;
}

/// Derive everything kind-shaped from the registry lines in [`super`]: each line is
/// `Variant(module::SpecType) "kind" "list_key" latency: bool;`, optionally behind a
/// `#[cfg(feature = "…")]`. The module must expose `FIELDS`, `PHASES`, `LATENCY_REASON`, `VALUES`, `EXPECT_REASON` and
/// `parse(reader, ctx, thresholds) -> Option<(SpecType, String)>`, and `SpecType` must
/// implement [`Kind`].
macro_rules! kinds {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $variant:ident($module:ident::$spec:ident) $kind:literal $list:literal latency: $latency:literal;
    )*) => {
        /// The kind-specific part of a check.
        #[derive(Debug, Clone)]
        pub enum CheckSpec {
            $(
                $(#[doc = $doc])*
                $(#[cfg($cfg)])?
                $variant(Box<$module::$spec>),
            )*
        }

        /// Every kind of this build, in registry order.
        pub const REGISTRY: &[KindEntry] = &[
            $(
                $(#[cfg($cfg)])?
                KindEntry {
                    kind: $kind,
                    list_key: $list,
                    fields: $module::FIELDS,
                    latency: $latency,
                    phases: $module::PHASES,
                    latency_reason: $module::LATENCY_REASON,
                    values: $module::VALUES,
                    expect_reason: $module::EXPECT_REASON,
                },
            )*
        ];

        /// A kind's YAML list key (`http_checks`) and its kind name (`http`).
        pub const KINDS: &[(&str, &str)] = &[
            $(
                $(#[cfg($cfg)])?
                ($list, $kind),
            )*
        ];

        impl CheckSpec {
            /// The kind name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(
                        $(#[cfg($cfg)])?
                        CheckSpec::$variant(_) => $kind,
                    )*
                }
            }

            /// The spec as its [`Kind`].
            fn as_kind(&self) -> &dyn Kind {
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
                thresholds: Thresholds,
            ) -> Option<(CheckSpec, String)> {
                match kind {
                    $(
                        $(#[cfg($cfg)])?
                        $kind => $module::parse(reader, ctx, thresholds)
                            .map(|(s, t)| (CheckSpec::$variant(Box::new(s)), t)),
                    )*
                    _ => None,
                }
            }

            /// Run one attempt. Each kind's future is boxed: the future of this `match` would
            /// otherwise be as large as its largest arm (the SDK clients' futures run to
            /// kilobytes), and every in-flight check holds one, moved on each spawn.
            async fn run_kind(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
                match self {
                    $(
                        $(#[cfg($cfg)])?
                        CheckSpec::$variant(s) => Box::pin(s.run(check, ctx, phase)).await,
                    )*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    use super::super::{CheckSpec, REGISTRY, Thresholds};
    use crate::reader::ctx::Ctx;
    use crate::reader::interpolate::Interpolator;
    use crate::reader::key_table::{Field, FieldType};
    use crate::reader::yaml::{Key, MapReader, Node, Problems, Value};

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
        let mut problems = Problems::default();
        let (vars, used) = (BTreeMap::new(), RefCell::new(Vec::new()));
        let interp = Interpolator {
            env: &|_: &str| None::<String>,
            vars: &vars,
            declared_secrets: &[],
            pending: &[],
            used: &used,
        };
        let mut secrets = Vec::new();
        let Some(mut reader) = MapReader::new(&root, "c", &mut problems) else {
            unreachable!("a mapping")
        };
        let mut ctx = Ctx {
            problems: &mut problems,
            interp: &interp,
            secrets: &mut secrets,
        };
        let thresholds = Thresholds {
            warn_latency: None,
            fail_latency: None,
        };
        let _ = CheckSpec::parse(kind, &mut reader, &mut ctx, thresholds);
        reader.asked.into_iter().collect()
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
}
