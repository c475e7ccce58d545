//! The aws kind: its [`Kind`] implementation, with its keys (`FIELDS`, from which the key
//! list, the JSON Schema and the typo suggestions are derived) and the parser that turns a
//! check's mapping into an [`AwsSpec`] and its printable target, reporting every problem with
//! its position.

use crate::reader::key_table::{Field, FieldType as T, opt, req};

use super::{AwsSpec, ClientKey, Target};
use crate::checks::common::{percent_decode, printable_url};
use crate::checks::{CheckDef, Kind, Phase, RunContext};
use crate::model::{Outcome, PhaseName, Reason};
use crate::reader::ctx::Ctx;
use crate::reader::yaml::{MapReader, Node, Value};

/// The keys of `sts_identity: {…}`.
const STS_FIELDS: &[Field] = &[
    opt("account", T::String, "Expected account id."),
    opt(
        "arn_contains",
        T::String,
        "Text the caller ARN must contain.",
    ),
];
/// The keys of `ec2_instances: {…}`.
const EC2_FIELDS: &[Field] = &[
    opt("tag", T::StringMap, "Tags the instances must have."),
    opt("instance_ids", T::StringList, "Instance ids."),
    opt("min_running", T::Integer, "Minimum running instances."),
];
/// The keys of `elb_target_group: {…}`.
const ELB_FIELDS: &[Field] = &[
    req("arn", T::String, "Target group ARN."),
    opt("min_healthy", T::Integer, "Minimum healthy targets."),
];
/// The keys of one of the nested tables, for `MapReader::finish`.
fn keys(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.key).collect()
}

/// The aws kind (see `src/checks/registry.rs`).
impl Kind for AwsSpec {
    const NAME: &'static str = "aws";

    const FIELDS: &'static [Field] = &[
        opt(
            "sts_identity",
            T::FlagOrObject(STS_FIELDS),
            "The credentials are valid (`true`, or expectations on the identity).",
        ),
        opt(
            "s3_bucket",
            T::String,
            "A bucket that must exist and be reachable.",
        ),
        opt(
            "ec2_instances",
            T::Object(EC2_FIELDS),
            "EC2 instances that must be running.",
        ),
        opt(
            "rds_instance",
            T::String,
            "A DB instance identifier that must be available.",
        ),
        opt(
            "elb_target_group",
            T::TextOrObject(ELB_FIELDS),
            "A target group (ARN, or `{arn, min_healthy}`) whose targets must be healthy.",
        ),
        opt("region", T::String, "AWS region."),
        opt("profile", T::String, "Shared-config profile."),
        opt(
            "endpoint_url",
            T::String,
            "Custom endpoint URL (e.g. a local emulator).",
        ),
        opt("role_arn", T::String, "Role to assume."),
    ];

    /// The API request(s).
    const PHASES: &'static [PhaseName] = &[PhaseName::Request];
    const VALUES: &'static [&'static str] = &[];
    const LATENCY_REASON: Reason = Reason::AwsLatency;
    const EXPECT_REASON: Reason = Reason::AwsExpect;
    const REASONS: &'static [&'static [Reason]] = &[super::reasons::ROWS];

    fn parse(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>) -> Option<(Self, String)> {
        // The credentials the SDK reads from the environment are secrets for every run
        // (`config::interpolate::WELL_KNOWN_SECRETS`), whatever prints them.
        let mut ok = true;
        let client = ClientKey {
            region: region(r, ctx, &mut ok),
            profile: take_non_empty(r, ctx, "profile", &mut ok),
            endpoint_url: endpoint_url(r, ctx, &mut ok),
            role_arn: role_arn(r, ctx, &mut ok),
        };
        let targets = targets(r, ctx, &mut ok);
        let target = ctx.exactly_one(
            r,
            targets,
            ok,
            &[
                "sts_identity",
                "s3_bucket",
                "ec2_instances",
                "rds_instance",
                "elb_target_group",
            ],
        )?;
        let printable = printable(&target, &client);
        Some((AwsSpec { target, client }, printable))
    }

    /// An API client with its own rate handling: not host-limited.
    fn host_key(&self) -> Option<String> {
        None
    }

    /// The Query API client verifies against the system roots.
    fn tls_trust(&self) -> Option<crate::checks::common::tls::TlsTrust<'_>> {
        Some(crate::checks::common::tls::TlsTrust::default())
    }

    async fn run(&self, check: &CheckDef, ctx: &RunContext, phase: &Phase) -> Outcome {
        super::run(self, check.thresholds, &ctx.aws, phase).await
    }
}

