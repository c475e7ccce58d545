use super::*;

#[test]
fn the_marker_cannot_close_the_html_comment() {
    assert_eq!(marker("prod"), "<!-- infracheck:prod -->");
    assert_eq!(marker("a-->b c"), "<!-- infracheck:a--_b_c -->");
}

#[test]
fn a_short_body_is_the_marker_and_the_markdown() {
    assert_eq!(
        body("prod", "## ok\n", Some("https://x/runs/1")),
        "<!-- infracheck:prod -->\n## ok\n"
    );
}

#[test]
fn a_long_body_is_cut_at_a_line_with_a_link_and_its_details_closed() {
    let mut md = String::from("# head\n<details><summary>more</summary>\n\n");
    while md.chars().count() < MAX_BODY_CHARS + 5000 {
        md.push_str("| é | a row of the table |\n");
    }
    let b = body("prod", &md, Some("https://github.com/o/r/actions/runs/9"));
    assert!(b.chars().count() <= MAX_BODY_CHARS, "{}", b.chars().count());
    assert!(b.starts_with("<!-- infracheck:prod -->\n# head\n"));
    assert!(b.contains("](https://github.com/o/r/actions/runs/9)"));
    assert!(b.contains("| é | a row of the table |\n</details>\n"));
    assert!(!b.contains("| é | a row of\n"), "cut at a line break");
    let b = body("prod", &md, None);
    assert!(b.chars().count() <= MAX_BODY_CHARS);
    assert!(b.contains("in the job summary of this run"));
    // One line longer than the limit is cut inside it.
    let b = body("prod", &"x".repeat(MAX_BODY_CHARS * 2), None);
    assert!(b.chars().count() <= MAX_BODY_CHARS);
}

#[test]
fn the_event_names_the_pull_request() {
    let n = |s: &str| pull_request_number(&serde_json::from_str(s).unwrap());
    assert_eq!(n(r#"{"number":7,"pull_request":{"number":7}}"#), Some(7));
    assert_eq!(
        n(r#"{"issue":{"number":8,"pull_request":{"url":"u"}}}"#),
        Some(8)
    );
    assert_eq!(n(r#"{"issue":{"number":8}}"#), None, "an issue, not a PR");
    assert_eq!(n(r#"{"ref":"refs/heads/main"}"#), None);
}

#[test]
fn the_next_link_is_found() {
    let h = r#"<https://api.github.com/repositories/1/issues/2/comments?page=2>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=5>; rel="last""#;
    assert_eq!(
        next_link(h),
        Some("https://api.github.com/repositories/1/issues/2/comments?page=2")
    );
    assert_eq!(
        next_link(r#"<https://a/?page=1>; rel="prev", <https://a/?page=1>; rel="first""#),
        None
    );
    assert_eq!(next_link(""), None);
}

#[test]
fn the_comment_is_the_one_that_starts_with_the_marker() {
    let c = |id, body: &str| Comment {
        id,
        body: Some(body.to_owned()),
    };
    let comments = [
        c(1, "quoting <!-- infracheck:prod --> here"),
        Comment { id: 2, body: None },
        c(3, "<!-- infracheck:staging -->\nx"),
        c(4, "<!-- infracheck:prod -->\nx"),
    ];
    assert_eq!(find(&comments, &marker("prod")).map(|c| c.id), Some(4));
    assert!(find(&comments, &marker("dev")).is_none());
}

#[test]
fn the_api_url_and_repository_are_checked() {
    assert_eq!(
        api_url("https://api.github.com").unwrap().as_str(),
        "https://api.github.com/"
    );
    assert_eq!(
        api_url("https://ghe.example/api/v3").unwrap().as_str(),
        "https://ghe.example/api/v3/"
    );
    assert!(api_url("http://127.0.0.1:9/").is_ok());
    assert!(api_url("http://api.github.com").is_err());
    assert!(api_url("https://u:p@api.github.com").is_err());
    assert!(api_url("not a url").is_err());
    assert_eq!(
        repository("octo/hello.world").unwrap(),
        ("octo".to_owned(), "hello.world".to_owned())
    );
    for bad in ["octo", "octo/", "/r", "a/b/c", "../x", "o/r?x"] {
        assert!(repository(bad).is_err(), "{bad}");
    }
}

#[test]
fn github_messages_are_one_short_line_without_the_token() {
    let m = github_message(r#"{"message":"Bad\ncreds tok123"}"#, "tok123");
    assert!(m.starts_with("(Bad") && m.ends_with("creds ***)"), "{m}");
    assert!(!m.contains('\n'));
    assert_eq!(github_message("", "t"), "(no message)");
    assert!(github_message(&"y".repeat(1000), "t").chars().count() < MESSAGE_MAX + 5);
}
