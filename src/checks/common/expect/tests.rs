use std::time::Duration;

use serde_json::json;

use super::*;
use crate::model::{Facts, Reason, Status};

const HTTP: KindValues<'static> = KindValues {
    kind: "http",
    values: &["status", "header.<name>", "body", "body.<JSONPath>"],
    phases: &[PhaseName::Connect, PhaseName::Ttfb],
};

fn facts() -> Facts {
    let mut f = Facts::new();
    f.value("status", 200);
    f.value("header.content-type", "application/json; charset=utf-8");
    f.value(
        "body",
        r#"{"status":"DOWN","items":[1,2,3],"version":"7.2.4","depth":42,"name":"api"}"#,
    );
    f.duration("latency", Duration::from_millis(120));
    f.duration("latency.ttfb", Duration::from_millis(80));
    f
}

fn check(text: &str) -> bool {
    let c = parse(text, Severity::Fail, &HTTP).unwrap_or_else(|e| panic!("{text}: {e}"));
    let (results, _) = judge(&[c], &facts(), Reason::HttpExpect);
    results[0].ok
}

fn error(text: &str) -> String {
    parse(text, Severity::Fail, &HTTP).map(|_| ()).unwrap_err()
}

#[test]
fn every_operator_holds_and_fails() {
    for (yes, no) in [
        ("status == 200", "status == 201"),
        ("status != 500", "status != 200"),
        ("status < 300", "status < 200"),
        ("status <= 200", "status <= 199"),
        ("status > 199", "status > 200"),
        ("status >= 200", "status >= 201"),
        (
            "header.Content-Type contains json",
            "header.content-type contains xml",
        ),
        ("body !contains \"secret\"", "body !contains DOWN"),
        (
            "body matches \"\\\"depth\\\":\\\\d+\"",
            "body matches \"^<html\"",
        ),
        (
            "header.content-type !matches \"^text/\"",
            "header.content-type !matches json",
        ),
        ("header.content-type exists", "header.x-nope exists"),
        ("header.x-nope !exists", "body.$.status !exists"),
        ("status in [200, 204]", "status in [500, 503]"),
    ] {
        assert!(check(yes), "{yes}");
        assert!(!check(no), "{no}");
    }
}

#[test]
fn jsonpath_lengths_versions_durations_and_sizes() {
    assert!(check("body.$.status == \"DOWN\""));
    assert!(check("body.$.status in [UP, DOWN]"));
    assert!(check("body.$.depth < 100"));
    assert!(check("body.$.items contains 2"));
    assert!(check("len(body.$.items) == 3"));
    assert!(check("len(body.$.items[?@ > 1]) == 2"));
    assert!(check("body.$.version >= 6.0"));
    assert!(check("body.$.version < 7.10"));
    assert!(check("body.$.version == 7.2.4"));
    assert!(!check("body.$.version > 7.2.4"));
    assert!(check("latency < 300ms"));
    assert!(check("latency < 1s"));
    assert!(!check("latency > 2s"));
    assert!(check("latency.ttfb <= 80ms"));
    assert!(check("len(body) < 1KB"));
    assert!(!check("len(body) > 1MB"));
    assert!(check("body.$.missing !exists"));
    assert!(!check("body.$.missing == 1"));
}

#[test]
fn a_failed_condition_names_the_value_seen_with_its_severity() {
    let c = parse("body.$.status == \"UP\"", Severity::Warn, &HTTP).unwrap();
    let (results, problems) = judge(&[c], &facts(), Reason::HttpExpect);
    assert_eq!(results[0].actual, json!("DOWN"));
    assert!(!results[0].ok);
    assert_eq!(
        problems,
        vec![(
            Status::Warn,
            Reason::HttpExpect,
            "body.$.status == \"UP\", was \"DOWN\"".into()
        )]
    );
    let c = parse("header.x-missing == a", Severity::Fail, &HTTP).unwrap();
    let (results, problems) = judge(&[c], &facts(), Reason::HttpExpect);
    assert_eq!(results[0].actual, serde_json::Value::Null);
    assert_eq!(problems[0].2, "header.x-missing == a, was missing");
}

