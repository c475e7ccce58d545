//! Typed reads of YAML values with `${…}` interpolation; every bad value becomes a
//! [`Problem`](super::error::Problem) at its location and the read returns `None`.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use super::interpolate::{Interpolator, Unresolved};
use super::yaml::{MapReader, Node, Problems, UnsetEnv, Value};

/// Everything a check parser needs: the problem list, the interpolator and the secrets found.
pub struct Ctx<'a> {
    /// Problems found so far.
    pub problems: &'a mut Problems,
    /// Variable substitution for this environment.
    pub interp: &'a Interpolator<'a>,
    /// Secret values discovered while reading (redacted from every output).
    pub secrets: &'a mut Vec<String>,
    /// Values worked out once and shared by every check read with this context.
    pub shared: Shared,
}

/// Values a reader works out once for all the checks it reads, instead of once per check
/// (the proxies the process environment gives, which every HTTP check without `proxy:` falls
/// back to): one slot per type.
#[derive(Default)]
pub struct Shared {
    slots: RefCell<Vec<Box<dyn Any>>>,
}

impl Shared {
    /// The value of type `T` made by the first call; `make` runs only then.
    pub fn get_or_make<T: Any + Clone>(&self, make: impl FnOnce() -> T) -> T {
        if let Some(value) = self
            .slots
            .borrow()
            .iter()
            .find_map(|slot| slot.downcast_ref::<T>())
        {
            return value.clone();
        }
        let value = make();
        self.slots.borrow_mut().push(Box::new(value.clone()));
        value
    }

    /// `f` over the value of type `T` (made with `T::default()` by the first call), for a
    /// value the checks add to as they are read (a memo). `f` runs with the slots borrowed:
    /// it must not call [`Shared::with`] or [`Shared::get_or_make`] itself.
    pub fn with<T: Any + Default, R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut slots = self.slots.borrow_mut();
        let slot = match slots.iter().position(|slot| slot.is::<T>()) {
            Some(i) => slots.get_mut(i),
            None => {
                slots.push(Box::new(T::default()));
                slots.last_mut()
            }
        };
        match slot.and_then(|slot| slot.downcast_mut::<T>()) {
            Some(value) => f(value),
            None => f(&mut T::default()),
        }
    }
}