/// The optional `region`, a region code.
fn region(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, ok: &mut bool) -> Option<String> {
    let (n, p) = r.take("region")?;
    let s = ctx.non_empty(n, &p);
    match s {
        Some(s) if valid_region(&s) => Some(s),
        Some(s) => {
            ctx.problem(
                n,
                &p,
                format!("invalid AWS region `{s}` (expected a region code such as `eu-west-1`)"),
            );
            *ok = false;
            None
        }
        None => {
            *ok = false;
            None
        }
    }
}

/// The optional `endpoint_url`, `http(s)://` with a host; its password becomes a secret.
fn endpoint_url(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, ok: &mut bool) -> Option<String> {
    let (n, p) = r.take("endpoint_url")?;
    let Some(s) = ctx.non_empty(n, &p) else {
        *ok = false;
        return None;
    };
    match url::Url::parse(&s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            // A password in the endpoint (a proxy's) may echo in error messages.
            if let Some(pw) = u.password() {
                ctx.secrets.push(pw.to_owned());
                ctx.secrets.push(percent_decode(pw));
            }
            Some(s)
        }
        Ok(u) => {
            ctx.problem(
                n,
                &p,
                format!(
                    "unsupported endpoint URL `{}` (expected http:// or https:// with a host)",
                    printable_url(&u)
                ),
            );
            *ok = false;
            None
        }
        Err(e) => {
            ctx.problem(n, &p, format!("invalid endpoint URL: {e}"));
            *ok = false;
            None
        }
    }
}

/// The optional `role_arn`, an IAM role ARN.
fn role_arn(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, ok: &mut bool) -> Option<String> {
    let (n, p) = r.take("role_arn")?;
    match ctx.non_empty(n, &p) {
        Some(s) if s.starts_with("arn:") && s.contains(":role/") => Some(s),
        Some(s) => {
            ctx.problem(
                n,
                &p,
                format!("invalid role ARN `{s}` (expected arn:aws:iam::123456789012:role/name)"),
            );
            *ok = false;
            None
        }
        None => {
            *ok = false;
            None
        }
    }
}

/// Every target key present, parsed (the caller requires exactly one).
fn targets(r: &mut MapReader<'_>, ctx: &mut Ctx<'_>, ok: &mut bool) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    let mut push = |t: Option<Target>, ok: &mut bool| match t {
        Some(t) => targets.push(t),
        None => *ok = false,
    };
    if let Some((n, p)) = r.take("sts_identity") {
        push(parse_sts(n, &p, ctx), ok);
    }
    if let Some((n, p)) = r.take("s3_bucket") {
        push(parse_bucket(n, &p, ctx), ok);
    }
    if let Some((n, p)) = r.take("rds_instance") {
        push(parse_rds(n, &p, ctx), ok);
    }
    if let Some((n, p)) = r.take("elb_target_group") {
        push(parse_elb(n, &p, ctx), ok);
    }
    if let Some((n, p)) = r.take("ec2_instances") {
        push(parse_ec2(n, &p, ctx), ok);
    }
    targets
}

/// `s3_bucket`: a bucket name.
fn parse_bucket(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let b = ctx.non_empty(n, p)?;
    if valid_bucket(&b) {
        return Some(Target::S3Bucket(b));
    }
    ctx.problem(
        n,
        p,
        format!(
            "invalid S3 bucket name `{b}` (3-255 letters, digits, `.`, `-` or `_`; no `s3://` prefix or key)"
        ),
    );
    None
}

/// `rds_instance`: a DB instance identifier.
fn parse_rds(n: &Node, p: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let id = ctx.non_empty(n, p)?;
    if valid_rds_id(&id) {
        return Some(Target::RdsInstance(id));
    }
    ctx.problem(
        n,
        p,
        format!(
            "invalid DB instance identifier `{id}` (1-63 letters, digits or `-`, starting with a letter)"
        ),
    );
    None
}

