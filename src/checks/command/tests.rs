use super::*;

fn spec() -> CommandSpec {
    CommandSpec {
        argv: vec!["true".into()],
        expect_exit: vec![0],
        stdout_contains: vec!["ready".into()],
        stdout_not_contains: vec!["panic".into()],
        stdout_regex: None,
        stderr_contains: Vec::new(),
        stderr_regex: None,
        env: Vec::new(),
        cwd: None,
        max_output: DEFAULT_MAX_OUTPUT,
    }
}

/// The verdict with a `fail_latency` of 1s.
fn judge(spec: &CommandSpec, ran: &Ran<'_>) -> Outcome {
    let thresholds = Thresholds {
        warn_latency: None,
        fail_latency: Some(Duration::from_secs(1)),
    };
    super::judge(spec, thresholds, ran)
}

fn ran<'a>(code: Option<i32>, stdout: &'a [u8], stderr: &'a [u8], ms: u64) -> Ran<'a> {
    Ran {
        code,
        signal: code.is_none().then_some(9),
        stdout,
        stderr,
        stdout_capped: false,
        stderr_capped: false,
        elapsed: Duration::from_millis(ms),
    }
}

#[test]
fn exit_output_and_latency_are_judged() {
    let s = spec();
    let o = judge(&s, &ran(Some(0), b"ready\n", b"", 5));
    assert_eq!(
        (o.status, o.message.as_str()),
        (Status::Pass, "exit code 0 in 5 ms")
    );
    let o = judge(&s, &ran(Some(2), b"ready", b"boom\nlast words\n", 5));
    assert_eq!(o.reason, Some(Reason::CommandExit));
    let shown = crate::redact::Redactor::default().fold(&o.message);
    assert_eq!(shown, "exit code 2, expected 0 (last output: last words)");
    let o = judge(&s, &ran(None, b"ready", b"", 5));
    assert_eq!(o.message, "killed by signal 9, expected exit code 0");
    let o = judge(&s, &ran(Some(0), b"panic", b"", 5));
    assert_eq!(o.reason, Some(Reason::CommandOutput));
    let o = judge(&s, &ran(Some(0), b"ready", b"", 1_500));
    assert_eq!(
        (o.status, o.reason),
        (Status::Fail, Some(Reason::CommandLatency))
    );
}

#[test]
fn quoting() {
    assert_eq!(shell_quote("--strict"), "--strict");
    assert_eq!(shell_quote("a b"), "'a b'");
    assert_eq!(shell_quote("it's"), r"'it'\''s'");
}

#[test]
fn a_secret_the_capture_cut_leaves_no_prefix_in_the_message() {
    let secret = "wJalrXUtnFEMI/K7MDENG";
    let redactor = crate::redact::Redactor::new(&[secret.to_owned()]);
    let s = CommandSpec {
        stdout_contains: Vec::new(),
        ..spec()
    };
    for k in 1..secret.len() {
        let out = format!("log line\nkey={}", &secret[..k]);
        let mut r = ran(Some(1), b"", out.as_bytes(), 5);
        r.stderr_capped = true;
        let shown = redactor.fold(&judge(&s, &r).message);
        assert_eq!(
            shown, "exit code 1, expected 0 (last output: key=***)",
            "{k}"
        );
    }
    // A split UTF-8 character at the cap is dropped, and the prefix before it still masked.
    assert_eq!(whole_chars("ab\u{e9}".as_bytes().get(..3).unwrap()), b"ab");
}