impl Ctx<'_> {
    /// A string value (scalars are turned into their text), interpolated.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.string_tracked(node, path).map(|(s, _)| s)
    }

    /// Like [`Ctx::string`], also returning the process-environment values substituted into it.
    pub fn string_tracked(&mut self, node: &Node, path: &str) -> Option<(String, Vec<String>)> {
        // A string is interpolated from where it is (the interpolator makes the one copy).
        let text;
        let raw: &str = match &node.value {
            Value::Str(s) => s,
            Value::Int(i) => {
                text = i.to_string();
                &text
            }
            Value::Float(f) => {
                text = f.to_string();
                &text
            }
            Value::Bool(b) => {
                text = b.to_string();
                &text
            }
            other => {
                self.problems.at(
                    node,
                    path,
                    format!("expected a string, found {}", other.type_name()),
                );
                return None;
            }
        };
        // Checks with `targets:` have theirs replaced before they are read; one left here is
        // in a place that has no target, and is not sent as written.
        if raw.contains("{{") && super::template::has_target_ref(raw) {
            self.problems.at(
                node,
                path,
                "`{{target}}` is replaced only in a check with `targets:`",
            );
            return None;
        }
        match self.interp.apply(raw) {
            Ok(done) => {
                self.secrets.extend(done.secrets);
                Some((done.text, done.env_values))
            }
            Err(Unresolved::Unset { name }) if self.problems.unset_env == UnsetEnv::Note => {
                self.problems.note(
                    node,
                    path,
                    format!(
                        "environment variable `{name}` is not set: validated without this value (`run` needs it, or a default: `${{{name}:-default}}`)"
                    ),
                );
                None
            }
            // Noted where the var is defined.
            Err(Unresolved::Pending) => None,
            Err(e) => {
                self.problems.at(node, path, e.to_string());
                None
            }
        }
    }

    /// A non-empty string.
    pub fn non_empty(&mut self, node: &Node, path: &str) -> Option<String> {
        let s = self.string(node, path)?;
        if s.trim().is_empty() {
            self.problems.at(node, path, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// A path to a file or directory (`ca_file`, a command's `cwd`, …): a non-empty string,
    /// resolved against the directory of the file that names it ([`Source::resolve`]), so a
    /// config reads the same files whatever the working directory. Every key naming a path
    /// reads it through here.
    ///
    /// [`Source::resolve`]: super::source::Source::resolve
    pub fn config_path(&mut self, node: &Node, path: &str) -> Option<String> {
        let written = self.non_empty(node, path)?;
        Some(node.file.resolve(&written))
    }

    /// An unsigned integer (a YAML integer or an interpolated string of digits).
    pub fn uint(&mut self, node: &Node, path: &str, max: u64) -> Option<u64> {
        let n = match &node.value {
            Value::Int(i) => u64::try_from(*i).ok(),
            Value::Str(_) => {
                let s = self.string(node, path)?;
                s.trim().parse::<u64>().ok()
            }
            _ => None,
        };
        match n {
            Some(n) if n <= max => Some(n),
            Some(n) => {
                self.problems
                    .at(node, path, format!("{n} is too large (maximum {max})"));
                None
            }
            None => {
                self.problems.at(
                    node,
                    path,
                    format!(
                        "expected a non-negative integer, found {}",
                        describe(&node.value)
                    ),
                );
                None
            }
        }
    }

    /// A boolean.
    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.value {
            Value::Bool(b) => Some(*b),
            Value::Str(_) => match self.string(node, path)?.as_str() {
                "true" => Some(true),
                "false" => Some(false),
                other => {
                    self.problems.at(
                        node,
                        path,
                        format!("expected true or false, found `{other}`"),
                    );
                    None
                }
            },
            other => {
                self.problems.at(
                    node,
                    path,
                    format!("expected true or false, found {}", other.type_name()),
                );
                None
            }
        }
    }

    /// A duration: a bare number is seconds (as in the first config format); strings take a unit
    /// (`500ms`, `10s`, `2m`, `1h`).
    pub fn duration(&mut self, node: &Node, path: &str) -> Option<Duration> {
        let parsed = match &node.value {
            Value::Int(i) if *i >= 0 => u64::try_from(*i).ok().map(Duration::from_secs),
            Value::Float(f) if *f >= 0.0 && f.is_finite() && *f < 1e9 => {
                Some(Duration::from_secs_f64(*f))
            }
            // Text without `${…}` or `{{…}}` reads as written: no copy to interpolate.
            Value::Str(s) if !s.contains('$') && !s.contains("{{") => parse_duration(s),
            Value::Str(_) => {
                let s = self.string(node, path)?;
                parse_duration(&s)
            }
            _ => None,
        };
        if parsed.is_none() {
            self.problems.at(
                node,
                path,
                format!(
                    "invalid duration {} (use seconds like `10`, or `500ms`, `10s`, `2m`, `1h`)",
                    describe(&node.value)
                ),
            );
        }
        parsed
    }

    /// A list of strings; a single string is accepted as a one-element list.
    pub fn string_list(&mut self, node: &Node, path: &str) -> Option<Vec<String>> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.string(item, &format!("{path}[{i}]")) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(out)
            }
            Value::Map(_) | Value::Null => {
                self.problems.at(
                    node,
                    path,
                    format!(
                        "expected a list of strings, found {}",
                        node.value.type_name()
                    ),
                );
                None
            }
            _ => self.string(node, path).map(|s| vec![s]),
        }
    }

    /// A mapping of string to string, in file order. Values are returned with the
    /// process-environment values substituted into them.
    pub fn string_map(
        &mut self,
        node: &Node,
        path: &str,
    ) -> Option<Vec<(String, String, Vec<String>)>> {
        let mut reader = MapReader::new(node, path, self.problems)?;
        let mut out = Vec::new();
        let mut ok = true;
        for (k, v) in reader.take_rest() {
            match self.string_tracked(v, &super::yaml::join(path, &k.name)) {
                Some((s, env)) => out.push((k.name.clone(), s, env)),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// For kinds that check exactly one of several targets (`deployment` or `pods` or …): the
    /// single target found, or a problem on the check naming the `choices`. `ok` is false when
    /// a target key was present but invalid (its problem is already recorded).
    pub fn exactly_one<T>(
        &mut self,
        r: &MapReader<'_>,
        mut targets: Vec<T>,
        ok: bool,
        choices: &[&str],
    ) -> Option<T> {
        let names: Vec<String> = choices.iter().map(|c| format!("`{c}`")).collect();
        if targets.len() > 1 {
            self.problem(
                r.node,
                &r.path,
                format!("set only one of {}", names.join(", ")),
            );
            return None;
        }
        match targets.pop() {
            Some(t) if ok => Some(t),
            Some(_) => None,
            None => {
                if ok {
                    self.problem(
                        r.node,
                        &r.path,
                        format!("missing what to check: one of {}", names.join(", ")),
                    );
                }
                None
            }
        }
    }

    /// Record a problem.
    pub fn problem(&mut self, node: &Node, path: &str, message: impl Into<String>) {
        self.problems.at(node, path, message);
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Str(s) => format!("`{s}`"),
        Value::Int(i) => format!("`{i}`"),
        Value::Float(f) => format!("`{f}`"),
        other => other.type_name().to_owned(),
    }
}

/// Parse `10`, `1.5`, `500ms`, `10s`, `2m`, `1h` (also combined: `1m30s`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    // A bare number ends in a digit or a point (the other texts a float parses, `inf` and
    // `NaN`, are no duration either way): `10s` goes straight to the units.
    if s.ends_with(|c: char| c.is_ascii_digit() || c == '.')
        && let Ok(secs) = s.parse::<f64>()
    {
        return (secs >= 0.0 && secs.is_finite() && secs < 1e9)
            .then(|| Duration::from_secs_f64(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let (num, tail) = rest.split_at(num_end);
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let value: f64 = num.parse().ok()?;
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            _ => return None,
        };
        if !(secs.is_finite() && secs < 1e9) {
            return None;
        }
        total += Duration::from_secs_f64(secs);
        rest = tail;
    }
    Some(total)
}

/// Render a duration the way users write it (`500ms`, `10s`, `2m`): the inverse of
/// [`parse_duration`].
pub use crate::text::format_duration;

/// A `BTreeMap` of the environment's vars, read from a `vars:` mapping. A var whose value
/// uses an unset variable (noted, under [`UnsetEnv::Note`]) is added to `pending`.
pub fn read_vars(
    node: &Node,
    path: &str,
    interp: &Interpolator<'_>,
    problems: &mut Problems,
    secrets: &mut Vec<String>,
    (into, pending): (&mut BTreeMap<String, String>, &mut Vec<String>),
) {
    let Some(mut reader) = MapReader::new(node, path, problems) else {
        return;
    };
    for (k, v) in reader.take_rest() {
        let p = super::yaml::join(path, &k.name);
        let mut ctx = Ctx {
            problems,
            interp,
            secrets,
            shared: Shared::default(),
        };
        let notes = ctx.problems.notes.len();
        match ctx.string(v, &p) {
            Some(s) => {
                into.insert(k.name.clone(), s);
            }
            None if ctx.problems.notes.len() > notes => pending.push(k.name.clone()),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("10 s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("ten"), None);
        assert_eq!(parse_duration("10x"), None);
        assert_eq!(parse_duration("-1"), None);
        assert_eq!(parse_duration(""), None);
        for not_finite in ["inf", "-inf", "NaN", "infinity", "1e9", "1e999"] {
            assert_eq!(parse_duration(not_finite), None, "{not_finite}");
        }
        assert_eq!(parse_duration("1e2"), Some(Duration::from_secs(100)));
        assert_eq!(parse_duration("2."), Some(Duration::from_secs(2)));
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }
}
