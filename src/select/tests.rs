use super::*;
use crate::testing::plan_checks;

/// `api` depends on `db`, which depends on `net`; `web` and `legacy-x` stand alone.
const YAML: &str = "environments:\n  t:\n    tcp_checks:\n      - {name: net, host: 127.0.0.1, port: 1, tags: [infra]}\n      - {name: db, host: 127.0.0.1, port: 2, tags: [db, infra], depends_on: net}\n      - {name: api, host: 127.0.0.1, port: 3, tags: [api], depends_on: [db]}\n      - {name: web, host: 127.0.0.1, port: 4, tags: [web, slow]}\n      - {name: legacy-x, host: 127.0.0.1, port: 5}\n";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn select(tags: &[&str], exclude: &[&str], only: &[&str], skip: &[&str]) -> Selected {
    Selection::new(&s(tags), &s(exclude), &s(only), &s(skip))
        .unwrap()
        .expect("a selection")
        .apply(plan_checks(YAML), "t")
        .unwrap()
}

fn names(sel: &Selected) -> Vec<&str> {
    sel.checks.iter().map(|c| c.name.as_str()).collect()
}

#[test]
fn no_option_is_no_selection() {
    assert!(Selection::new(&[], &[], &[], &[]).unwrap().is_none());
}

#[test]
fn tags_pick_any_of_and_exclude_tags_leave_out() {
    let sel = select(&["web", "db"], &[], &[], &[]);
    // `net` comes in for `db`, in config order.
    assert_eq!(names(&sel), ["net", "db", "web"]);
    assert_eq!(
        (sel.run.selected, sel.run.pulled_in, sel.run.total_checks),
        (2, 1, 5)
    );
    assert_eq!(sel.pulled_in_by("net"), ["db"]);
    assert!(sel.pulled_in_by("db").is_empty());

    let sel = select(&[], &["slow", "api"], &[], &[]);
    assert_eq!(names(&sel), ["net", "db", "legacy-x"]);
    assert_eq!(sel.run.pulled_in, 0);
}

#[test]
fn only_and_skip_match_names_by_glob() {
    let sel = select(&[], &[], &["legacy-*", "w?b"], &[]);
    assert_eq!(names(&sel), ["web", "legacy-x"]);
    let sel = select(&[], &[], &[], &["legacy-*", "web"]);
    assert_eq!(names(&sel), ["net", "db", "api"]);
    // Both sides together: picked by --only, then --skip leaves one out.
    let sel = select(&["infra", "web"], &[], &["*"], &["net"]);
    assert_eq!(names(&sel), ["net", "db", "web"]);
    assert_eq!(
        sel.pulled_in_by("net"),
        ["db"],
        "a skipped dependency still runs"
    );
}

#[test]
fn dependencies_are_pulled_in_transitively_and_results_say_by_whom() {
    let sel = select(&[], &[], &["api"], &[]);
    assert_eq!(names(&sel), ["net", "db", "api"]);
    assert_eq!((sel.run.selected, sel.run.pulled_in), (1, 2));
    assert_eq!(sel.pulled_in_by("db"), ["api"]);
    assert_eq!(sel.pulled_in_by("net"), ["db"]);
    let mut results: Vec<CheckResult> = ["net", "api"]
        .iter()
        .map(|n| {
            let mut r = crate::report::fixture::summary().results.remove(0);
            r.name = (*n).to_owned();
            r
        })
        .collect();
    sel.annotate(&mut results);
    assert_eq!(*results[0].pulled_in_by, ["db"]);
    assert!(results[1].pulled_in_by.is_empty());
}

#[test]
fn nothing_matched_is_an_error_listing_the_tags_in_use() {
    let sel = Selection::new(&s(&["nope"]), &[], &s(&["x*"]), &[])
        .unwrap()
        .unwrap();
    let err = sel.apply(plan_checks(YAML), "t").unwrap_err().to_string();
    assert_eq!(
        err,
        "no check of environment t matches --tags nope --only 'x*' (5 checks; tags in use: api, db, infra, slow, web)"
    );
}

#[test]
fn bad_globs_and_tags_are_errors_naming_the_flag() {
    let err = Selection::new(&[], &[], &s(&["a[b"]), &[])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid --only pattern `a[b`: "), "{err}");
    let err = Selection::new(&[], &s(&["a b"]), &[], &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("invalid --exclude-tags value `a b`"),
        "{err}"
    );
    let err = Selection::new(&s(&[""]), &[], &[], &[])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("invalid --tags value ``"), "{err}");
}

#[test]
fn tags_are_read_in_order_once_and_bad_ones_are_config_errors() {
    let checks = plan_checks(
        "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: h, port: 1, tags: [x, y, x]}\n      - {name: b, host: h, port: 1, tags: solo}\n",
    );
    assert_eq!(checks[0].tags, ["x", "y"]);
    assert_eq!(checks[1].tags, ["solo"]);
    let err = crate::testing::plan_error(
        "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: h, port: 1, tags: [ok, 'a b', '']}\n      - {name: b, host: h, port: 1, tags: {x: 1}}\n",
    );
    assert!(err.contains("t.yaml:4:"), "{err}");
    assert!(
        err.contains("a tag must not contain a space or a comma"),
        "{err}"
    );
    assert!(err.contains("must not be empty"), "{err}");
    assert!(
        err.contains("expected a list of tags, found a mapping"),
        "{err}"
    );
}
