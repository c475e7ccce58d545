//! Where a check's time went: the named [`PhaseName`]s of one attempt (`dns`, `connect`, `tls`,
//! `ttfb`…) with their durations ([`Phases`]), the precise total beside the whole-millisecond
//! one ([`Elapsed`]) and the one way every report writes a duration under a millisecond
//! ([`format_ms`]). Written to JSON as milliseconds with microsecond precision, as
//! blackbox_exporter's `probe_http_duration_seconds{phase=…}` and curl's `-w` timings give them.

use std::time::Duration;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The name of one timed phase of a check. Each kind has its own list (its `PHASES`, in
/// `src/checks/`); a phase that did not happen is absent, never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseName {
    /// Resolving the host name (absent for an IP literal).
    Dns,
    /// The TCP connection.
    Connect,
    /// The TLS handshake of a protocol that speaks TLS as one step of several.
    Tls,
    /// The TLS handshake of a `tls` check.
    Handshake,
    /// The `send`/`expect` exchange of a `tcp` check.
    Banner,
    /// From the request sent to the first byte of the response.
    Ttfb,
    /// Reading the response body.
    Transfer,
    /// Authentication (a database's or Redis' login).
    Auth,
    /// The query or command after the login.
    Query,
    /// The health call of a `grpc` check.
    Rpc,
    /// An API request (Kubernetes, AWS).
    Request,
    /// A command's run, from spawn to exit.
    Run,
}

impl PhaseName {
    /// Every phase, in the order they can happen.
    pub const ALL: &'static [PhaseName] = &[
        PhaseName::Dns,
        PhaseName::Connect,
        PhaseName::Tls,
        PhaseName::Handshake,
        PhaseName::Banner,
        PhaseName::Ttfb,
        PhaseName::Transfer,
        PhaseName::Auth,
        PhaseName::Query,
        PhaseName::Rpc,
        PhaseName::Request,
        PhaseName::Run,
    ];

    /// The name in JSON, config keys and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseName::Dns => "dns",
            PhaseName::Connect => "connect",
            PhaseName::Tls => "tls",
            PhaseName::Handshake => "handshake",
            PhaseName::Banner => "banner",
            PhaseName::Ttfb => "ttfb",
            PhaseName::Transfer => "transfer",
            PhaseName::Auth => "auth",
            PhaseName::Query => "query",
            PhaseName::Rpc => "rpc",
            PhaseName::Request => "request",
            PhaseName::Run => "run",
        }
    }

    /// The phase called `name`.
    pub fn from_name(name: &str) -> Option<PhaseName> {
        PhaseName::ALL.iter().copied().find(|p| p.as_str() == name)
    }
}

/// The timed phases of one attempt, in the order they first happened; a phase that happens
/// more than once (a redirect's second request) adds up. The phases are disjoint spans of the
/// attempt, so their sum never exceeds its duration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Phases(Vec<(PhaseName, Duration)>);

impl Phases {
    /// No phases.
    pub fn new() -> Self {
        Phases(Vec::new())
    }

    /// Add `d` to `phase` (recorded on its first use).
    pub fn add(&mut self, phase: PhaseName, d: Duration) {
        match self.0.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total = total.saturating_add(d),
            None => self.0.push((phase, d)),
        }
    }

    /// The time spent in `phase`, if it happened.
    pub fn get(&self, phase: PhaseName) -> Option<Duration> {
        self.0.iter().find(|(p, _)| *p == phase).map(|(_, d)| *d)
    }

    /// The phases in the order they happened.
    pub fn iter(&self) -> impl Iterator<Item = (PhaseName, Duration)> + '_ {
        self.0.iter().copied()
    }

    /// Whether no phase was timed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of every phase.
    pub fn sum(&self) -> Duration {
        self.0
            .iter()
            .fold(Duration::ZERO, |acc, (_, d)| acc.saturating_add(*d))
    }

    /// Keep only the phases for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(PhaseName) -> bool) {
        self.0.retain(|(p, _)| keep(*p));
    }
}

impl Phases {
    /// `dns 0.1 ms · connect 0.2 ms · ttfb 3 ms`: the phases in one line for reports.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self
            .iter()
            .map(|(p, d)| format!("{} {}", p.as_str(), format_ms(d)))
            .collect();
        parts.join(" · ")
    }
}

impl Serialize for Phases {
    /// `{"dns": 0.052, "connect": 0.118}`: milliseconds with microsecond precision.
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        out.collect_map(self.0.iter().map(|(p, d)| (p.as_str(), precise_ms(*d))))
    }
}

impl<'de> Deserialize<'de> for Phases {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PhasesVisitor;
        impl<'de> Visitor<'de> for PhasesVisitor {
            type Value = Phases;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of phase names to milliseconds")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Phases, A::Error> {
                let mut phases = Phases::new();
                while let Some((name, ms)) = map.next_entry::<String, f64>()? {
                    let phase = PhaseName::from_name(&name).ok_or_else(|| {
                        serde::de::Error::custom(format!("unknown phase `{name}`"))
                    })?;
                    phases.add(phase, from_precise_ms(ms));
                }
                Ok(phases)
            }
        }
        d.deserialize_map(PhasesVisitor)
    }
}

