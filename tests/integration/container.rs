//! The container image: `scripts/container.sh` builds the Dockerfile with Debian's podman,
//! offline (`FROM scratch`, nothing pulled), from the static musl binary, and the image runs
//! infracheck as a non-root user against a real nginx on loopback (`--network host`): the exit
//! code and the JSON report are the binary's own. The image is a GitLab job image too: its
//! busybox shell runs the `script:` of the GitLab snippet's `.infracheck-image` job, as GitLab's
//! Docker executor would (the entrypoint turned off, the job's variables set, the checkout
//! mounted writable).
//!
//! podman keeps its images in a private store of the test (vfs, under a temporary directory),
//! configured through `CONTAINERS_STORAGE_CONF` and `CONTAINERS_CONF`: runc (crun refuses a
//! hybrid cgroup v1/v2 host), cgroupfs, a file event log, and `nofile`/`nproc` limits below
//! the ones the test process holds (the default raises them, which needs CAP_SYS_RESOURCE).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::ci::{fenced_blocks, get, parse_yaml, read, req, root, run_cmd, str_of, text};
use crate::support::nginx::Nginx;
use crate::support::{
    Workspace, closed_port, code, json, read as read_file, require_bin, require_root, result,
    sanitised_command, stderr,
};

const IMAGE: &str = "infracheck:local";

/// The static musl build of infracheck that scripts/test.sh makes before the tests
/// (`cargo build --locked --target x86_64-unknown-linux-musl`), or INFRACHECK_MUSL_BINARY.
fn musl_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("INFRACHECK_MUSL_BINARY") {
        return PathBuf::from(p);
    }
    // The target dir of the binary under test: <target>/debug/infracheck.
    let target = Path::new(env!("CARGO_BIN_EXE_infracheck"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf();
    let p = target.join("x86_64-unknown-linux-musl/debug/infracheck");
    assert!(
        p.is_file(),
        "{} is missing: build it first with `cargo build --locked --target \
         x86_64-unknown-linux-musl` (scripts/test.sh does; `rustup target add \
         x86_64-unknown-linux-musl` and Debian's musl-tools once)",
        p.display()
    );
    p
}

/// A podman of the test's own: its store and configuration in a temporary directory.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        require_root("podman runs containers as root here");
        require_bin("podman", &["/usr/bin/podman"], "podman");
        require_bin("runc", &["/usr/sbin/runc", "/usr/bin/runc"], "runc");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                d.join("root").display(),
                d.join("run").display()
            ),
        )
        .unwrap();
        std::fs::write(
            d.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n\
             [engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        Podman { dir }
    }

    fn env(&self, cmd: &mut Command) {
        let d = self.dir.path();
        cmd.env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("TMPDIR", d);
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = sanitised_command("podman");
        cmd.args(args);
        self.env(&mut cmd);
        run_cmd(&mut cmd, "podman")
    }
}

/// `podman run` of the image with the config directory mounted at /work (read-only).
fn run_image(podman: &Podman, work: &Path, args: &[&str]) -> Output {
    let mount = format!("{}:/work:ro", work.display());
    let mut all = vec!["run", "--rm", "--network", "host", "-v", &mount, IMAGE];
    all.extend_from_slice(args);
    podman.run(&all)
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}):\n{}", text(out)))
}

