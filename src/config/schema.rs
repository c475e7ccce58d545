//! The JSON Schema (draft-07) of `infracheck.yaml`, printed by `infracheck schema` for editors
//! (yaml-language-server's `# yaml-language-server: $schema=…` line).
//!
//! The config is read by a strict hand-written walker, not by serde types, so the schema is
//! built from the same tables the validator uses: the top-level, `defaults` and common check
//! keys of [`super`] and the kind registry ([`REGISTRY`]) with each kind's `FIELDS` table, the
//! one declaration of its keys (tested against what its parser reads). A key the validator
//! rejects is rejected here too (`additionalProperties: false`).
//!
//! Values are interpolated (`${VAR}`) before they are checked, so wherever the validator takes
//! a number or a boolean the schema also accepts a string; word choices (`method`, `role`…) are
//! offered as an `enum` for completion but any string is accepted, as the validator compares
//! them case-insensitively after interpolation.

use serde_json::{Map, Value, json};

use crate::checks::{KINDS, REGISTRY};

pub use crate::spec::field::{Field, FieldType, opt, req};

fn type_schema(ty: FieldType) -> Value {
    let interpolated = json!({"type": "string"});
    match ty {
        FieldType::String => json!({"type": ["string", "number", "boolean"]}),
        FieldType::Integer => json!({"anyOf": [{"type": "integer", "minimum": 0}, interpolated]}),
        FieldType::Bool => json!({"anyOf": [{"type": "boolean"}, interpolated]}),
        FieldType::Duration => json!({"anyOf": [{"type": "number", "minimum": 0}, interpolated]}),
        FieldType::StringList => json!({"anyOf": [
            {"type": ["string", "number", "boolean"]},
            {"type": "array", "items": {"type": ["string", "number", "boolean"]}}
        ]}),
        FieldType::ScalarList => json!({"anyOf": [
            {"type": ["string", "integer"]},
            {"type": "array", "minItems": 1, "items": {"type": ["string", "integer"]}}
        ]}),
        FieldType::StringMap => json!({
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean"]}
        }),
        FieldType::Choice(words) => json!({"anyOf": [{"enum": words}, interpolated]}),
        FieldType::Object(fields) => object(fields, &[]),
        FieldType::FlagOrObject(fields) => json!({"anyOf": [
            {"type": "null"},
            {"const": true},
            object(fields, &[])
        ]}),
        FieldType::TextOrObject(fields) => json!({"anyOf": [
            {"type": ["string", "number"]},
            object(fields, &[])
        ]}),
        FieldType::ObjectList(fields) => json!({"type": "array", "items": object(fields, &[])}),
        FieldType::Any => json!({}),
    }
}

fn field_schema(f: &Field) -> Value {
    let mut s = type_schema(f.ty);
    if let Value::Object(m) = &mut s {
        m.insert("description".to_owned(), json!(f.description));
    }
    s
}