/// The printable target: what is checked, then where and as whom.
fn printable(target: &Target, client: &ClientKey) -> String {
    let mut printable = match target {
        Target::StsIdentity { account, .. } => match account {
            Some(a) => format!("sts identity (account {a})"),
            None => "sts identity".to_owned(),
        },
        Target::S3Bucket(b) => format!("s3://{b}"),
        Target::RdsInstance(id) => format!("rds instance {id}"),
        Target::ElbTargetGroup { arn, .. } => format!("target group {arn}"),
        Target::Ec2Instances {
            tags, instance_ids, ..
        } => {
            let mut parts: Vec<String> = tags.iter().map(|(k, v)| format!("tag:{k}={v}")).collect();
            parts.extend(instance_ids.iter().cloned());
            format!("ec2 instances {}", parts.join(","))
        }
    };
    if let Some(r) = &client.region {
        printable.push_str(&format!(" in {r}"));
    }
    if let Some(p) = &client.profile {
        printable.push_str(&format!(" (profile {p})"));
    }
    if let Some(role) = &client.role_arn {
        printable.push_str(&format!(" as {role}"));
    }
    if let Some(u) = client
        .endpoint_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    {
        printable.push_str(&format!(" via {}", printable_url(&u)));
    }
    printable
}

/// A non-empty string under `key`; clears `ok` when present but empty or not text.
fn take_non_empty(
    r: &mut MapReader<'_>,
    ctx: &mut Ctx<'_>,
    key: &str,
    ok: &mut bool,
) -> Option<String> {
    let (n, p) = r.take(key)?;
    let v = ctx.non_empty(n, &p);
    if v.is_none() {
        *ok = false;
    }
    v
}

/// `sts_identity`: `true`, `{}` or `{account, arn_contains}`.
fn parse_sts(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    // `sts_identity: {}` and `sts_identity: true` both mean "credentials are valid".
    match &node.value {
        Value::Null | Value::Bool(true) => {
            return Some(Target::StsIdentity {
                account: None,
                arn_contains: None,
            });
        }
        _ => {}
    }
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let account = match sub.take("account") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(a) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => Some(a),
            Some(a) => {
                ctx.problem(
                    n,
                    &p,
                    format!(
                        "invalid AWS account id `{a}` (12 digits; quote it so YAML keeps leading zeros)"
                    ),
                );
                ok = false;
                None
            }
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let arn_contains = take_non_empty(&mut sub, ctx, "arn_contains", &mut ok);
    sub.finish(&keys(STS_FIELDS), ctx.problems);
    ok.then_some(Target::StsIdentity {
        account,
        arn_contains,
    })
}

/// `elb_target_group`: an ARN or `{arn, min_healthy}`.
fn parse_elb(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let valid = |arn: &str| arn.starts_with("arn:") && arn.contains(":targetgroup/");
    let bad_arn = "invalid target group ARN (expected arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID)";
    // A bare ARN is accepted for `{arn: …}`.
    if !matches!(node.value, Value::Map(_)) {
        let arn = ctx.non_empty(node, path)?;
        if !valid(&arn) {
            ctx.problem(node, path, format!("{bad_arn}: `{arn}`"));
            return None;
        }
        return Some(Target::ElbTargetGroup {
            arn,
            min_healthy: None,
        });
    }
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let arn = match sub.take("arn") {
        Some((n, p)) => match ctx.non_empty(n, &p) {
            Some(a) if valid(&a) => Some(a),
            Some(a) => {
                ctx.problem(n, &p, format!("{bad_arn}: `{a}`"));
                None
            }
            None => None,
        },
        None => {
            ctx.problem(node, path, "missing required key `arn`");
            None
        }
    };
    let min_healthy = match sub.take("min_healthy") {
        Some((n, p)) => {
            let m = ctx.uint(n, &p, 100_000);
            ok &= m.is_some();
            m
        }
        None => None,
    };
    sub.finish(&keys(ELB_FIELDS), ctx.problems);
    let arn = arn?;
    ok.then_some(Target::ElbTargetGroup { arn, min_healthy })
}