#[test]
fn the_image_builds_offline_and_runs_infracheck_against_a_loopback_server() {
    let podman = Podman::new();
    let binary = musl_binary();

    let mut build = sanitised_command("bash");
    build
        .arg(root().join("scripts/container.sh"))
        .arg(&binary)
        .env("CONTAINER_ENGINE", "podman");
    podman.env(&mut build);
    let out = run_cmd(&mut build, "scripts/container.sh");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("built infracheck:local"),
        "{}",
        text(&out)
    );

    // The image: a non-root numeric user, infracheck as the entrypoint, one platform.
    let out = podman.run(&[
        "image",
        "inspect",
        IMAGE,
        "--format",
        "{{.Config.User}}|{{json .Config.Entrypoint}}|{{.Config.WorkingDir}}|{{.Os}}/{{.Architecture}}",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"65532:65532|["infracheck"]|/work|linux/amd64"#
    );
    // The CA certificates of the build machine are in the image.
    let id = podman.run(&["create", IMAGE]);
    assert!(id.status.success(), "{}", text(&id));
    let id = String::from_utf8_lossy(&id.stdout).trim().to_owned();
    let copied = podman.dir.path().join("ca.crt");
    let out = podman.run(&[
        "cp",
        &format!("{id}:/etc/ssl/certs/ca-certificates.crt"),
        copied.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(&copied).unwrap(),
        std::fs::read("/etc/ssl/certs/ca-certificates.crt").unwrap()
    );
    assert!(podman.run(&["rm", &id]).status.success());

    // A green run and a red one, each a real check from inside the container.
    let nginx = Nginx::start("location = /health { return 200 'ok'; }");
    let closed = closed_port();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("infracheck.yaml"),
        format!(
            "environments:\n  prod:\n    http_checks:\n      - {{name: web, url: \"{}/health\", body_contains: ok}}\n  \
             broken:\n    tcp_checks:\n      - {{name: gone, host: 127.0.0.1, port: {}}}\n",
            nginx.base(),
            closed.addr().port()
        ),
    )
    .unwrap();

    let out = run_image(&podman, work.path(), &["--env", "prod", "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc = report(&out);
    assert_eq!(doc["status"], "passed", "{doc}");
    assert_eq!(doc["summary"]["pass"], 1, "{doc}");
    assert_eq!(doc["environment"], "prod", "{doc}");
    let web = &doc["results"][0];
    assert_eq!(web["name"], "web", "{doc}");
    assert_eq!(web["status"], "PASS", "{doc}");

    let out = run_image(
        &podman,
        work.path(),
        &["--env", "broken", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let doc = report(&out);
    let gone = &doc["results"][0];
    assert_eq!(gone["name"], "gone", "{doc}");
    assert_eq!(gone["status"], "FAIL", "{doc}");
    assert_eq!(gone["reason"], "tcp.refused", "{doc}");
    assert_eq!(doc["status"], "failed", "{doc}");

    // Bad input is the binary's exit 2, through the entrypoint.
    let out = run_image(&podman, work.path(), &["--env", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // The default entrypoint is still infracheck, and the shell runs as the same user.
    let out = run_image(&podman, work.path(), &["--version"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("infracheck "),
        "{}",
        text(&out)
    );
    let out = podman.run(&[
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        IMAGE,
        "-c",
        "id -u; id -g; command -v infracheck",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "65532\n65532\n/usr/local/bin/infracheck\n"
    );

    gitlab_job_runs_in_the_image(&podman);
}

/// The GitLab snippet's `.infracheck-image` job, run the way GitLab's Docker executor runs it:
/// its `script:` lines by the image's `sh` (entrypoint `[""]`), with the job's variables and
/// GitLab's own set, in the checkout (writable by any user, as the runner's `umask 0000` makes
/// it) holding the starter config, whose check points at a loopback nginx.
fn gitlab_job_runs_in_the_image(podman: &Podman) {
    let ws = Workspace::new();
    let init = ws.run(&["init", "--ci", "gitlab"], &[]);
    assert_eq!(code(&init), 0, "{}", stderr(&init));
    let snippet = String::from_utf8_lossy(&init.stdout).into_owned();
    let doc = parse_yaml(&snippet, "the gitlab snippet");
    let job = req(&doc, ".infracheck-image", "gitlab snippet");
    let image = req(job, "image", "the .infracheck-image job");
    let name = str_of(req(image, "name", "image"), "image name");
    assert!(name.starts_with("ghcr.io/OWNER/infracheck:"), "{name}");
    let entrypoint: Vec<&str> = req(image, "entrypoint", "image")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| str_of(e, "entrypoint"))
        .collect();
    assert_eq!(entrypoint, [""], "the entrypoint is turned off");
    let script: Vec<&str> = req(job, "script", "the .infracheck-image job")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|l| str_of(l, "a script line"))
        .collect();

    let nginx = Nginx::start("location = / { return 200 'welcome'; }");
    let config = ws.path().join("infracheck.yaml");
    let starter = read_file(&config);
    let example = "url: https://www.${vars.domain}/";
    assert!(starter.contains(example), "{starter}");
    std::fs::write(
        &config,
        starter.replace(example, &format!("url: {}/", nginx.base())),
    )
    .unwrap();
    std::fs::set_permissions(ws.path(), std::fs::Permissions::from_mode(0o777)).unwrap();

    let project = "/builds/group/project";
    let mount = format!("{}:{project}", ws.path().display());
    let mut args: Vec<String> = [
        "run",
        "--rm",
        "--network",
        "host",
        "-v",
        &mount,
        "-w",
        project,
        "--entrypoint",
        "/bin/sh",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let mut vars = vec![
        ("CI".to_owned(), "true".to_owned()),
        ("GITLAB_CI".to_owned(), "true".to_owned()),
        ("CI_PROJECT_DIR".to_owned(), project.to_owned()),
        ("CI_JOB_NAME".to_owned(), "infracheck".to_owned()),
    ];
    for (k, v) in req(job, "variables", "the .infracheck-image job")
        .as_mapping()
        .unwrap()
    {
        vars.push((
            str_of(k, "a variable").to_owned(),
            str_of(v, "a variable's value").to_owned(),
        ));
    }
    for (k, v) in vars {
        args.extend(["-e".to_owned(), format!("{k}={v}")]);
    }
    args.extend([IMAGE.to_owned(), "-euc".to_owned(), script.join("\n")]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = podman.run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let report = json(&ws.path().join("reports/infracheck.json"));
    assert_eq!(report["status"], "passed", "{report}");
    assert_eq!(result(&report, "homepage")["status"], "PASS", "{report}");
    let junit = read_file(&ws.path().join("reports/junit.xml"));
    assert!(junit.contains("homepage"), "{junit}");
    let cq = json(&ws.path().join("reports/codequality.json"));
    assert!(cq.is_array(), "{cq}");
}

/// The Kubernetes CronJob of docs/container.md runs the image as its non-root user with the
/// config from a ConfigMap, and fails the Job on a failed check (no retries).
#[test]
fn the_documented_cronjob_runs_the_image_as_its_user() {
    let blocks = fenced_blocks(
        &read("docs/container.md"),
        Some("Kubernetes CronJob"),
        "yaml",
    );
    assert_eq!(blocks.len(), 1, "one CronJob in docs/container.md");
    let cron = parse_yaml(&blocks[0], "docs/container.md CronJob");
    assert_eq!(str_of(req(&cron, "kind", "CronJob"), "kind"), "CronJob");
    let job = req(
        req(req(&cron, "spec", "CronJob"), "jobTemplate", "spec"),
        "spec",
        "jobTemplate",
    );
    assert_eq!(
        get(job, "backoffLimit").and_then(|b| b.as_integer()),
        Some(0)
    );
    let pod = req(req(job, "template", "job"), "spec", "template");
    assert_eq!(
        str_of(req(pod, "restartPolicy", "pod"), "restartPolicy"),
        "Never"
    );
    let sc = req(pod, "securityContext", "pod");
    assert_eq!(
        get(sc, "runAsUser").and_then(|u| u.as_integer()),
        Some(65532)
    );
    assert_eq!(
        get(sc, "runAsNonRoot").and_then(|u| u.as_bool()),
        Some(true)
    );
    let container = &req(pod, "containers", "pod").as_sequence().unwrap()[0];
    let image = str_of(req(container, "image", "container"), "image");
    assert!(image.starts_with("ghcr.io/OWNER/infracheck:"), "{image}");
    let args: Vec<&str> = req(container, "args", "container")
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(&args[..2], ["--env", "prod"]);
    let config = args
        .iter()
        .position(|a| *a == "--config")
        .map(|i| args[i + 1]);
    let mount = str_of(
        req(
            &req(container, "volumeMounts", "container")
                .as_sequence()
                .unwrap()[0],
            "mountPath",
            "mount",
        ),
        "mountPath",
    );
    assert_eq!(config, Some(format!("{mount}/infracheck.yaml").as_str()));
}