/// A closed mapping of `fields` plus `extra` properties given as ready schemas.
fn object(fields: &[Field], extra: &[(&str, Value)]) -> Value {
    let mut props = Map::new();
    for f in fields {
        props.insert(f.key.to_owned(), field_schema(f));
    }
    for (k, v) in extra {
        props.insert((*k).to_owned(), v.clone());
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    let mut m = Map::new();
    m.insert("type".to_owned(), json!("object"));
    m.insert("properties".to_owned(), Value::Object(props));
    if !required.is_empty() {
        m.insert("required".to_owned(), json!(required));
    }
    m.insert("additionalProperties".to_owned(), json!(false));
    Value::Object(m)
}

/// The keys every check takes, whatever its kind (without `environments`).
const COMMON_FIELDS: &[Field] = &[
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
];

/// The common keys a kind takes only when its registry line says `latency: true`.
const LATENCY_KEYS: &[&str] = &["warn_latency", "fail_latency"];

/// `environments` on a check of the shared top-level `checks:` block.
const ENVIRONMENTS_FILTER: Field = opt(
    "environments",
    FieldType::StringList,
    "Only in the top-level `checks:` block: the environments this check runs in (default: all).",
);

/// The keys of `defaults:` (top level or per environment).
pub(crate) const DEFAULT_FIELDS: &[Field] = &[
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
const ENVIRONMENT_FIELDS: &[Field] = &[
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
const TOP_FIELDS: &[Field] = &[
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
];

/// The keys of one entry of `waivers:`.
const WAIVER_FIELDS: &[Field] = &[
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

fn check_def(kind: &str, shared: bool) -> String {
    if shared {
        format!("{kind}_check_shared")
    } else {
        format!("{kind}_check")
    }
}

fn check_lists(shared: bool) -> Vec<(&'static str, Value)> {
    KINDS
        .iter()
        .map(|(list, kind)| {
            (
                *list,
                json!({
                    "description": format!("`{kind}` checks."),
                    "type": ["array", "null"],
                    "items": {"$ref": format!("#/definitions/{}", check_def(kind, shared))}
                }),
            )
        })
        .collect()
}

/// The JSON Schema of the config file.
pub fn json_schema() -> Value {
    let mut definitions = Map::new();
    for entry in REGISTRY {
        let kind = entry.kind;
        // A kind without latency thresholds rejects their keys (see `config/checks.rs`).
        let fields: Vec<Field> = COMMON_FIELDS
            .iter()
            .filter(|f| entry.latency || !LATENCY_KEYS.contains(&f.key))
            .chain(entry.fields)
            .copied()
            .collect();
        definitions.insert(check_def(kind, false), object(&fields, &[]));
        let mut shared = fields;
        shared.push(ENVIRONMENTS_FILTER);
        definitions.insert(check_def(kind, true), object(&shared, &[]));
    }
    let environment = object(ENVIRONMENT_FIELDS, &check_lists(false));
    definitions.insert("environment".to_owned(), environment);

    let mut shared_checks = object(&[], &check_lists(true));
    if let Value::Object(m) = &mut shared_checks {
        m.insert(
            "description".to_owned(),
            json!("Checks written once and run in every environment (or those in their `environments:`)."),
        );
    }
    let environments = json!({
        "description": "Environment names and their checks.",
        "type": "object",
        "minProperties": 1,
        "additionalProperties": {"$ref": "#/definitions/environment"}
    });
    let mut root = object(
        TOP_FIELDS,
        &[("checks", shared_checks), ("environments", environments)],
    );
    if let Value::Object(m) = &mut root {
        m.insert(
            "$schema".to_owned(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
        m.insert("title".to_owned(), json!("infracheck.yaml"));
        m.insert(
            "description".to_owned(),
            json!(format!(
                "infracheck {} configuration: checks per environment.",
                env!("CARGO_PKG_VERSION")
            )),
        );
        m.insert("required".to_owned(), json!(["environments"]));
        m.insert("definitions".to_owned(), Value::Object(definitions));
    }
    root
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::checks::CheckSpec;

    fn keys(fields: &[Field]) -> BTreeSet<&'static str> {
        fields.iter().map(|f| f.key).collect()
    }

    fn set(keys: &[&'static str]) -> BTreeSet<&'static str> {
        keys.iter().copied().collect()
    }

    #[test]
    fn every_kind_key_has_a_description() {
        for entry in REGISTRY {
            let kind = entry.kind;
            assert!(
                entry.fields.iter().all(|f| !f.description.is_empty()),
                "{kind}"
            );
        }
    }

    #[test]
    fn shared_tables_match_the_validator() {
        let mut common = keys(COMMON_FIELDS);
        common.insert(ENVIRONMENTS_FILTER.key);
        assert_eq!(common, set(super::super::checks::COMMON_CHECK_KEYS));
        assert_eq!(
            keys(DEFAULT_FIELDS),
            set(super::super::defaults::DEFAULT_KEYS)
        );
        assert_eq!(keys(WAIVER_FIELDS), set(crate::waiver::KEYS));
        let mut top = keys(TOP_FIELDS);
        top.extend(["checks", "environments"]);
        assert_eq!(top, set(super::super::TOP_KEYS));
        assert_eq!(
            keys(ENVIRONMENT_FIELDS),
            set(super::super::environment::ENVIRONMENT_KEYS)
        );
    }

    #[test]
    fn every_kind_and_key_appears_in_the_schema() {
        let s = json_schema();
        for entry in REGISTRY {
            let (list, kind) = (&entry.list_key, entry.kind);
            let env_list = &s["definitions"]["environment"]["properties"][*list];
            assert!(env_list.is_object(), "{list}");
            assert!(
                s["properties"]["checks"]["properties"][*list].is_object(),
                "{list}"
            );
            for shared in [false, true] {
                let def = &s["definitions"][check_def(kind, shared)];
                assert_eq!(def["additionalProperties"], false);
                let props = def["properties"].as_object().map(|m| m.len()).unwrap_or(0);
                let common = super::super::checks::COMMON_CHECK_KEYS.iter().copied();
                for key in CheckSpec::known_keys(kind).chain(common) {
                    let present = def["properties"].get(key).is_some();
                    let latency = entry.latency || !LATENCY_KEYS.contains(&key);
                    assert_eq!(
                        present,
                        (shared || key != "environments") && latency,
                        "`{key}` in {kind} (shared: {shared})"
                    );
                }
                assert!(props > 0);
            }
            assert_eq!(
                s["definitions"][check_def(kind, false)]["required"][0],
                "name"
            );
        }
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["required"], json!(["environments"]));
    }
}
