//! A fake release of the GitHub Action for its script tests: the action's scripts and committed
//! checksums in a temporary directory, release assets packaged by `scripts/action/package.sh`
//! and served on loopback, a runner's job files, and a stand-in binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::ci::{root, run_cmd, text};
use super::file_server::FileServer;
use super::sanitised_command;

/// (RUNNER_OS, RUNNER_ARCH, release target) for every platform the action supports.
pub const TARGETS: [(&str, &str, &str); 5] = [
    ("Linux", "X64", "x86_64-unknown-linux-musl"),
    ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
    ("macOS", "X64", "x86_64-apple-darwin"),
    ("macOS", "ARM64", "aarch64-apple-darwin"),
    ("Windows", "X64", "x86_64-pc-windows-msvc"),
];

/// A fake release: an action directory (the scripts plus committed checksums) and release
/// assets served on loopback, holding `binary` packaged for every target.
pub struct FakeRelease {
    pub dir: tempfile::TempDir,
    pub server: FileServer,
    pub version: &'static str,
}

impl FakeRelease {
    pub fn new(version: &'static str, binary: &Path) -> FakeRelease {
        Self::for_targets(version, binary, &TARGETS.map(|(_, _, t)| t))
    }

    pub fn for_targets(version: &'static str, binary: &Path, targets: &[&str]) -> FakeRelease {
        let dir = tempfile::tempdir().unwrap();
        let action = dir.path().join("action");
        let releases = dir.path().join("releases");
        std::fs::create_dir_all(action.join("scripts")).unwrap();
        std::fs::create_dir_all(action.join("checksums")).unwrap();
        copy_dir(
            &root().join("scripts/action"),
            &action.join("scripts/action"),
        );
        let assets = releases.join(format!("v{version}"));
        let mut sums = String::new();
        for &target in targets {
            let out = run_cmd(
                sanitised_command("bash")
                    .arg(root().join("scripts/action/package.sh"))
                    .args([version, target])
                    .arg(binary)
                    .arg(&assets),
                "package.sh",
            );
            assert!(out.status.success(), "{}", text(&out));
            let ext = if target.contains("windows") {
                "zip"
            } else {
                "tar.gz"
            };
            let side = assets.join(format!("infracheck-v{version}-{target}.{ext}.sha256"));
            sums.push_str(&std::fs::read_to_string(side).unwrap());
        }
        std::fs::write(action.join(format!("checksums/v{version}.sha256")), sums).unwrap();
        let server = FileServer::start(&releases);
        FakeRelease {
            dir,
            server,
            version,
        }
    }

    pub fn action(&self) -> PathBuf {
        self.dir.path().join("action")
    }

    pub fn checksums(&self) -> PathBuf {
        self.action()
            .join(format!("checksums/v{}.sha256", self.version))
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// A runner's files for one job: RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT.
pub struct Job {
    pub dir: tempfile::TempDir,
}

impl Job {
    pub fn new() -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("temp")).unwrap();
        std::fs::write(dir.path().join("path"), "").unwrap();
        std::fs::write(dir.path().join("output"), "").unwrap();
        Job { dir }
    }
    pub fn temp(&self) -> PathBuf {
        self.dir.path().join("temp")
    }
    pub fn path_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("path")).unwrap()
    }
    pub fn output_file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("output")).unwrap()
    }
    pub fn output(&self, name: &str) -> Option<String> {
        let prefix = format!("{name}=");
        self.output_file()
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
    }
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("RUNNER_TEMP", self.temp())
            .env("GITHUB_PATH", self.dir.path().join("path"))
            .env("GITHUB_OUTPUT", self.dir.path().join("output"));
    }
}

pub fn install(
    rel: &FakeRelease,
    job: &Job,
    os: &str,
    arch: &str,
    extra: &[(&str, &str)],
) -> Output {
    let mut cmd = sanitised_command("bash");
    cmd.arg(rel.action().join("scripts/action/install.sh"))
        .env("HOME", job.dir.path())
        .env("RUNNER_OS", os)
        .env("RUNNER_ARCH", arch)
        .env("GITHUB_ACTION_PATH", rel.action())
        .env("INFRACHECK_VERSION", rel.version)
        .env("INFRACHECK_RELEASE_BASE_URL", rel.server.base());
    job.env(&mut cmd);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, "install.sh")
}

/// A stand-in binary for the platform tests: prints a version and records its arguments.
pub fn fake_binary(dir: &Path, version: &str) -> PathBuf {
    let p = dir.join("fake-infracheck");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo \"infracheck {version}\"; exit 0; fi\n\
             printf '%s\\n' \"$@\" >\"$FAKE_ARGS\"\n\
             printf 'passed=1\\nwarned=0\\nfailed=0\\ntotal=1\\nstatus=passed\\n' >>\"$GITHUB_OUTPUT\"\n\
             exit \"${{FAKE_EXIT:-0}}\"\n"
        ),
    )
    .unwrap();
    make_executable(&p);
    p
}

pub fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(p).unwrap().permissions();
    perm.set_mode(0o755);
    std::fs::set_permissions(p, perm).unwrap();
}

/// The release of `rel` in GitHub's layout under `<root>/acme/infracheck/releases/`: assets
/// and SHA256SUMS under `download/v<version>/`, and `latest` redirecting to `tag/v<version>`.
pub fn github_layout(rel: &FakeRelease, root: &Path) -> FileServer {
    let releases = root.join("acme/infracheck/releases");
    let download = releases.join(format!("download/v{}", rel.version));
    copy_dir(
        &rel.dir.path().join(format!("releases/v{}", rel.version)),
        &download,
    );
    std::fs::copy(rel.checksums(), download.join("SHA256SUMS")).unwrap();
    std::fs::create_dir_all(releases.join("tag")).unwrap();
    std::fs::write(
        releases.join(format!("tag/v{}", rel.version)),
        "release page",
    )
    .unwrap();
    std::fs::write(
        releases.join("latest.redirect"),
        format!("/acme/infracheck/releases/tag/v{}", rel.version),
    )
    .unwrap();
    FileServer::start(root)
}

pub fn run_script(job: &Job, fake: &Path, args_file: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = sanitised_command("bash");
    cmd.arg(root().join("scripts/action/run.sh"))
        .current_dir(job.dir.path())
        .env("INFRACHECK_BIN", fake)
        .env("FAKE_ARGS", args_file);
    job.env(&mut cmd);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, "run.sh")
}
