//! Every line a command says on stderr goes through the one sink of `src/event.rs`, which
//! redacts and escapes it (docs/architecture.md, "One event stream on stderr"): no other
//! module of `src/` prints to stderr by itself. The reports a user sends to stderr
//! (`--output`, GitHub annotations) are written by the report writer, which escapes them for
//! their format; the progress bar draws there through its own target.

use std::path::Path;

/// `(file under src/, what it may name)`: the uses of stderr outside the sink, each for a
/// reason that is not a line of text.
const ALLOWED: &[(&str, &str)] = &[
    // Whether stderr is a terminal (colours, the progress bar, the live lines).
    ("app/mod.rs", "std::io::stderr().is_terminal()"),
    ("app/run.rs", "std::io::stderr().is_terminal()"),
    ("app/live.rs", "std::io::stderr().is_terminal()"),
    ("app/live.rs", "indicatif::ProgressDrawTarget::stderr()"),
    // The reports written to stderr (`--output FORMAT` to `/dev/stderr`, annotations).
    ("app/outputs.rs", "let mut err = std::io::stderr();"),
    (
        "report/write.rs",
        "write_stream_with(&mut std::io::stderr().lock(), body)",
    ),
];

#[test]
fn only_the_event_sink_writes_lines_to_stderr() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    crate::support::rust_files(&src, &mut files);
    assert!(files.len() > 50, "found the sources: {}", files.len());
    let mut wrong = Vec::new();
    let mut sink_writes = 0;
    for path in &files {
        let rel = path
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(path).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim();
            if code.starts_with("//") {
                continue;
            }
            let prints = [
                "eprintln!",
                "eprint!",
                "io::stderr()",
                "ProgressDrawTarget::stderr",
            ]
            .iter()
            .any(|p| code.contains(p));
            if !prints {
                continue;
            }
            if rel == "event.rs" {
                sink_writes += 1;
                continue;
            }
            let allowed = ALLOWED
                .iter()
                .any(|(file, what)| *file == rel && code.contains(what));
            if !allowed {
                wrong.push(format!("src/{rel}:{}: {code}", n + 1));
            }
        }
    }
    assert!(sink_writes > 0, "the sink itself writes to stderr");
    assert!(
        wrong.is_empty(),
        "stderr written outside the event sink (src/event.rs):\n{}",
        wrong.join("\n")
    );
}
