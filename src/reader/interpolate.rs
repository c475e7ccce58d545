//! `${VAR}`, `${VAR:-default}` and `${vars.name}` substitution in string values.
//! `$${` writes a literal `${`.

use std::cell::RefCell;
use std::collections::BTreeMap;

/// The process environment as the config reads it. Any `Fn(&str) -> Option<String>` is one
/// (a variable is either set to text or not set); the process's own environment also tells a
/// variable that is set but holds bytes that are not UTF-8, so that it is not called "not set".
pub trait Environment {
    /// The variable's value, if it is set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
    /// Whether the variable is set to a value that is not valid UTF-8.
    fn not_unicode(&self, _name: &str) -> bool {
        false
    }
}

impl<F: Fn(&str) -> Option<String>> Environment for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The environment of this process.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn not_unicode(&self, name: &str) -> bool {
        matches!(std::env::var(name), Err(std::env::VarError::NotUnicode(_)))
    }
}

/// `env` with each variable looked up once. Reading a config asks for the same variables
/// again and again (the proxy variables for every `http_checks` entry without a `proxy` key:
/// nine lookups per check); the process environment does not change while a config is read.
pub struct Memo<'a> {
    env: &'a dyn Environment,
    seen: RefCell<std::collections::HashMap<String, Option<String>>>,
}

impl<'a> Memo<'a> {
    /// Lookups in `env`, each remembered.
    pub fn new(env: &'a dyn Environment) -> Self {
        Memo {
            env,
            seen: RefCell::default(),
        }
    }
}

impl Environment for Memo<'_> {
    fn var(&self, name: &str) -> Option<String> {
        if let Some(value) = self.seen.borrow().get(name) {
            return value.clone();
        }
        let value = self.env.var(name);
        self.seen
            .borrow_mut()
            .insert(name.to_owned(), value.clone());
        value
    }
    fn not_unicode(&self, name: &str) -> bool {
        self.env.not_unicode(name)
    }
}

/// Where interpolated values come from, and what was used (so secrets can be redacted).
pub struct Interpolator<'a> {
    /// Looks a process environment variable up.
    pub env: &'a dyn Environment,
    /// The environment's `vars`.
    pub vars: &'a BTreeMap<String, String>,
    /// Variable names declared secret in the config's `secrets:` list.
    pub declared_secrets: &'a [String],
    /// Names of `vars` whose value is unknown (it uses an unset environment variable, noted
    /// where the var is defined): a reference to one is [`Unresolved::Pending`].
    pub pending: &'a [String],
    /// Every process environment variable substituted so far (shared by the interpolators of
    /// one load): config errors show `${NAME}` instead of its value, and a short secret is
    /// named in a warning.
    pub used: &'a RefCell<Vec<EnvUse>>,
}

/// Why a string could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// `${NAME}` without a default and `NAME` is not set: only this value is unknown, the rest
    /// of the config can still be checked (`validate` notes it; `run` refuses).
    Unset {
        /// The variable's name.
        name: String,
    },
    /// `${vars.NAME}` whose value could not be known because it uses an unset variable (already
    /// noted where the var is defined).
    Pending,
    /// Anything else: a problem in the text itself.
    Invalid(String),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::Unset { name } => write!(
                f,
                "environment variable `{name}` is not set and has no default (use `${{{name}:-default}}`)"
            ),
            Unresolved::Pending => f.write_str("the value uses an unset environment variable"),
            Unresolved::Invalid(message) => f.write_str(message),
        }
    }
}

/// One process environment variable substituted into the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvUse {
    /// The variable's name.
    pub name: String,
    /// Its value.
    pub value: String,
    /// Whether the value counts as a secret.
    pub secret: bool,
}

/// Variables whose values are secrets whenever they are set, whether or not the config uses
/// them: a command check, a server or an SDK error may print them.
pub const WELL_KNOWN_SECRETS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ACCESS_KEY_ID",
    "GITHUB_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "CI_JOB_TOKEN",
    "PGPASSWORD",
    "MYSQL_PWD",
    "REDIS_PASSWORD",
    "VAULT_TOKEN",
];

/// The result of interpolating one string.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interpolated {
    /// The final text.
    pub text: String,
    /// Values substituted from variables that count as secrets.
    pub secrets: Vec<String>,
    /// Values substituted from any process environment variable.
    pub env_values: Vec<String>,
}

/// Names that make a variable's value a secret even without `secrets:`.
const SECRET_HINTS: &[&str] = &[
    "PASS",
    "PWD",
    "SECRET",
    "TOKEN",
    "KEY",
    "AUTH",
    "CREDENTIAL",
    "COOKIE",
    "SESSION",
];

/// Whether a variable name looks like it holds a secret.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_HINTS.iter().any(|h| upper.contains(h))
}

