//! Stable reason codes. A [`Reason`] is one row, a [`ReasonDef`]: its code, its class and its
//! texts. The rows live with what emits them, each written with [`reasons!`]: the reasons of
//! every run (below: given by the engine and the waivers), the families several check kinds
//! share (`src/checks/common/reasons.rs`), and each kind's own (in the kind's module,
//! `reasons.rs`). The table of every reason of a build is the check registry's
//! (`checks::reasons()`); reading a document back is given it explicitly
//! ([`DocumentSeed`](super::DocumentSeed)).

/// Whether a reason means "the check ran and its expectation failed" or "the check could not run".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonClass {
    /// The check ran and an expectation did not hold.
    Failure,
    /// The check could not run (network, timeout, internal error…).
    Error,
}

/// One row of the reason table. Written with [`reasons!`], never by hand.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ReasonDef {
    /// The name the code has in Rust (`HttpStatus`), for `{:?}`.
    pub name: &'static str,
    /// Where the code sorts among all codes: the order of SARIF rules. Unique; a new code
    /// takes one no other code has (a unit test of the registry checks).
    pub order: u16,
    /// The stable dotted code, e.g. `http.status`.
    pub code: &'static str,
    /// See [`Reason::class`].
    pub class: ReasonClass,
    /// See [`Reason::short_description`].
    pub short: &'static str,
    /// See [`Reason::full_description`].
    pub full: &'static str,
}

/// A stable, documented code for why a check did not pass: a row of the reason table, each an
/// associated constant (`Reason::HttpStatus`) defined by [`reasons!`] where the code is
/// emitted. Compared, hashed and matched on its row; ordered by [`ReasonDef::order`].
///
/// Codes are part of the public contract (JSON `reason`, JUnit `type`, SARIF rule ids):
/// never rename one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason(&'static ReasonDef);

/// Define reason rows: each row `Name = order => "code", Class, "short", "full";` becomes the
/// associated constant `Reason::Name`, and the list named in the header holds the rows in the
/// order written (a kind's `REASONS` names it, so a row cannot be left out of the registry).
macro_rules! reasons {
    (
        $(#[$list_attr:meta])*
        $vis:vis const $list:ident;
        $( $name:ident = $order:literal => $code:literal, $class:ident, $short:literal, $full:literal ; )*
    ) => {
        #[allow(non_upper_case_globals, reason = "a reason reads like the variant it was")]
        impl $crate::model::Reason {
            $(
                #[doc = $short]
                pub const $name: $crate::model::Reason =
                    $crate::model::Reason::new(&$crate::model::ReasonDef {
                        name: stringify!($name),
                        order: $order,
                        code: $code,
                        class: $crate::model::ReasonClass::$class,
                        short: $short,
                        full: $full,
                    });
            )*
        }

        $(#[$list_attr])*
        $vis const $list: &[$crate::model::Reason] = &[ $( $crate::model::Reason::$name, )* ];
    };
}
pub(crate) use reasons;

reasons! {
    /// The reasons any check may end with, whatever its kind: given by the engine (`timeout`,
    /// `timeout.deadline`, `cancelled`, `blocked`, `internal`) or by the waivers
    /// (`waiver.stale`). A kind's own `timeout` (a read that gave up just before the engine's)
    /// is this one too.
    pub const RUN_REASONS;
    Timeout = 110 => "timeout", Error, "The check did not finish within its timeout",
        "The check's `timeout` covers the whole check (connect, TLS, request, body); it expired.";
    TimeoutDeadline = 120 => "timeout.deadline", Error, "The run's global deadline passed before the check finished",
        "`--deadline` expired while this check was queued or running.";
    Cancelled = 130 => "cancelled", Error, "The run was interrupted before the check finished",
        "infracheck received SIGINT or SIGTERM while this check was queued or running.";
    Blocked = 850 => "blocked", Error, "The check was not run because a check it depends on did not pass",
        "A check named in `depends_on` (directly or through another dependency) failed or was itself blocked, so this check was skipped (SKIP). Fix the blocking check named in the message.";
    WaiverStale = 860 => "waiver.stale", Failure, "A waiver matches no check",
        "An entry of `waivers:` matches no check of the environment (WARN): the exception is stale and can be removed, or its `check` pattern has a typo.";
    Internal = 870 => "internal", Error, "infracheck hit an internal error running the check",
        "The check panicked or failed unexpectedly inside infracheck; please report it.";
}

impl Reason {
    /// The reason of row `def` (what [`reasons!`] writes).
    pub const fn new(def: &'static ReasonDef) -> Self {
        Reason(def)
    }

    /// The stable dotted code, e.g. `http.status`.
    pub fn code(self) -> &'static str {
        self.0.code
    }

    /// Whether the check could not run (JUnit `<error>`) rather than ran and found a problem
    /// (JUnit `<failure>`).
    pub fn class(self) -> ReasonClass {
        self.0.class
    }

    /// One line describing the problem, for SARIF rules and `docs/results.md`.
    pub fn short_description(self) -> &'static str {
        self.0.short
    }

    /// A longer explanation with what to look at.
    pub fn full_description(self) -> &'static str {
        self.0.full
    }

    /// Where the code sorts among all codes ([`ReasonDef::order`]).
    pub fn order(self) -> u16 {
        self.0.order
    }

    /// The SARIF rule id: the code with `/` after the family, e.g. `http/status`.
    pub fn rule_id(self) -> String {
        self.code().replacen('.', "/", 1)
    }

    /// Look a reason up by its code in `table` (the reasons a reader accepts).
    pub fn find(table: &[Reason], code: &str) -> Option<Reason> {
        table.iter().copied().find(|r| r.code() == code)
    }
}

impl PartialOrd for Reason {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Reason {
    /// By [`ReasonDef::order`], then by code (orders are unique; the code keeps `Ord`
    /// consistent with `Eq` regardless).
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.order, self.0.code).cmp(&(other.0.order, other.0.code))
    }
}

impl std::fmt::Debug for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_id_replaces_first_dot_only() {
        assert_eq!(Reason::TimeoutDeadline.rule_id(), "timeout/deadline");
        assert_eq!(Reason::Timeout.rule_id(), "timeout");
    }

    #[test]
    fn a_reason_is_its_row() {
        assert_eq!(Reason::Cancelled, Reason::Cancelled);
        assert_ne!(Reason::Cancelled, Reason::Timeout);
        assert!(Reason::Timeout < Reason::Internal);
        assert_eq!(format!("{:?}", Reason::WaiverStale), "WaiverStale");
        assert_eq!(Reason::WaiverStale.to_string(), "waiver.stale");
        assert_eq!(Reason::find(RUN_REASONS, "blocked"), Some(Reason::Blocked));
        assert_eq!(Reason::find(RUN_REASONS, "http.status"), None);
        assert!(matches!(Some(Reason::Internal), Some(Reason::Internal)));
    }
}
