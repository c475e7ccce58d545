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

/// `read` applied to the mapping `root` (at path `c`) through a context without process
/// environment, vars or secrets; what it returns, and the problems reported meanwhile.
pub(crate) fn read_mapping<T>(
    root: &crate::reader::yaml::Node,
    read: impl FnOnce(crate::reader::yaml::MapReader<'_>, &mut crate::reader::ctx::Ctx<'_>) -> T,
) -> (T, crate::reader::yaml::Problems) {
    let mut problems = crate::reader::yaml::Problems::default();
    let (vars, used) = (
        std::collections::BTreeMap::new(),
        std::cell::RefCell::new(Vec::new()),
    );
    let interp = crate::reader::interpolate::Interpolator {
        env: &|_: &str| None::<String>,
        vars: &vars,
        declared_secrets: &[],
        pending: &[],
        used: &used,
    };
    let mut secrets = Vec::new();
    let Some(reader) = crate::reader::yaml::MapReader::new(root, "c", &mut problems) else {
        panic!("not a mapping: {root:?}")
    };
    let mut ctx = crate::reader::ctx::Ctx {
        problems: &mut problems,
        interp: &interp,
        secrets: &mut secrets,
        shared: crate::reader::ctx::Shared::default(),
    };
    let out = read(reader, &mut ctx);
    (out, problems)
}
