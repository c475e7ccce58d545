//! `aws_checks` against the moto AWS emulator on loopback: STS identity, S3 buckets, EC2
//! running counts, an assumed role, no credentials (never green) and a dead endpoint. Every
//! run strips the caller's `AWS_*` variables and disables IMDS (support/moto.rs).

use crate::support::moto::{Moto, fake_env, run_aws, run_json_aws};
use crate::support::platform::validate;
use crate::support::{Workspace, code, stderr, stdout};

/// A secret access key that must appear in no output.
const SENTINEL: &str = "aws-sentinel-secret-0042";

#[test]
fn sts_s3_and_ec2_against_moto() {
    let moto = Moto::start();
    moto.create_bucket("infracheck-artifacts");
    let web = moto.run_instances("web", 3);
    let db = moto.run_instances("db", 1);
    let tg = moto.create_target_group("web", &web);
    moto.stop_instances(&web[2..]);
    moto.create_db("orders", false);
    moto.create_db("legacy", true);
    let url = moto.url();
    let ws = Workspace::new();
    let run = run_json_aws(
        &ws,
        &format!(
            r#"environments:
  t:
    aws_checks:
      - {{name: identity, sts_identity: {{account: "123456789012"}}, endpoint_url: "{url}"}}
      - {{name: identity-arn, sts_identity: {{arn_contains: "user/moto"}}, endpoint_url: "{url}"}}
      - {{name: wrong-account, sts_identity: {{account: "999999999999"}}, endpoint_url: "{url}"}}
      - {{name: assumed, sts_identity: {{arn_contains: "assumed-role/ci-reader"}}, role_arn: "arn:aws:iam::123456789012:role/ci-reader", endpoint_url: "{url}"}}
      - {{name: artifacts, s3_bucket: infracheck-artifacts, region: eu-west-1, endpoint_url: "{url}"}}
      - {{name: missing-bucket, s3_bucket: no-such-bucket-here, endpoint_url: "{url}"}}
      - {{name: leak, s3_bucket: {SENTINEL}, endpoint_url: "{url}"}}
      - {{name: web-fleet, ec2_instances: {{tag: {{Name: web}}, min_running: 2}}, region: eu-west-1, endpoint_url: "{url}"}}
      - {{name: web-fleet-3, ec2_instances: {{tag: {{Name: web}}, min_running: 3}}, region: eu-west-1, endpoint_url: "{url}"}}
      - {{name: db-by-id, ec2_instances: {{instance_ids: ["{db0}"]}}, endpoint_url: "{url}"}}
      - {{name: unknown-id, ec2_instances: {{instance_ids: ["i-0123456789abcdef0"]}}, endpoint_url: "{url}"}}
      - {{name: other-region, ec2_instances: {{tag: {{Name: web}}}}, region: us-east-1, endpoint_url: "{url}"}}
      - {{name: orders-db, rds_instance: orders, endpoint_url: "{url}"}}
      - {{name: legacy-db, rds_instance: legacy, endpoint_url: "{url}"}}
      - {{name: missing-db, rds_instance: nope, endpoint_url: "{url}"}}
      - {{name: tg-all, elb_target_group: "{tg}", endpoint_url: "{url}"}}
      - {{name: tg-min2, elb_target_group: {{arn: "{tg}", min_healthy: 2}}, endpoint_url: "{url}"}}
      - {{name: tg-missing, elb_target_group: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/nope/0123456789abcdef", endpoint_url: "{url}"}}
"#,
            db0 = db[0],
        ),
        &fake_env(SENTINEL),
    );
    assert_eq!(run.code, 1, "{}", run.raw);

    let r = run.expect("identity", "PASS", None);
    assert_eq!(r["kind"], "aws");
    assert_eq!(r["metadata"]["account"], "123456789012");
    assert_eq!(r["metadata"]["region"], "eu-west-1");
    assert!(
        r["metadata"]["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:"),
        "{r}"
    );
    run.expect("identity-arn", "PASS", None);
    let r = run.expect("wrong-account", "FAIL", Some("aws.expect"));
    let msg = r["message"].as_str().unwrap();
    assert!(
        msg.contains("account 123456789012, expected 999999999999"),
        "{msg}"
    );
    let r = run.expect("assumed", "PASS", None);
    assert!(
        r["metadata"]["arn"]
            .as_str()
            .unwrap()
            .contains("assumed-role/ci-reader/infracheck"),
        "{r}"
    );

    let r = run.expect("artifacts", "PASS", None);
    assert_eq!(r["metadata"]["bucket"], "infracheck-artifacts");
    assert_eq!(r["metadata"]["bucket_region"], "eu-west-1");
    assert_eq!(
        r["target"],
        format!("s3://infracheck-artifacts in eu-west-1 via {url}/")
    );
    let r = run.expect("missing-bucket", "FAIL", Some("aws.not_found"));
    assert_eq!(r["metadata"]["http_status"], 404);
    let r = run.expect("leak", "FAIL", Some("aws.not_found"));
    assert!(r["message"].as_str().unwrap().contains("***"), "{r}");

    let r = run.expect("web-fleet", "PASS", None);
    assert_eq!(r["metadata"]["running"], 2);
    assert_eq!(r["metadata"]["instances"], 3);
    assert_eq!(r["metadata"]["states"]["running"], 2);
    assert_eq!(r["metadata"]["states"]["stopped"], 1);
    let r = run.expect("web-fleet-3", "FAIL", Some("aws.expect"));
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("2/3 instances running"), "{msg}");
    assert!(msg.contains("min_running 3"), "{msg}");
    assert!(msg.contains(&format!("{} (stopped)", web[2])), "{msg}");
    let r = run.expect("db-by-id", "PASS", None);
    assert_eq!(r["metadata"]["running"], 1);
    run.expect("unknown-id", "FAIL", Some("aws.not_found"));
    let r = run.expect("other-region", "FAIL", Some("aws.expect"));
    assert_eq!(r["metadata"]["instances"], 0);

    let r = run.expect("orders-db", "PASS", None);
    assert_eq!(r["metadata"]["db_status"], "available");
    assert_eq!(r["metadata"]["engine"], "postgres");
    let r = run.expect("legacy-db", "FAIL", Some("aws.expect"));
    assert!(
        r["message"].as_str().unwrap().contains("is `stopped`"),
        "{r}"
    );
    run.expect("missing-db", "FAIL", Some("aws.not_found"));
    let r = run.expect("tg-all", "FAIL", Some("aws.expect"));
    let msg = r["message"].as_str().unwrap();
    assert!(msg.contains("2/3 targets healthy"), "{msg}");
    assert!(msg.contains(&format!("{}:80 (unused", web[2])), "{msg}");
    let r = run.expect("tg-min2", "PASS", None);
    assert_eq!(r["metadata"]["healthy"], 2);
    assert_eq!(r["metadata"]["states"]["healthy"], 2);
    run.expect("tg-missing", "FAIL", Some("aws.not_found"));

    assert!(!run.raw.contains(SENTINEL), "{}", run.raw);

    // AWS_ENDPOINT_URL (read by aws-config) reaches every call without `endpoint_url`.
    let mut env = fake_env(SENTINEL);
    env.push(("AWS_ENDPOINT_URL", &url));
    let run = run_json_aws(
        &ws,
        r#"environments:
  t:
    aws_checks:
      - {name: identity, sts_identity: {account: "123456789012"}}
      - {name: artifacts, s3_bucket: infracheck-artifacts}
      - {name: web-fleet, ec2_instances: {tag: {Name: web}, min_running: 2}}
"#,
        &env,
    );
    assert_eq!(run.code, 0, "{}", run.raw);
    run.expect("artifacts", "PASS", None);
    assert_eq!(
        run.expect("web-fleet", "PASS", None)["metadata"]["running"],
        2
    );
}

#[test]
fn no_credentials_is_never_green() {
    let moto = Moto::start();
    moto.create_bucket("infracheck-artifacts");
    let url = moto.url();
    let ws = Workspace::new();
    let config = format!(
        r#"environments:
  t:
    aws_checks:
      - {{name: identity, sts_identity: {{}}, endpoint_url: "{url}"}}
      - {{name: artifacts, s3_bucket: infracheck-artifacts, endpoint_url: "{url}"}}
      - {{name: fleet, ec2_instances: {{tag: {{Name: web}}, min_running: 0}}, endpoint_url: "{url}"}}
      - {{name: ghost-profile, sts_identity: {{}}, profile: ghost, endpoint_url: "{url}"}}
      - {{name: role, sts_identity: {{}}, role_arn: "arn:aws:iam::123456789012:role/ci", endpoint_url: "{url}"}}
"#
    );
    // Region only: no key, no profile, config files that do not exist, IMDS disabled.
    let run = run_json_aws(&ws, &config, &[("AWS_REGION", "eu-west-1")]);
    assert_eq!(run.code, 1, "{}", run.raw);
    for name in ["identity", "artifacts", "fleet", "ghost-profile", "role"] {
        let r = run.expect(name, "FAIL", Some("aws.credentials"));
        let msg = r["message"].as_str().unwrap();
        assert!(msg.contains("AWS_ACCESS_KEY_ID"), "{msg}");
        // One short line (docs/results.md); a provider's chain, when there is one, in `detail`.
        assert!(msg.chars().count() <= 120 && !msg.contains('\n'), "{msg}");
    }

    // The default text output and exit code say the same.
    let out = run_aws(
        ws.path(),
        &["-c", "c.yaml", "--env", "t"],
        &[("AWS_REGION", "eu-west-1")],
    );
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("aws.credentials"), "{}", stdout(&out));

    // No region anywhere is a FAIL too, with what to set.
    let run = run_json_aws(&ws, &config, &fake_env("testing")[..2]);
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("identity", "FAIL", Some("aws.credentials"));
    assert!(r["message"].as_str().unwrap().contains("AWS_REGION"), "{r}");
}

