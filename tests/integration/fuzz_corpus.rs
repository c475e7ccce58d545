//! The fuzz corpora replayed by an ordinary `cargo test`: every file of `fuzz/corpus/<target>/`
//! goes through the very function its fuzz target calls (`fuzz/harness.rs`), with no panic, in a
//! child process whose heap is capped, so an input that makes the parser or a reporter
//! allocate without bound fails here too, not only under `cargo fuzz`.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/harness.rs"]
mod harness;

use crate::support::{code, sanitised_command, stderr, stdout};

/// Heap cap of the replaying child (`ulimit -d`, KiB). The whole replay peaks at about 96 MB
/// resident (`/usr/bin/time -f %M`; the alias bomb, refused at the node budget, is the largest)
/// and aborts under a 60 MB cap: 512 MiB is five times that, far below what an unbounded
/// expansion would take.
const HEAP_KIB: u32 = 512 * 1024;

/// Set in the child: replay in this process instead of starting a child.
const CHILD: &str = "INFRACHECK_FUZZ_REPLAY_CHILD";

/// The corpus files of `target`, sorted (the names libFuzzer hides, starting with `.`, left out).
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

/// Replay every corpus file in this process; one line per file on stdout, the count last.
fn replay_here() {
    let mut replayed = 0;
    for (target, run) in harness::TARGETS {
        for file in corpus(target) {
            // Named before it runs: a panic or an abort is blamed on this file.
            println!("{target}: {}", file.display());
            let data = std::fs::read(&file).unwrap();
            run(&data);
            replayed += 1;
        }
    }
    println!("replayed {replayed} corpus files");
}

#[test]
fn every_fuzz_corpus_file_replays_without_a_panic_in_bounded_memory() {
    if std::env::var_os(CHILD).is_some() {
        replay_here();
        return;
    }
    let expected: usize = harness::TARGETS.iter().map(|(t, _)| corpus(t).len()).sum();
    assert!(
        harness::TARGETS.iter().all(|(t, _)| !corpus(t).is_empty()),
        "every fuzz target has a seed corpus"
    );
    // This test again, alone, in a child whose data segment (heap) is capped.
    let me = std::env::current_exe().unwrap();
    let script = format!("ulimit -d {HEAP_KIB} && exec \"$0\" \"$@\"");
    let out = sanitised_command("sh")
        .args(["-c", &script])
        .arg(me)
        .args([
            "fuzz_corpus::every_fuzz_corpus_file_replays_without_a_panic_in_bounded_memory",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let (so, se) = (stdout(&out), stderr(&out));
    let last = so.lines().rfind(|l| l.contains(": ")).unwrap_or("(none)");
    assert_eq!(
        code(&out),
        0,
        "the replay failed at {last} ({:?})\n{so}\n{se}",
        out.status
    );
    assert!(
        so.contains(&format!("replayed {expected} corpus files")),
        "{so}\n{se}"
    );
    assert!(so.contains("1 passed"), "the child ran the replay: {so}");
}
