//! Secrets met while reading the config: the well-known credentials that are secret whenever
//! they are set, the rule that a config problem never echoes a value from the environment,
//! and the secret variables too short to mask.

use std::cell::RefCell;

use crate::reader::interpolate::{self, EnvUse, Environment};

/// The values of the well-known credentials set in the environment, recorded as used secrets:
/// they are secrets whether the config uses them or not.
pub(super) fn well_known(env: &dyn Environment, used: &RefCell<Vec<EnvUse>>) -> Vec<String> {
    let mut secrets = Vec::new();
    for name in interpolate::WELL_KNOWN_SECRETS {
        if let Some(value) = env.var(name).filter(|v| !v.is_empty()) {
            secrets.push(value.clone());
            used.borrow_mut().push(EnvUse {
                name: (*name).to_owned(),
                value,
                secret: true,
            });
        }
    }
    secrets
}

/// The values of the variables listed under `secrets:` that are set in the environment,
/// recorded as used secrets: a listed variable is masked wherever its value appears (printed
/// by a command, sent in a banner), whether or not the config references it.
pub(super) fn declared(
    names: &[String],
    env: &dyn Environment,
    used: &RefCell<Vec<EnvUse>>,
) -> Vec<String> {
    let mut secrets = Vec::new();
    for name in names {
        if let Some(value) = env.var(name).filter(|v| !v.is_empty()) {
            secrets.push(value.clone());
            used.borrow_mut().push(EnvUse {
                name: name.clone(),
                value,
                secret: true,
            });
        }
    }
    secrets
}

/// A config problem never echoes a value that came from the process environment: each one
/// (in any letter case) is shown as the `${NAME}` reference it came from. A value too short to
/// search for safely is replaced only where it is a whole `quoted` value.
pub(super) fn hide_env_values(message: &str, used: &[EnvUse]) -> String {
    let mut uses: Vec<&EnvUse> = used.iter().filter(|u| !u.value.is_empty()).collect();
    uses.sort_by(|a, b| b.value.len().cmp(&a.value.len()).then(a.name.cmp(&b.name)));
    uses.dedup_by(|a, b| a.value == b.value);
    let mut out = message.to_owned();
    for u in uses {
        let reference = format!("${{{}}}", u.name);
        let long = u.value.chars().count() >= crate::redact::MIN_SECRET_CHARS;
        let pattern = if long {
            format!("(?i){}", regex::escape(&u.value))
        } else {
            format!("(?i)`{}`", regex::escape(&u.value))
        };
        let Ok(re) = regex::Regex::new(&pattern) else {
            continue;
        };
        let with = if long {
            reference
        } else {
            format!("`{reference}`")
        };
        out = re.replace_all(&out, regex::NoExpand(&with)).into_owned();
    }
    out
}

/// Names of the secret variables whose values are too short to be masked.
pub(super) fn short_secret_names(used: &[EnvUse]) -> Vec<String> {
    let mut names: Vec<String> = used
        .iter()
        .filter(|u| {
            u.secret
                && !u.value.is_empty()
                && u.value.chars().count() < crate::redact::MIN_SECRET_CHARS
        })
        .map(|u| u.name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(list: &[(&str, &str, bool)]) -> Vec<EnvUse> {
        list.iter()
            .map(|(n, v, s)| EnvUse {
                name: (*n).to_owned(),
                value: (*v).to_owned(),
                secret: *s,
            })
            .collect()
    }

    #[test]
    fn config_errors_show_the_reference_in_any_case() {
        let used = uses(&[("REDIS_PW", "S3nt1nel_RedisPW", true), ("M", "ab", false)]);
        assert_eq!(
            hide_env_values("found `s3nt1nel_redispw`, also S3NT1NEL_REDISPW", &used),
            "found `${REDIS_PW}`, also ${REDIS_PW}"
        );
        // A short value is replaced only where it is the whole quoted value.
        assert_eq!(
            hide_env_values("unsupported method `AB` (a tab)", &used),
            "unsupported method `${M}` (a tab)"
        );
    }

    #[test]
    fn short_secrets_are_named_once() {
        let used = uses(&[
            ("AUTH_RETRIES", "2", true),
            ("AUTH_RETRIES", "2", true),
            ("PORT", "80", false),
            ("API_TOKEN", "long-enough", true),
        ]);
        assert_eq!(short_secret_names(&used), vec!["AUTH_RETRIES".to_owned()]);
    }

    #[test]
    fn listed_secrets_are_secrets_without_being_used() {
        let env = |k: &str| (k == "BANNER_PASSWORD").then(|| "listed-value-123".to_owned());
        let plans = super::super::load_str(
            "c.yaml",
            "secrets: [BANNER_PASSWORD, NOT_SET]\nenvironments:\n  t:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 1}\n",
            None,
            &env,
        )
        .unwrap();
        assert_eq!(plans[0].secrets, vec!["listed-value-123".to_owned()]);
    }

    #[test]
    fn well_known_credentials_are_secrets_without_being_used() {
        let env = |k: &str| (k == "GITHUB_TOKEN").then(|| "ghp-token-value".to_owned());
        let plans = super::super::load_str(
            "c.yaml",
            "environments:\n  t:\n    tcp_checks:\n      - {name: a, host: 127.0.0.1, port: 1}\n",
            None,
            &env,
        )
        .unwrap();
        assert_eq!(plans[0].secrets, vec!["ghp-token-value".to_owned()]);
    }
}