#[test]
fn a_body_that_is_not_json_fails_its_paths() {
    let mut f = Facts::new();
    f.value("body", "<html>");
    let c = parse("body.$.a exists", Severity::Fail, &HTTP).unwrap();
    let (_, problems) = judge(&[c], &f, Reason::HttpExpect);
    assert_eq!(problems[0].2, "body.$.a exists, was body is not JSON");
}

#[test]
fn unknown_values_name_the_kinds_values_with_a_suggestion() {
    let e = error("bdy contains x");
    assert!(
        e.starts_with("unknown value `bdy` for http checks (did you mean `body`?)"),
        "{e}"
    );
    assert!(
        e.contains("status, header.<name>, body, body.<JSONPath>, latency, latency.<phase>"),
        "{e}"
    );
    let e = error("stdout == x");
    assert!(
        e.starts_with("unknown value `stdout` for http checks"),
        "{e}"
    );
    let e = error("latency.tbfb < 1s");
    assert!(e.contains("(did you mean `latency.ttfb`?)"), "{e}");
}

#[test]
fn malformed_conditions_are_one_line_errors() {
    assert!(error("status").starts_with("no operator in `status`"));
    assert!(error("status==200").starts_with("no operator"));
    assert!(error("status ==").contains("missing the expected value"));
    assert!(error("body matches \"(\"").starts_with("invalid regex"));
    assert!(error("body.$.a.. == 1").starts_with("invalid JSONPath"));
    assert!(error("body.status == 1").contains("starts with `$`"));
    assert!(error("status in 200").contains("takes a list"));
    assert!(error("body exists x").contains("nothing is written after"));
    assert!(error("body == \"open").contains("unterminated"));
    assert!(error("").starts_with("empty condition"));
    for e in [error("status"), error("body matches \"(\"")] {
        assert!(!e.contains('\n'), "{e}");
    }
}

#[test]
fn expected_values_read_units() {
    assert_eq!(number("300ms"), Some(300.0));
    assert_eq!(number("2s"), Some(2000.0));
    assert_eq!(number("1m"), Some(60_000.0));
    assert_eq!(number("1MB"), Some(1e6));
    assert_eq!(number("4KiB"), Some(4096.0));
    assert_eq!(number("-1.5"), Some(-1.5));
    assert_eq!(number("UP"), None);
    assert_eq!(number("7.2.4"), None);
}

#[test]
fn the_schema_pattern_takes_the_grammars_shapes() {
    let re = regex::Regex::new(&schema_pattern(&KindValues {
        kind: "redis",
        values: &["redis.info.<field>"],
        phases: &[PhaseName::Connect],
    }))
    .unwrap();
    for ok in [
        "redis.info.redis_version >= 6.0",
        "len(redis.info.role) > 0",
        "latency.connect < 1s",
        "latency exists",
    ] {
        assert!(re.is_match(ok), "{ok}");
    }
    for bad in ["status == 200", "latency.ttfb < 1s", "redis.info == 1"] {
        assert!(!re.is_match(bad), "{bad}");
    }
    let re = regex::Regex::new(&schema_pattern(&HTTP)).unwrap();
    for ok in [
        "status == 200",
        "body.$.items[?@.a == 'x'] exists",
        "len(body.$.items) > 0",
        "header.Content-Type contains json",
        "body !exists",
        "status in [200, 204]",
    ] {
        assert!(re.is_match(ok), "{ok}");
    }
    for bad in [
        "status",
        "status==200",
        "== 200",
        "status == ",
        "bdy == 1",
        "stdout == x",
    ] {
        assert!(!re.is_match(bad), "{bad}");
    }
}

#[test]
fn versions_are_read_from_the_start_of_a_text() {
    let mut f = Facts::new();
    f.value("body", "15.18 (Debian 15.18-0+deb12u1)");
    f.value("status", "10.11.6-MariaDB-0+deb12u1");
    let holds = |text: &str| {
        let c = parse(text, Severity::Fail, &HTTP).unwrap();
        judge(&[c], &f, Reason::HttpExpect).0[0].ok
    };
    assert!(holds("body >= 9.6"));
    assert!(holds("body > 15.4"));
    assert!(!holds("body >= 16"));
    assert!(holds("status >= 10.5"));
    assert!(holds("status < 10.11.7"));
    assert!(!holds("status > 11"));
}
