//! The run's verdict, as data: decided once by the run's policy (`crate::policy::Policy::judge`)
//! and stored in the [`Summary`](super::Summary), where every report and the exit code read
//! it. Nothing below the policy judges a run.

/// The run-level verdict the reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing failed the run, and nothing needs a look.
    Passed,
    /// The run passed, but something warned, was waived, or failed without failing the run.
    Warned,
    /// The run failed.
    Failed,
}

impl Verdict {
    /// `passed`, `warned` or `failed`: the word of the JSON `status` and GitHub outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Warned => "warned",
            Verdict::Failed => "failed",
        }
    }
}

/// How the run was judged: its verdict and what the reports say about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    /// The run-level verdict.
    pub verdict: Verdict,
    /// Under `--fail-on new`, how many results break the run's default rule but did not fail
    /// it because the baseline had them already (`None` when there are none).
    pub known_failures: Option<usize>,
}

impl Judgement {
    /// A summary that has not been judged yet: failed, so that nothing unjudged ever passes.
    pub const UNJUDGED: Judgement = Judgement {
        verdict: Verdict::Failed,
        known_failures: None,
    };

    /// Whether the run passed (exit code 0 unless a report could not be written).
    pub fn passed(&self) -> bool {
        self.verdict != Verdict::Failed
    }
}