impl Interpolator<'_> {
    /// Substitute every reference in `input`. The error names the first unresolvable reference.
    pub fn apply(&self, input: &str) -> Result<Interpolated, Unresolved> {
        let mut out = Interpolated::default();
        if !input.contains('$') {
            out.text = input.to_owned();
            return Ok(out);
        }
        let mut rest = input;
        while let Some(pos) = rest.find('$') {
            let (before, after) = rest.split_at(pos);
            out.text.push_str(before);
            if let Some(tail) = after.strip_prefix("$${") {
                out.text.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let end = tail.find('}').ok_or_else(|| {
                    Unresolved::Invalid(format!("unterminated `${{` in `{input}`"))
                })?;
                let (expr, tail) = tail.split_at(end);
                rest = tail.get(1..).unwrap_or("");
                self.resolve(expr, &mut out)?;
            } else {
                out.text.push('$');
                rest = after.get(1..).unwrap_or("");
            }
        }
        out.text.push_str(rest);
        Ok(out)
    }

    fn resolve(&self, expr: &str, out: &mut Interpolated) -> Result<(), Unresolved> {
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() {
            return Err(Unresolved::Invalid(
                "empty variable reference `${}`".to_owned(),
            ));
        }
        if let Some(var) = name.strip_prefix("vars.") {
            let value = match (self.vars.get(var), default) {
                (Some(v), _) => v.clone(),
                (None, Some(d)) => d.to_owned(),
                (None, None) if self.pending.iter().any(|p| p == var) => {
                    return Err(Unresolved::Pending);
                }
                (None, None) => {
                    return Err(Unresolved::Invalid(format!(
                        "`${{vars.{var}}}` is not defined in this environment's `vars`"
                    )));
                }
            };
            out.text.push_str(&value);
            return Ok(());
        }
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Unresolved::Invalid(format!(
                "invalid variable name `{name}`"
            )));
        }
        if self.env.not_unicode(name) {
            // Set, but not text: neither "not set" nor a silent default.
            return Err(Unresolved::Invalid(format!(
                "environment variable `{name}` is not valid UTF-8"
            )));
        }
        match (self.env.var(name), default) {
            (Some(v), _) => {
                let secret = looks_secret(name)
                    || WELL_KNOWN_SECRETS.contains(&name)
                    || self.declared_secrets.iter().any(|s| s == name);
                if secret {
                    out.secrets.push(v.clone());
                }
                self.used.borrow_mut().push(EnvUse {
                    name: name.to_owned(),
                    value: v.clone(),
                    secret,
                });
                out.env_values.push(v.clone());
                out.text.push_str(&v);
            }
            (None, Some(d)) => out.text.push_str(d),
            (None, None) => {
                return Err(Unresolved::Unset {
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl Fn(&Interpolator<'_>)) {
        let env = |k: &str| match k {
            "HOST" => Some("h.example".to_owned()),
            "API_TOKEN" => Some("s3cr3t".to_owned()),
            _ => None,
        };
        let mut vars = BTreeMap::new();
        vars.insert("port".to_owned(), "8443".to_owned());
        let declared = vec![];
        let used = RefCell::new(Vec::new());
        let i = Interpolator {
            env: &env,
            vars: &vars,
            declared_secrets: &declared,
            pending: &[],
            used: &used,
        };
        f(&i);
    }

    #[test]
    fn substitutes_env_vars_defaults_and_vars() {
        with(|i| {
            let r = i
                .apply("https://${HOST}:${vars.port}/${MISSING:-x}")
                .unwrap();
            assert_eq!(r.text, "https://h.example:8443/x");
            assert!(r.secrets.is_empty());
        });
    }

    #[test]
    fn secret_names_are_collected() {
        with(|i| {
            let r = i.apply("Bearer ${API_TOKEN}").unwrap();
            assert_eq!(r.text, "Bearer s3cr3t");
            assert_eq!(r.secrets, vec!["s3cr3t".to_owned()]);
            assert_eq!(
                i.used.borrow().last().map(|u| (u.name.as_str(), u.secret)),
                Some(("API_TOKEN", true))
            );
        });
    }

    #[test]
    fn errors_name_the_variable() {
        with(|i| {
            let e = i.apply("${NOPE}").unwrap_err();
            assert_eq!(
                e,
                Unresolved::Unset {
                    name: "NOPE".to_owned()
                }
            );
            assert!(e.to_string().contains("`NOPE`"), "{e}");
            let e = i.apply("${vars.nope}").unwrap_err().to_string();
            assert!(e.contains("vars.nope"), "{e}");

            assert!(i.apply("${HOST").is_err());
        });
    }

    #[test]
    fn a_variable_that_is_not_text_is_not_called_unset() {
        struct Bytes;
        impl Environment for Bytes {
            fn var(&self, _: &str) -> Option<String> {
                None
            }
            fn not_unicode(&self, name: &str) -> bool {
                name == "RAW"
            }
        }
        let (vars, used) = (BTreeMap::new(), RefCell::new(Vec::new()));
        let i = Interpolator {
            env: &Bytes,
            vars: &vars,
            declared_secrets: &[],
            pending: &[],
            used: &used,
        };
        for input in ["${RAW}", "${RAW:-fallback}"] {
            let e = i.apply(input).unwrap_err().to_string();
            assert_eq!(
                e, "environment variable `RAW` is not valid UTF-8",
                "{input}"
            );
        }
        assert!(
            i.apply("${OTHER}")
                .unwrap_err()
                .to_string()
                .contains("is not set")
        );
    }

    #[test]
    fn dollar_escapes() {
        with(|i| {
            assert_eq!(i.apply("a$${HOST}$b").unwrap().text, "a${HOST}$b");
        });
    }
}