/// Milliseconds with microsecond precision (`0.412`), as JSON writes phases and `queued_ms`.
pub fn precise_ms(d: Duration) -> f64 {
    // Microseconds fit an f64 exactly up to 2^53 µs (285 years).
    let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
    let us = us as f64;
    us / 1000.0
}

/// The duration of a [`precise_ms`] figure, to the microsecond it was written with;
/// negative and NaN read as zero.
pub fn from_precise_ms(ms: f64) -> Duration {
    let us = (ms * 1000.0).round();
    if us.is_nan() || us <= 0.0 {
        return Duration::ZERO;
    }
    // Positive here; `as` saturates above u64::MAX.
    let us = us as u64;
    Duration::from_micros(us)
}

/// A duration as reports show it: `412 ms` from one millisecond on, `0.4 ms` (`0.04 ms`
/// under a tenth) below it, so a loopback check does not read `0 ms`; nothing is `0 ms`.
pub fn format_ms(d: Duration) -> String {
    let us = d.as_micros();
    if us >= 1000 || us == 0 {
        format!("{} ms", d.as_millis())
    } else if us >= 100 {
        format!("{:.1} ms", precise_ms(d))
    } else {
        format!("{:.2} ms", precise_ms(d))
    }
}

/// A result's total time, written twice: `duration_ms` (whole milliseconds, as always) and
/// `duration_us` (the precise figure). Read back from `duration_us` where a document has it
/// and it agrees with `duration_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Elapsed(pub Duration);

impl Serialize for Elapsed {
    fn serialize<S: Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = out.serialize_struct("Elapsed", 2)?;
        s.serialize_field("duration_ms", &super::millis(self.0))?;
        let us = u64::try_from(self.0.as_micros()).unwrap_or(u64::MAX);
        s.serialize_field("duration_us", &us)?;
        s.end()
    }
}

impl<'de> Deserialize<'de> for Elapsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            duration_ms: u64,
            duration_us: Option<u64>,
        }
        let raw = Raw::deserialize(d)?;
        // `duration_us` refines `duration_ms` only where the two agree: a document whose
        // `duration_ms` was edited (a baseline made by hand) is read as edited.
        Ok(Elapsed(match raw.duration_us {
            Some(us) if us / 1000 == raw.duration_ms => Duration::from_micros(us),
            _ => Duration::from_millis(raw.duration_ms),
        }))
    }
}

/// A duration written as [`Elapsed`] (`#[serde(flatten, with = "crate::model::elapsed")]`).
pub(crate) mod elapsed {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        super::Elapsed(*d).serialize(s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::Elapsed::deserialize(d).map(|e| e.0)
    }
}

/// Optional durations as [`precise_ms`] (`queued_ms`).
pub(crate) mod opt_precise_ms {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(super::precise_ms(*d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let ms: Option<f64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(super::from_precise_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phase_names_round_trip() {
        for p in PhaseName::ALL {
            assert_eq!(PhaseName::from_name(p.as_str()), Some(*p));
        }
        assert_eq!(PhaseName::from_name("ttbf"), None);
    }

    #[test]
    fn phases_add_up_and_write_microseconds() {
        let mut p = Phases::new();
        p.add(PhaseName::Connect, Duration::from_micros(118));
        p.add(PhaseName::Dns, Duration::from_micros(52));
        p.add(PhaseName::Connect, Duration::from_micros(2));
        assert_eq!(p.get(PhaseName::Connect), Some(Duration::from_micros(120)));
        assert_eq!(p.get(PhaseName::Tls), None);
        assert_eq!(p.sum(), Duration::from_micros(172));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"connect":0.12,"dns":0.052}"#);
        assert_eq!(serde_json::from_str::<Phases>(&json).unwrap(), p);
        assert!(serde_json::from_str::<Phases>(r#"{"nope":1}"#).is_err());
    }

    #[test]
    fn short_durations_keep_their_decimals() {
        let us = Duration::from_micros;
        assert_eq!(format_ms(us(412_300)), "412 ms");
        assert_eq!(format_ms(us(1_000)), "1 ms");
        assert_eq!(format_ms(us(412)), "0.4 ms");
        assert_eq!(format_ms(us(42)), "0.04 ms");
        assert_eq!(format_ms(Duration::ZERO), "0 ms");
    }

    #[test]
    fn elapsed_writes_both_figures_and_prefers_the_precise_one() {
        let e = Elapsed(Duration::from_micros(1_412));
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"{"duration_ms":1,"duration_us":1412}"#);
        assert_eq!(serde_json::from_str::<Elapsed>(&json).unwrap(), e);
        let old: Elapsed = serde_json::from_str(r#"{"duration_ms":7}"#).unwrap();
        assert_eq!(old.0, Duration::from_millis(7));
        let edited: Elapsed =
            serde_json::from_str(r#"{"duration_ms":60000,"duration_us":1412}"#).unwrap();
        assert_eq!(edited.0, Duration::from_secs(60));
    }
}
