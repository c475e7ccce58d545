use super::*;
use crate::report::fixture;

#[test]
fn snapshot() {
    insta::assert_snapshot!(render(&fixture::summary(), LIMIT));
}

#[test]
fn snapshot_with_history() {
    let doc = render(&fixture::summary_with_history(), LIMIT);
    let trends = doc.find("### Trends").unwrap();
    assert!(trends < doc.find("| Status | Check |").unwrap());
    assert!(
        doc.contains("| homepage | 1.30 s | 300 ms | +1.00 s |"),
        "{doc}"
    );
    assert!(
        doc.contains(
            "**Newly flaky** (failed at least twice in the window, passing now, 1): homepage"
        ),
        "{doc}"
    );
    insta::assert_snapshot!(doc);
}

#[test]
fn failures_first_and_no_raw_html() {
    let doc = render(&fixture::summary(), LIMIT);
    let fail = doc.find("| ❌ FAIL | api-ready").unwrap();
    let warn = doc.find("| ⚠️ WARN | login").unwrap();
    let pass = doc.find("| ✅ PASS | homepage").unwrap();
    assert!(fail < warn && warn < pass, "{doc}");
    assert!(
        !doc.contains("<script>") && !doc.contains("<b>&</b>"),
        "{doc}"
    );
    assert!(!doc.contains("##["), "{doc}");
    // The name with a pipe stays in its cell: every table row has exactly six unescaped `|`.
    for line in doc.lines().filter(|l| l.starts_with("| ")) {
        let bars = line.replace("\\|", "").matches('|').count();
        assert_eq!(bars, 6, "{line}");
    }
}

#[test]
fn a_huge_hostile_baseline_stays_within_the_budget() {
    let mut s = fixture::summary();
    let b = crate::baseline::Baseline::for_tests(
        "prod",
        (0..3000)
            .map(|i| {
                let mut r = s.results[0].clone();
                r.name = format!("{}-{i}", "<b>x</b>|".repeat(500));
                r
            })
            .chain(s.results.iter().cloned().map(|mut r| {
                r.status = crate::model::Status::Pass;
                r.reason = None;
                r
            }))
            .collect(),
    );
    let policy = crate::policy::Policy::new(s.fail_on_warn, s.fail_on, true);
    crate::baseline::apply(
        &mut s,
        &b,
        crate::baseline::Options::default(),
        &|now, before| policy.classify(now, before),
        &str::to_owned,
    );
    assert_eq!(s.baseline.as_ref().unwrap().removed.len(), 3000);
    for limit in [LIMIT, MIN_LIMIT] {
        let doc = render(&s, limit);
        assert!(doc.len() < limit, "{limit}: {}", doc.len());
        assert!(doc.starts_with("## infracheck · prod\n\n### Changes since baseline\n"));
        assert!(
            doc.contains("| Status | Check |"),
            "the results table follows"
        );
        assert!(doc.contains(" more"), "a visible note");
        assert!(!doc.contains("<b>x</b>"), "escaped");
    }
}

#[test]
fn escapes_markdown_and_html() {
    let e = md("a|b<i>`x`</i>\n[l](javascript:x) @team *b* &amp;");
    assert!(!e.contains("<i>") && !e.contains('`') && !e.contains('\n'));
    assert_eq!(e.matches('<').count(), 1, "only our own <br>: {e}");
    assert!(e.contains("a\\|b") && e.contains("\\[l\\]") && e.contains("&amp;amp;"));
    assert_eq!(html("</details><script>"), "&lt;/details&gt;&lt;script&gt;");
    assert_eq!(
        html("::add-mask::x ##[a] |"),
        "&#58;&#58;add-mask&#58;&#58;x &#35;&#35;[a] &#124;"
    );
}

#[test]
fn always_under_the_limit_with_a_visible_note() {
    let mut s = fixture::summary();
    let template = s.results[1].clone();
    s.results = (0..5000)
        .map(|i| {
            let mut r = template.clone();
            r.name = format!("check-{i}");
            r.message = "x".repeat(2000).into();
            r
        })
        .collect();
    let doc = render(&s, LIMIT);
    assert!(
        doc.len() < LIMIT && doc.len() < 1024 * 1024,
        "{}",
        doc.len()
    );
    assert!(doc.contains("Truncated to stay under"), "no note");
    assert!(doc.contains("| ❌ FAIL | check-0 |"));
    // Earlier content of the step counts against the limit.
    assert_eq!(StepSummary::after(400_000).limit, LIMIT - 400_000);
    assert_eq!(StepSummary::after(u64::MAX).limit, MIN_LIMIT);
    // A small budget still yields a well-formed document.
    let small = render(&s, 10_000);
    assert!(small.len() < 10_000);
    assert_eq!(
        small.matches("<details>").count(),
        small.matches("</details>").count()
    );
}
