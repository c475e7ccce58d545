//! Helpers that the unit tests of several modules share (compiled for tests only).

/// The plan of environment `t` of the config `yaml` (read as `t.yaml`, with no process
/// environment).
pub(crate) fn plan(yaml: &str) -> crate::config::Plan {
    crate::config::load_str("t.yaml", yaml, Some("t"), &|_: &str| None::<String>)
        .unwrap()
        .pop()
        .unwrap()
}

/// The checks of environment `t` of the config `yaml`.
pub(crate) fn plan_checks(yaml: &str) -> Vec<crate::checks::CheckDef> {
    plan(yaml).checks
}

/// The error that reading environment `t` of the config `yaml` reports.
pub(crate) fn plan_error(yaml: &str) -> String {
    crate::config::load_str("t.yaml", yaml, Some("t"), &|_: &str| None::<String>)
        .unwrap_err()
        .to_string()
}
