use super::*;
use crate::report::fixture;

#[test]
fn snapshot() {
    let mut s = fixture::summary();
    s.results[0].limits.warn_latency = Some(std::time::Duration::from_millis(1000));
    s.results[0].limits.fail_latency = Some(std::time::Duration::from_millis(3000));
    let doc = render(&s, Some("0123456789abcdef"));
    insta::assert_snapshot!(doc.replace(&esc(crate::cli::VERSION), "[version]"));
}

#[test]
fn snapshot_with_history() {
    let doc = render(&fixture::summary_with_history(), None);
    assert!(doc.contains("<h2 id=\"h-passrate\">Pass rate</h2>"));
    assert_eq!(doc.matches("aria-label=\"Latency trend&#58;").count(), 8);
    insta::assert_snapshot!(doc.replace(&esc(crate::cli::VERSION), "[version]"));
}

#[test]
fn csp_hashes_match_the_inline_blocks_and_nothing_else_is_inline() {
    let doc = render(&fixture::summary(), None);
    assert!(doc.contains(&csp_hash(STYLE)) && doc.contains(&csp_hash(SCRIPT)));
    assert_eq!(doc.matches("<script>").count(), 1);
    assert_eq!(doc.matches("<style>").count(), 1);
    assert!(
        !doc.contains(" style=\""),
        "inline style attributes break the CSP"
    );
    assert!(
        !doc.contains(" src=") && !doc.contains(" href="),
        "nothing fetched"
    );
}

#[test]
fn hostile_text_is_escaped() {
    let mut s = fixture::summary();
    s.results[0].name = "<img src=x onerror=alert(1)>\"'&".to_owned();
    s.results[0].message = "</pre></details><script>alert(1)</script>".into();
    s.results[0]
        .metadata
        .insert("header".to_owned(), "<b>x</b>".into());
    let doc = render(&s, Some("<i>sha</i>"));
    assert!(!doc.contains("<img") && !doc.contains("<b>x") && !doc.contains("<i>sha"));
    assert_eq!(doc.matches("<script>").count(), 1);
    assert!(doc.contains("&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;"));
}