#[test]
fn dead_endpoint_is_unreachable() {
    let dead_held = crate::support::closed_port();
    let dead = format!("http://127.0.0.1:{}", dead_held.port);
    let ws = Workspace::new();
    let run = run_json_aws(
        &ws,
        &format!(
            r#"environments:
  t:
    aws_checks:
      - {{name: identity, sts_identity: {{}}, endpoint_url: "{dead}", timeout: 30s}}
      - {{name: artifacts, s3_bucket: infracheck-artifacts, endpoint_url: "{dead}", timeout: 30s}}
      - {{name: fleet, ec2_instances: {{tag: {{Name: web}}}}, endpoint_url: "{dead}", timeout: 30s}}
      - {{name: role, sts_identity: {{}}, role_arn: "arn:aws:iam::123456789012:role/ci", endpoint_url: "{dead}", timeout: 30s}}
      - {{name: db, rds_instance: orders, endpoint_url: "{dead}", timeout: 30s}}
      - {{name: tg, elb_target_group: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef", endpoint_url: "{dead}", timeout: 30s}}
"#
        ),
        &fake_env(SENTINEL),
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    for name in ["identity", "artifacts", "fleet", "role", "db", "tg"] {
        let r = run.expect(name, "FAIL", Some("aws.unreachable"));
        assert!(
            r["message"].as_str().unwrap().contains("unreachable"),
            "{r}"
        );
    }
    assert!(!run.raw.contains(SENTINEL), "{}", run.raw);
}

#[test]
fn validate_never_touches_aws_and_rejects_bad_config() {
    // A valid config validates with no credentials, no region and no endpoint at all.
    let ws = Workspace::new();
    ws.write(
        "c.yaml",
        r#"environments:
  t:
    aws_checks:
      - {name: identity, sts_identity: {account: "123456789012"}}
      - {name: artifacts, s3_bucket: my-artifacts, region: eu-west-1}
      - {name: web-fleet, ec2_instances: {tag: {Name: web}, min_running: 2}, region: eu-west-1}
"#,
    );
    let out = run_aws(ws.path(), &["validate", "-c", "c.yaml"], &[]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));

    let (code, out) = validate(
        &ws,
        r#"environments:
  t:
    aws_checks:
      - {name: two, sts_identity: {}, s3_bucket: b-b-b}
      - {name: none, region: eu-west-1}
      - {name: region, sts_identity: {}, region: europe}
      - {name: account, sts_identity: {account: 1234}}
      - {name: bucket, s3_bucket: "s3://b/key"}
      - {name: ec2, ec2_instances: {min_running: 2}}
      - {name: ids, ec2_instances: {instance_ids: [web-1]}}
      - {name: endpoint, sts_identity: {}, endpoint_url: "ftp://x"}
      - {name: typo, sts_identity: {acount: "123456789012"}}
      - {name: db, rds_instance: orders_db}
      - {name: tg, elb_target_group: {min_healthy: 1}}
      - {name: tg-arn, elb_target_group: "arn:aws:s3:::bucket"}
"#,
        &[],
    );
    assert_eq!(code, 2, "{out}");
    for want in [
        "set only one of `sts_identity`, `s3_bucket`, `ec2_instances`",
        "missing what to check",
        "invalid AWS region `europe`",
        "invalid AWS account id `1234`",
        "invalid S3 bucket name `s3://b/key`",
        "select instances with `tag` and/or `instance_ids`",
        "invalid instance id `web-1`",
        "unsupported endpoint URL",
        "unknown key `acount`",
        "invalid DB instance identifier `orders_db`",
        "missing required key `arn`",
        "invalid target group ARN",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn another_api_error_is_aws_api() {
    // A real HTTP server as the endpoint, answering every call with an AWS query-protocol
    // error that is neither about credentials, access nor a missing resource.
    let ng = crate::support::nginx::Nginx::start(
        r#"location / { default_type text/xml; return 400 '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>1 validation error detected: infracheck test</Message></Error><RequestId>r-1</RequestId></ErrorResponse>'; }"#,
    );
    let ws = Workspace::new();
    let run = run_json_aws(
        &ws,
        &format!(
            "environments:\n  t:\n    aws_checks:\n      - {{name: identity, sts_identity: {{}}, endpoint_url: \"{}\"}}\n",
            ng.base()
        ),
        &fake_env(SENTINEL),
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    let r = run.expect("identity", "FAIL", Some("aws.api"));
    assert_eq!(r["metadata"]["http_status"], 400, "{r}");
    let msg = r["message"].as_str().unwrap_or("");
    assert!(
        msg.contains("ValidationError") && msg.contains("1 validation error detected"),
        "{msg}"
    );
    assert!(!run.raw.contains(SENTINEL), "{}", run.raw);
}

#[test]
fn latency_thresholds_judge_the_api_calls() {
    // `0ms` is crossed by any call, so the verdicts below do not depend on the machine's speed.
    let moto = Moto::start();
    moto.create_bucket("infracheck-artifacts");
    moto.run_instances("web", 1);
    let url = moto.url();
    let ws = Workspace::new();
    let run = run_json_aws(
        &ws,
        &format!(
            r#"environments:
  t:
    aws_checks:
      - {{name: identity, sts_identity: {{}}, endpoint_url: "{url}", warn_latency: 0ms}}
      - {{name: fleet, ec2_instances: {{tag: {{Name: web}}}}, endpoint_url: "{url}", warn_latency: 0ms}}
      - {{name: artifacts, s3_bucket: infracheck-artifacts, endpoint_url: "{url}", fail_latency: 0ms}}
      - {{name: wrong-account, sts_identity: {{account: "999999999999"}}, endpoint_url: "{url}", warn_latency: 0ms}}
"#
        ),
        &fake_env(SENTINEL),
    );
    assert_eq!(run.code, 1, "{}", run.raw);
    for name in ["identity", "fleet"] {
        let r = run.expect(name, "WARN", Some("aws.latency"));
        let msg = r["message"].as_str().unwrap();
        assert!(
            msg.starts_with("slow: ") && msg.ends_with(" ms > warn_latency 0ms"),
            "{msg}"
        );
        // The facts of the answer are kept.
        assert!(r["metadata"]["latency_ms"].is_u64(), "{r}");
        assert_eq!(r["metadata"]["region"], "eu-west-1", "{r}");
    }
    assert_eq!(
        run.expect("fleet", "WARN", Some("aws.latency"))["metadata"]["running"],
        1
    );
    let r = run.expect("artifacts", "FAIL", Some("aws.latency"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("> fail_latency 0ms"),
        "{r}"
    );
    assert_eq!(r["metadata"]["bucket"], "infracheck-artifacts");
    // A failed expectation outranks a slow answer.
    let r = run.expect("wrong-account", "FAIL", Some("aws.expect"));
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("expected 999999999999"),
        "{r}"
    );
    assert!(!run.raw.contains(SENTINEL), "{}", run.raw);
}
