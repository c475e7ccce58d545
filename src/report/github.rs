//! GitHub Actions mode: workflow-command annotations and `$GITHUB_OUTPUT` values
//! (`docs/ci-formats.md` §3; escaping as in actions/toolkit `packages/core/src/command.ts`).
//! The step summary is the [`Markdown`](super::markdown::Markdown) reporter appended to
//! `$GITHUB_STEP_SUMMARY`.
//!
//! Safety: the runner treats every output line whose trimmed start is `::` as a command, and
//! `##[` anywhere in a line as the legacy form. Every line this module writes starts with one of
//! infracheck's own commands; untrusted text only appears escaped inside it (line breaks become
//! `%0A`, so it can never start a line) and `##[` is broken up.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use super::{Context, RenderError, Reporter, truncate_chars};
use crate::model::{CheckResult, Reason, Status};

/// GitHub turns at most 10 errors and 10 warnings per step into annotations.
pub const MAX_PER_LEVEL: usize = 10;
/// GitHub cuts annotation messages at 4,096 characters; stay below with room for the target.
const MESSAGE_MAX: usize = 3500;

pub use crate::text::{escape_data, escape_property};

/// `::error`/`::warning` annotations for FAILs and WARNs (at most [`MAX_PER_LEVEL`] each, in
/// config order), then one `::notice` with the counts and how many more the summary holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Annotations;

impl Reporter for Annotations {
    fn describe(&self) -> &'static str {
        "GitHub annotations"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(annotations(cx).into_bytes())
    }
}

fn annotation(cx: &Context<'_>, command: &str, r: &CheckResult) -> String {
    let reason = r.reason.unwrap_or(Reason::Internal);
    let mut title = format!("{} [{}]", r.name, reason.code());
    match r.baseline.as_ref().map(|c| c.change) {
        Some(crate::model::Change::New) => title.push_str(" NEW since baseline"),
        Some(crate::model::Change::Still) => title.push_str(" still failing since baseline"),
        _ => {}
    }
    let message = format!(
        "{} (target: {})",
        truncate_chars(&r.message, MESSAGE_MAX),
        truncate_chars(&r.target, 400)
    );
    format!(
        "::{command} file={},line={},col={},title={}::{}\n",
        escape_property(&cx.paths.relative(&r.location.file)),
        r.location.line.max(1),
        r.location.column.max(1),
        escape_property(&title),
        escape_data(&message)
    )
}

fn annotations(cx: &Context<'_>) -> String {
    let s = cx.summary;
    let mut out = String::new();
    let mut more = [0usize; 2];
    // Only root causes: a SKIP (blocked by another check) gets no annotation of its own.
    for (i, (status, command)) in [(Status::Fail, "error"), (Status::Warn, "warning")]
        .into_iter()
        .enumerate()
    {
        let mut matching: Vec<&CheckResult> =
            s.results.iter().filter(|r| r.status == status).collect();
        // With a baseline, NEW failures come first: they are what the annotations are for.
        matching.sort_by_key(|r| {
            r.baseline
                .as_ref()
                .is_none_or(|c| c.change != crate::model::Change::New)
        });
        for r in matching.iter().take(MAX_PER_LEVEL) {
            out.push_str(&annotation(cx, command, r));
        }
        if let Some(m) = more.get_mut(i) {
            *m = matching.len().saturating_sub(MAX_PER_LEVEL);
        }
    }
    // Waived failures stay visible as notices; one notice is left for the run summary.
    for r in s
        .results
        .iter()
        .filter(|r| r.status == Status::Waived)
        .take(MAX_PER_LEVEL.saturating_sub(1))
    {
        out.push_str(&annotation(cx, "notice", r));
    }
    let c = s.counts();
    let mut notice = format!(
        "{} passed, {} warned, {} failed,{} {} total: {}.",
        c.pass,
        c.warn,
        c.fail,
        super::text::extra_counts(c),
        c.total,
        super::verdict(s)
    );
    if let Some(b) = &s.baseline {
        let _ = write!(
            notice,
            " Since baseline: {}.",
            crate::model::baseline_line(b)
        );
    }
    if let Some(g) = &s.gate {
        let _ = write!(notice, " {}.", crate::model::gate_line(g, s.interrupted));
    }
    let [more_fail, more_warn] = more;
    if more_fail + more_warn > 0 {
        let _ = write!(
            notice,
            " {more_fail} more failures and {more_warn} more warnings are not annotated: see the job summary."
        );
    }
    let _ = writeln!(
        out,
        "::notice title={}::{}",
        escape_property(&format!("infracheck {}", s.environment)),
        escape_data(&notice)
    );
    out
}

/// `$GITHUB_OUTPUT` values: `passed`, `warned`, `failed`, `skipped`, `waived`, `total`, `status`, and
/// `report_<format>` (`report_junit`, `report_sarif`…) for each report file written earlier in
/// the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outputs;

