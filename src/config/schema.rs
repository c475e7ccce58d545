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

pub use crate::reader::key_table::{Field, FieldType, opt, req};

use super::keys::{
    COMMON_FIELDS, ENVIRONMENT_FIELDS, ENVIRONMENTS_FILTER, EXPECT_ITEM_FIELDS, EXPECT_KEY,
    LATENCY_KEYS, PHASE_LIMIT_FIELDS, PHASES_KEY, TOP_FIELDS,
};
use crate::checks::KindEntry;

/// A tag: no whitespace, no comma (the validator's rule, see `config/checks.rs`).
const TAG_PATTERN: &str = r"^[^\s,]+$";

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
        FieldType::Tags => {
            let tag = json!({"type": "string", "pattern": TAG_PATTERN});
            json!({"anyOf": [tag, {"type": "array", "items": tag}]})
        }
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
        FieldType::TargetList => json!({
            "type": "array",
            "minItems": 1,
            "items": {"anyOf": [
                {"type": ["string", "number", "boolean"]},
                {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": ["string", "number", "boolean"]}
                }
            ]}
        }),
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

/// `phases:` of a kind: a closed mapping of the kind's phase names, each `{warn, fail}`.
fn phases_schema(entry: &KindEntry) -> Value {
    let mut props = Map::new();
    for p in entry.phases {
        props.insert(p.as_str().to_owned(), object(PHASE_LIMIT_FIELDS, &[]));
    }
    json!({
        "description": format!(
            "Thresholds per timed phase (`warn`/`fail` durations) of a {} check.",
            entry.kind
        ),
        "type": "object",
        "properties": props,
        "additionalProperties": false
    })
}

/// `expect:` of a kind: a list of conditions on the values the kind observes, each a string
/// (its shape checked by a pattern naming the kind's values) or `{assert, severity}`. A tcp
/// check's `expect` may also be one text, its banner key.
fn expect_schema(entry: &KindEntry) -> Value {
    let pattern = crate::checks::common::expect::schema_pattern(&entry.expect_values());
    let condition = json!({"type": "string", "pattern": pattern});
    let mut item = object(EXPECT_ITEM_FIELDS, &[]);
    if let Some(props) = item.get_mut("properties").and_then(Value::as_object_mut)
        && let Some(assert) = props.get_mut("assert").and_then(Value::as_object_mut)
    {
        assert.insert("type".to_owned(), json!("string"));
        assert.insert("pattern".to_owned(), json!(pattern));
    }
    let list = json!({
        "type": "array",
        "items": {"anyOf": [condition, item]}
    });
    let description = format!(
        "Conditions on what a {} check observed, each `VALUE OP EXPECTED` or `{{assert, severity}}`; values: {}.",
        entry.kind,
        entry.expect_values().families().join(", ")
    );
    let own = entry.fields.iter().find(|f| f.key == EXPECT_KEY);
    match own {
        Some(f) => json!({
            "description": format!("{} Or one text: {}", description, f.description),
            "anyOf": [{"type": ["string", "number"]}, list]
        }),
        None => {
            let mut list = list;
            if let Value::Object(m) = &mut list {
                m.insert("description".to_owned(), json!(description));
            }
            list
        }
    }
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
            .chain(entry.fields.iter().filter(|f| f.key != EXPECT_KEY))
            .copied()
            .collect();
        let mut phases: Vec<(&str, Value)> = if entry.latency {
            vec![(PHASES_KEY, phases_schema(entry))]
        } else {
            Vec::new()
        };
        phases.push((EXPECT_KEY, expect_schema(entry)));
        definitions.insert(check_def(kind, false), object(&fields, &phases));
        let mut shared = fields;
        shared.push(ENVIRONMENTS_FILTER);
        definitions.insert(check_def(kind, true), object(&shared, &phases));
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
                "infracheck {} configuration: checks per environment. The main config needs `environments` (in it or in a file it includes); a file named by `include` may hold any of the top-level keys alone (`checks`, `defaults`, `environments`, `vars`, `waivers`…).",
                env!("CARGO_PKG_VERSION")
            )),
        );
        // One schema serves the main config and the files it includes, which cannot be told
        // apart from their content: `environments` is not required here (the validator
        // requires it of the merged config), every key and value stays as strict.
        m.insert("minProperties".to_owned(), json!(1));
        m.insert("definitions".to_owned(), Value::Object(definitions));
    }
    root
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::checks::CheckSpec;
    use crate::config::keys::WAIVER_FIELDS;

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
    fn waiver_table_matches_the_validator() {
        let keys: BTreeSet<&str> = WAIVER_FIELDS.iter().map(|f| f.key).collect();
        assert_eq!(keys, crate::waiver::KEYS.iter().copied().collect());
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
                let common = super::super::keys::common_check_keys();
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
        assert!(
            s.get("required").is_none(),
            "an included file needs no `environments`"
        );
        assert_eq!(s["minProperties"], 1);
    }

    #[test]
    fn phases_take_exactly_the_kinds_phase_names() {
        let s = json_schema();
        for entry in REGISTRY {
            let phases = &s["definitions"][check_def(entry.kind, false)]["properties"]["phases"];
            assert_eq!(phases["additionalProperties"], false, "{}", entry.kind);
            let names: Vec<&String> = phases["properties"]
                .as_object()
                .map(|m| m.keys().collect())
                .unwrap_or_default();
            let want: Vec<&str> = entry.phases.iter().map(|p| p.as_str()).collect();
            assert_eq!(names, want, "{}", entry.kind);
            assert!(phases["properties"][want[0]]["properties"]["warn"].is_object());
        }
    }
}