/// `ec2_instances`: `{tag, instance_ids, min_running}`, at least one selector.
fn parse_ec2(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Option<Target> {
    let mut sub = MapReader::new(node, path, ctx.problems)?;
    let mut ok = true;
    let tags = match sub.take("tag") {
        Some((n, p)) => read_tags(n, &p, ctx, &mut ok),
        None => Vec::new(),
    };
    let instance_ids = match sub.take("instance_ids") {
        Some((n, p)) => read_instance_ids(n, &p, ctx, &mut ok),
        None => Vec::new(),
    };
    let min_running = match sub.take("min_running") {
        Some((n, p)) => match ctx.uint(n, &p, 100_000) {
            Some(m) => Some(m),
            None => {
                ok = false;
                None
            }
        },
        None => None,
    };
    let before = ctx.problems.list.len();
    sub.finish(&keys(EC2_FIELDS), ctx.problems);
    // An unknown key (`tags:`) already explains a missing selector.
    ok &= ctx.problems.list.len() == before;
    if ok && tags.is_empty() && instance_ids.is_empty() {
        ctx.problem(
            node,
            path,
            "select instances with `tag` and/or `instance_ids`",
        );
        return None;
    }
    if !ok {
        return None;
    }
    let default_min = u64::try_from(instance_ids.len()).unwrap_or(u64::MAX).max(1);
    Some(Target::Ec2Instances {
        tags,
        instance_ids,
        min_running: min_running.unwrap_or(default_min),
    })
}

/// `tag`: at least one `Key: value` pair, keys not empty.
fn read_tags(n: &Node, p: &str, ctx: &mut Ctx<'_>, ok: &mut bool) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    match ctx.string_map(n, p) {
        Some(map) if map.is_empty() => {
            ctx.problem(n, p, "must have at least one `Key: value` pair");
            *ok = false;
        }
        Some(map) => {
            for (k, v, _) in map {
                if k.trim().is_empty() {
                    ctx.problem(n, p, "tag keys must not be empty");
                    *ok = false;
                }
                tags.push((k, v));
            }
        }
        None => *ok = false,
    }
    tags
}

/// `instance_ids`: `i-` and hex digits each.
fn read_instance_ids(n: &Node, p: &str, ctx: &mut Ctx<'_>, ok: &mut bool) -> Vec<String> {
    let Some(ids) = ctx.string_list(n, p) else {
        *ok = false;
        return Vec::new();
    };
    let mut valid = Vec::new();
    for id in ids {
        if valid_instance_id(&id) {
            valid.push(id);
        } else {
            ctx.problem(
                n,
                p,
                format!("invalid instance id `{id}` (expected i- and hex digits)"),
            );
            *ok = false;
        }
    }
    valid
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-2`, …
fn valid_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && middle
            .iter()
            .all(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_lowercase()))
        && (1..=2).contains(&last.len())
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// An S3 bucket name (also the legacy names with `_` and capitals).
fn valid_bucket(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// A DB instance identifier.
fn valid_rds_id(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An EC2 instance id (`i-` and 8 or 17 hex digits).
fn valid_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions() {
        for ok in [
            "eu-west-1",
            "us-gov-west-1",
            "cn-north-1",
            "ap-southeast-2",
            "us-isob-east-1",
        ] {
            assert!(valid_region(ok), "{ok}");
        }
        for bad in [
            "eu-west",
            "EU-WEST-1",
            "eu_west_1",
            "europe-1",
            "eu--1",
            "",
            "eu-west-123",
        ] {
            assert!(!valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn instance_ids_buckets_and_db_identifiers() {
        assert!(valid_instance_id("i-0123456789abcdef0"));
        assert!(valid_instance_id("i-12345678"));
        assert!(!valid_instance_id("i-xyz"));
        assert!(!valid_instance_id("0123456789"));
        assert!(valid_bucket("my-artifacts"));
        assert!(!valid_bucket("s3://my-artifacts"));
        assert!(!valid_bucket("ab"));
        assert!(valid_rds_id("orders-db-1"));
        assert!(!valid_rds_id("1orders"));
        assert!(!valid_rds_id("orders_db"));
    }

    #[test]
    fn printable_targets_name_where_and_as_whom() {
        let client = ClientKey {
            region: Some("eu-west-1".into()),
            profile: Some("ci".into()),
            endpoint_url: Some("http://u:pw@127.0.0.1:5000/?x=1".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/r".into()),
        };
        let ec2 = Target::Ec2Instances {
            tags: vec![("Name".into(), "web".into())],
            instance_ids: vec!["i-12345678".into()],
            min_running: 1,
        };
        assert_eq!(
            printable(&ec2, &client),
            "ec2 instances tag:Name=web,i-12345678 in eu-west-1 (profile ci) as arn:aws:iam::123456789012:role/r via http://u:***@127.0.0.1:5000/"
        );
        let sts = Target::StsIdentity {
            account: None,
            arn_contains: None,
        };
        let none = ClientKey {
            region: None,
            profile: None,
            endpoint_url: None,
            role_arn: None,
        };
        assert_eq!(printable(&sts, &none), "sts identity");
    }
}
