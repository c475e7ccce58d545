//! Unit tests of the report plumbing: appending, atomic writes, paths and `emit`.

mod append_tests {
    #[test]
    fn appended_text_starts_on_a_fresh_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("summary.md");
        std::fs::write(&p, "previous step, no newline").unwrap();
        super::super::append(&p, b"## infracheck\n").unwrap();
        super::super::append(&p, b"more\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "previous step, no newline\n## infracheck\nmore\n"
        );
        let fresh = dir.path().join("new.md");
        super::super::append(&fresh, b"x\n").unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "x\n");
    }
}

mod emit_tests {
    use super::super::*;

    #[test]
    fn workflow_commands_are_neutralised_at_every_line_start() {
        let s = neutralise_commands(
            "::error::a\n  ::warning::b\r\t::x\nok ::mid\nx ##[error]y\n#:::\n".to_owned(),
        );
        for line in s.split(['\n', '\r']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
        }
        assert!(s.contains("ok ::mid"), "mid-line `::` is kept: {s}");
        assert_eq!(
            s.replace('\u{2060}', ""),
            "::error::a\n  ::warning::b\r\t::x\nok ::mid\nx ##[error]y\n#:::\n"
        );
    }

    #[test]
    fn one_line_neutralises_lines_and_commands() {
        let s = one_line("a\n::error::x\r##[warning]y\u{1b}[31m\u{2028}z");
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'));
        assert!(!one_line(" ::error::x").trim_start().starts_with("::"));
        assert!(!s.contains("##[") && !s.contains('\u{2028}'));
    }

    #[test]
    fn repo_relative_paths() {
        let p = RepoPaths::new(PathBuf::from("/repo/sub"), PathBuf::from("/repo"));
        assert_eq!(p.relative("infracheck.yaml"), "sub/infracheck.yaml");
        assert_eq!(p.relative("./a/../b.yaml"), "sub/b.yaml");
        assert_eq!(p.relative("../top.yaml"), "top.yaml");
        assert_eq!(p.relative("/repo/x/y.yaml"), "x/y.yaml");
        assert_eq!(p.relative("/elsewhere/c.yaml"), "/elsewhere/c.yaml");
        assert_eq!(p.relative(""), "infracheck.yaml");
    }

    struct Fixed(&'static str);
    impl Reporter for Fixed {
        fn describe(&self) -> &'static str {
            "fixed report"
        }
        fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
            let names: Vec<&str> = cx.written.iter().map(|w| w.name).collect();
            Ok(format!("{} after {names:?}\n", self.0).into_bytes())
        }
    }

    #[test]
    fn one_failed_output_does_not_stop_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.txt");
        // A regular file where the report's directory should be.
        std::fs::write(dir.path().join("blocker"), "").unwrap();
        let bad = dir.path().join("blocker/bad.txt");
        let s = fixture::summary();
        let paths = RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"));
        let outputs = vec![
            Output::new(
                Fixed("a"),
                Destination::File {
                    name: "bad",
                    path: bad.clone(),
                },
            ),
            Output::new(
                Fixed("b"),
                Destination::File {
                    name: "ok",
                    path: ok.clone(),
                },
            ),
            Output::new(Fixed("c"), Destination::Stdout),
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let failures = emit(&s, &paths, &outputs, &mut out, &mut err);
        assert_eq!(failures.len(), 1);
        let msg = failures[0].to_string();
        assert!(
            msg.starts_with("fixed report: cannot write ") && msg.contains("bad.txt"),
            "{msg}"
        );
        assert_eq!(std::fs::read_to_string(&ok).unwrap(), "b after []\n");
        // Only reports that were really written are passed on.
        assert_eq!(String::from_utf8(out).unwrap(), "c after [\"ok\"]\n");
        assert!(!bad.exists());
    }
}