impl Reporter for Outputs {
    fn describe(&self) -> &'static str {
        "GitHub outputs"
    }

    fn render(&self, cx: &Context<'_>) -> Result<Vec<u8>, RenderError> {
        Ok(outputs(cx, &mut random_token).into_bytes())
    }
}

fn random_token() -> String {
    // std's RandomState is seeded from the OS's randomness: enough for a delimiter that untrusted
    // text cannot guess, without another dependency.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    let a = h.finish();
    let mut h2 = std::collections::hash_map::RandomState::new().build_hasher();
    h2.write_u64(a);
    format!("{a:016x}{:016x}", h2.finish())
}

/// One `name<<DELIM` … `DELIM` entry with a delimiter the value does not contain.
fn multiline(out: &mut String, name: &str, value: &str, token: &mut dyn FnMut() -> String) {
    let mut delimiter = format!("ghadelimiter_{}", token());
    while value.contains(&delimiter) {
        delimiter = format!("ghadelimiter_{}", token());
    }
    let _ = write!(out, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
}

fn outputs(cx: &Context<'_>, token: &mut dyn FnMut() -> String) -> String {
    let s = cx.summary;
    let c = s.counts();
    let mut out = format!(
        "passed={}\nwarned={}\nfailed={}\nskipped={}\nwaived={}\ntotal={}\nstatus={}\n",
        c.pass,
        c.warn,
        c.fail,
        c.skip,
        c.waived,
        c.total,
        super::verdict(s)
    );
    if let Some(b) = &s.baseline {
        let _ = write!(
            out,
            "new_failures={}\nstill_failing={}\nrecovered={}\nlatency_regressions={}\n",
            b.new, b.still, b.recovered, b.latency_regressions
        );
    }
    if let Some(g) = &s.gate {
        let _ = write!(out, "healthy={}\ngate_rounds={}\n", g.healthy, g.rounds);
    }
    for w in cx.written {
        // A path may contain a newline: always the delimiter form.
        multiline(
            &mut out,
            &format!("report_{}", w.name),
            &w.path.to_string_lossy(),
            token,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::report::{RepoPaths, Written, fixture};

    fn paths() -> RepoPaths {
        RepoPaths::new(PathBuf::from("/repo"), PathBuf::from("/repo"))
    }

    #[test]
    fn escaping_follows_the_toolkit() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(
            escape_property("evil %0A::warning::x, a:b"),
            "evil %250A%3A%3Awarning%3A%3Ax%2C a%3Ab"
        );
        assert!(!escape_data("a ##[error] b").contains("##["));
        // Control characters are visible, never raw (a terminal would act on them).
        assert_eq!(
            escape_data("\u{1b}[1G::add-mask::x\u{0}"),
            "\\u{1b}[1G::add-mask::x\\u{0}"
        );
    }

    #[test]
    fn snapshot() {
        let s = fixture::summary();
        let p = paths();
        let cx = Context {
            summary: &s,
            paths: &p,
            written: &[],
        };
        insta::assert_snapshot!(annotations(&cx));
    }

    #[test]
    fn at_most_ten_per_level_then_one_notice() {
        let mut s = fixture::summary();
        let fail = s.results[1].clone();
        let warn = s.results[3].clone();
        s.results = (0..13)
            .map(|i| {
                let mut r = fail.clone();
                r.name = format!("f{i}\n::add-mask::x");
                r
            })
            .chain((0..11).map(|i| {
                let mut r = warn.clone();
                r.name = format!("w{i}");
                r
            }))
            .collect();
        let p = paths();
        let cx = Context {
            summary: &s,
            paths: &p,
            written: &[],
        };
        let out = annotations(&cx);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::error ")).count(),
            10
        );
        assert_eq!(
            lines.iter().filter(|l| l.starts_with("::warning ")).count(),
            10
        );
        assert_eq!(lines.len(), 21, "{out}");
        assert!(
            lines[0].contains("title=f0%0A%3A%3Aadd-mask%3A%3Ax [http.status]"),
            "{out}"
        );
        assert!(
            lines[20].starts_with("::notice title=infracheck prod::"),
            "{out}"
        );
        assert!(
            lines[20].contains("3 more failures and 1 more warnings"),
            "{out}"
        );
    }

    #[test]
    fn outputs_use_a_delimiter_the_value_does_not_contain() {
        let s = fixture::summary();
        let p = paths();
        let written = [Written {
            name: "junit",
            path: PathBuf::from("odd\nghadelimiter_0\nname.xml"),
        }];
        let cx = Context {
            summary: &s,
            paths: &p,
            written: &written,
        };
        let mut tokens = ["0", "1"].into_iter().map(str::to_owned);
        let out = outputs(&cx, &mut || tokens.next().unwrap_or_default());
        assert_eq!(
            out,
            "passed=2\nwarned=2\nfailed=2\nskipped=1\nwaived=1\ntotal=8\nstatus=failed\n\
             report_junit<<ghadelimiter_1\nodd\nghadelimiter_0\nname.xml\nghadelimiter_1\n"
        );
        assert_ne!(random_token(), random_token());
    }
}
