//! The moto AWS emulator (`pip install 'moto[server]'`) on an ephemeral loopback port, stopped
//! by PID; fixtures are created through its API with boto3 (installed with moto). Every AWS
//! run goes through [`run_aws`], which strips the caller's `AWS_*` variables and points the
//! shared config files at nothing, so no test can read real credentials or reach AWS.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::platform::Run;
use super::{Workspace, code, infracheck_command, spawn_listening, stderr, stdout};

/// Fake credentials moto accepts.
pub const KEY_ID: &str = "testing";
/// The region fixtures live in.
pub const REGION: &str = "eu-west-1";

/// Fail (never skip) when moto is not installed.
fn require_moto() {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server, boto3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "moto is required by the AWS tests: `python3 -m pip install 'moto[server]'` (scripts/test.sh does)"
    );
}

/// A running moto server; stopped by PID when dropped.
pub struct Moto {
    pub port: u16,
    _guard: super::ChildGuard,
}

impl Moto {
    pub fn start() -> Moto {
        require_moto();
        let (port, guard) = spawn_listening("moto_server", |port| {
            let mut cmd = Command::new("python3");
            cmd.args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            cmd
        });
        Moto {
            port,
            _guard: guard,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Run a Python snippet with `ec2`, `s3` and `sts` boto3 clients bound to this server;
    /// returns its stdout.
    pub fn python(&self, body: &str) -> String {
        let script = format!(
            "import boto3, json\nkw = dict(endpoint_url={url:?}, region_name={REGION:?})\n\
             ec2 = boto3.client('ec2', **kw)\ns3 = boto3.client('s3', **kw)\n\
             sts = boto3.client('sts', **kw)\n{body}\n",
            url = self.url()
        );
        let mut cmd = Command::new("python3");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(&k);
            }
        }
        let out = cmd
            .args(["-c", &script])
            .env("AWS_ACCESS_KEY_ID", KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/nonexistent/infracheck-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/infracheck-test/credentials",
            )
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "fixture script failed:\n{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Create a bucket.
    pub fn create_bucket(&self, name: &str) {
        self.python(&format!(
            "s3.create_bucket(Bucket={name:?}, CreateBucketConfiguration={{'LocationConstraint': {REGION:?}}})"
        ));
    }

    /// Start `count` instances tagged `Name=name`; returns their ids.
    pub fn run_instances(&self, name: &str, count: u32) -> Vec<String> {
        let out = self.python(&format!(
            "r = ec2.run_instances(ImageId='ami-12345678', MinCount={count}, MaxCount={count}, \
             TagSpecifications=[{{'ResourceType': 'instance', 'Tags': [{{'Key': 'Name', 'Value': {name:?}}}]}}])\n\
             print(json.dumps([i['InstanceId'] for i in r['Instances']]))"
        ));
        serde_json::from_str(out.trim()).expect("instance ids")
    }

    /// Create a PostgreSQL DB instance (available at once in moto); `stopped` stops it.
    pub fn create_db(&self, id: &str, stopped: bool) {
        let mut script = format!(
            "rds = boto3.client('rds', **kw)\n\
             rds.create_db_instance(DBInstanceIdentifier={id:?}, Engine='postgres', \
             DBInstanceClass='db.t3.micro', AllocatedStorage=20, MasterUsername='app', \
             MasterUserPassword='moto-password-1')"
        );
        if stopped {
            script.push_str(&format!(
                "\nrds.stop_db_instance(DBInstanceIdentifier={id:?})"
            ));
        }
        self.python(&script);
    }

    /// Create an HTTP target group (in a new VPC) with `instance_ids` registered; returns its ARN.
    pub fn create_target_group(&self, name: &str, instance_ids: &[String]) -> String {
        let out = self.python(&format!(
            "elb = boto3.client('elbv2', **kw)\n\
             vpc = ec2.create_vpc(CidrBlock='10.0.0.0/16')['Vpc']['VpcId']\n\
             tg = elb.create_target_group(Name={name:?}, Protocol='HTTP', Port=80, VpcId=vpc)\
             ['TargetGroups'][0]['TargetGroupArn']\n\
             elb.register_targets(TargetGroupArn=tg, Targets=[{{'Id': i}} for i in {ids}])\n\
             print(tg)",
            ids = serde_json::to_string(instance_ids).expect("json")
        ));
        out.trim().to_owned()
    }

    /// Stop instances.
    pub fn stop_instances(&self, ids: &[String]) {
        self.python(&format!(
            "ec2.stop_instances(InstanceIds={})",
            serde_json::to_string(ids).expect("json")
        ));
    }
}

/// Run infracheck in `dir` with no inherited `AWS_*` variable, IMDS disabled and the shared
/// config/credentials files pointed at paths that do not exist, plus `envs`.
pub fn run_aws(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    // The hermetic builder already drops every inherited `AWS_*` and disables IMDS.
    let mut cmd = infracheck_command(dir);
    cmd.args(args);
    let missing = dir.join("no-such-aws-dir");
    cmd.env("AWS_CONFIG_FILE", missing.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", missing.join("credentials"));
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run infracheck")
}

/// Fake credentials and the region, for [`run_aws`].
pub fn fake_env(secret: &str) -> Vec<(&str, &str)> {
    vec![
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_REGION", REGION),
    ]
}

/// Write `config` as `c.yaml`, run environment `t` with JSON output through [`run_aws`].
pub fn run_json_aws(ws: &Workspace, config: &str, envs: &[(&str, &str)]) -> Run {
    ws.write("c.yaml", config);
    let out = run_aws(
        ws.path(),
        &["-c", "c.yaml", "--env", "t", "--output", "json"],
        envs,
    );
    let raw = format!("{}\n--- stderr ---\n{}", stdout(&out), stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("output is not JSON ({e}): {raw}"));
    Run {
        code: code(&out),
        results: doc["results"].as_array().cloned().unwrap_or_default(),
        raw,
    }
}
