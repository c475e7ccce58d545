//! The action's install script (`scripts/action/install.sh`) on every runner platform, against
//! a fake release served on loopback: the right asset, checksums verified against the committed
//! ones, a verified copy reused, clear errors, release tags, `latest` and `base-url`; and
//! `version: source`, built by a stand-in cargo that records its arguments.

use std::path::Path;
use std::process::Output;

use crate::support::ci::{read, run_cmd, text};
use crate::support::release::{
    FakeRelease, Job, TARGETS, fake_binary, github_layout, install, make_executable,
};
use crate::support::{closed_port, sanitised_command};

#[test]
fn install_picks_the_right_asset_for_every_runner_platform() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    for (os, arch, target) in TARGETS {
        let job = Job::new();
        let out = install(&rel, &job, os, arch, &[]);
        assert!(out.status.success(), "{os}/{arch}: {}", text(&out));
        let ext = if os == "Windows" { "zip" } else { "tar.gz" };
        let asset = format!("/v9.8.7/infracheck-v9.8.7-{target}.{ext}");
        assert_eq!(rel.server.requests().last(), Some(&asset), "{os}/{arch}");
        let exe = if os == "Windows" {
            "infracheck.exe"
        } else {
            "infracheck"
        };
        let dir = job.temp().join(format!("infracheck/v9.8.7/{target}"));
        assert!(dir.join(exe).is_file(), "{os}/{arch}: {} installed", exe);
        assert_eq!(
            job.path_file(),
            format!("{}\n", dir.display()),
            "{os}/{arch}"
        );
        assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
        assert_eq!(job.output("target").as_deref(), Some(target));
        assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
        assert_eq!(
            job.output("path").as_deref(),
            Some(dir.join(exe).to_str().unwrap())
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("verified"), "{stdout}");
    }
    // Windows on Arm runs the x64 build through emulation.
    let job = Job::new();
    let out = install(&rel, &job, "Windows", "ARM64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        job.output("target").as_deref(),
        Some("x86_64-pc-windows-msvc")
    );
}

#[test]
fn install_refuses_a_checksum_mismatch_with_a_clear_error() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    // The asset on the server is swapped: the committed checksum no longer matches.
    let sums = std::fs::read_to_string(rel.checksums()).unwrap();
    let tampered: String = sums
        .lines()
        .map(|l| {
            if l.contains("x86_64-unknown-linux-musl") {
                format!("{}{}\n", "0".repeat(64), &l[64..])
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(rel.checksums(), tampered).unwrap();
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(
        !out.status.success(),
        "a mismatch must fail: {}",
        text(&out)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=infracheck install::checksum mismatch for infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to run it"));
    assert_eq!(job.path_file(), "", "nothing is put on PATH");
    assert_eq!(job.output_file(), "", "no outputs");
    assert!(
        !job.temp()
            .join("infracheck/v9.8.7/x86_64-unknown-linux-musl")
            .exists()
    );

    // Other platforms of the same release still install.
    let job = Job::new();
    let out = install(&rel, &job, "macOS", "ARM64", &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn install_reuses_a_verified_copy_of_the_same_version() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    let job = Job::new();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    let downloads = rel.server.requests().len();
    assert_eq!(downloads, 1);

    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(rel.server.requests().len(), downloads, "no second download");
    assert_eq!(job.output("cache-hit").as_deref(), Some("true"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reusing it"));

    // A copy whose recorded checksum differs from the committed one is not reused.
    let marker = job
        .temp()
        .join("infracheck/v9.8.7/x86_64-unknown-linux-musl/.infracheck-sha256");
    std::fs::write(&marker, "0".repeat(64)).unwrap();
    let out = install(&rel, &job, "Linux", "X64", &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        rel.server.requests().len(),
        downloads + 1,
        "downloaded again"
    );
    assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
}

#[test]
fn install_explains_what_it_cannot_do() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    type Case = (
        &'static str,
        &'static str,
        Vec<(&'static str, &'static str)>,
        &'static str,
    );
    let cases: [Case; 6] = [
        (
            "Linux",
            "ARM",
            vec![],
            "no infracheck release for RUNNER_OS=Linux RUNNER_ARCH=ARM",
        ),
        (
            "FreeBSD",
            "X64",
            vec![],
            "no infracheck release for RUNNER_OS=FreeBSD",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "1.0.0")],
            "no committed checksums for infracheck v1.0.0",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "latest; rm -rf /")],
            "invalid version",
        ),
        (
            "Linux",
            "X64",
            vec![("INFRACHECK_VERSION", "")],
            "this action ref has no release (no checksums/LATEST): use a released tag, or set `version: source`",
        ),
        (
            "Linux",
            "X64",
            // Plain http anywhere but loopback is refused before any connection.
            vec![("INFRACHECK_RELEASE_BASE_URL", "http://192.0.2.1")],
            "INFRACHECK_RELEASE_BASE_URL must be https://, file:// or http on loopback",
        ),
    ];
    for (os, arch, extra, expected) in cases {
        let job = Job::new();
        let out = install(&rel, &job, os, arch, &extra);
        assert!(
            !out.status.success(),
            "{os}/{arch} {extra:?}: {}",
            text(&out)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains(&format!("::error title=infracheck install::{expected}")),
            "{os}/{arch} {extra:?}: expected `{expected}`:\n{}",
            text(&out)
        );
        assert_eq!(job.path_file(), "");
    }
    assert!(
        rel.server.requests().is_empty(),
        "no case downloaded anything"
    );
}

#[test]
fn install_defaults_to_the_latest_committed_release_and_accepts_a_v_prefix() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    std::fs::write(rel.action().join("checksums/LATEST"), "9.8.7\n").unwrap();
    let job = Job::new();
    let out = install(&rel, &job, "macOS", "X64", &[("INFRACHECK_VERSION", "")]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "macOS",
        "X64",
        &[("INFRACHECK_VERSION", "v9.8.7")],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("target").as_deref(), Some("x86_64-apple-darwin"));
}

#[test]
fn install_downloads_from_the_action_repository_over_https_only() {
    // Without the test override the URL is the action's GitHub release, fetched with
    // `--proto =https`; the download is pointed at a closed loopback port through a proxy
    // variable so nothing leaves the machine, and the error names the URL.
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    // Held (bound, not listening) until the test ends: no parallel test can take the port.
    let closed = closed_port();
    let proxy = format!("http://{}", closed.addr());
    let job = Job::new();
    let mut cmd = sanitised_command("bash");
    cmd.arg(rel.action().join("scripts/action/install.sh"))
        .env("HOME", job.dir.path())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTION_PATH", rel.action())
        .env("INFRACHECK_VERSION", "9.8.7")
        .env("INFRACHECK_REPOSITORY", "acme/infracheck")
        .env("HTTPS_PROXY", &proxy)
        .env("https_proxy", &proxy);
    job.env(&mut cmd);
    let out = run_cmd(&mut cmd, "install.sh");
    assert!(!out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("download failed: https://github.com/acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"),
        "{}",
        text(&out)
    );
    let script = read("scripts/action/install.sh");
    assert!(script.contains("--proto '=https' --tlsv1.2"));
    assert!(script.contains("-fsSL --retry 5"));
}

#[test]
fn install_at_a_release_tag_installs_exactly_that_release() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    std::fs::write(rel.action().join("checksums/LATEST"), "9.8.7\n").unwrap();
    // A tag made by the release workflow carries its own checksums.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", ""),
            ("INFRACHECK_ACTION_REF", "v9.8.7"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));

    // A simulated tag checkout of the old flow: the tag v9.8.8 was made before its checksums
    // were committed, so the checkout still declares 9.8.7. Refused, and nothing is fetched.
    let before = rel.server.requests().len();
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", ""),
            ("INFRACHECK_ACTION_REF", "v9.8.8"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the action ref v9.8.8 does not carry its own release's checksums"),
        "{}",
        text(&out)
    );
    assert_eq!(rel.server.requests().len(), before, "nothing is downloaded");
    assert_eq!(job.output("version"), None);

    // An explicit version that differs from the pinned tag is refused too.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", "9.8.7"),
            ("INFRACHECK_ACTION_REF", "v9.9.0"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("the action is pinned to v9.9.0 but infracheck v9.8.7 was asked for"),
        "{}",
        text(&out)
    );
    // A branch, a major tag or a SHA is not a pin: the committed LATEST decides.
    for reference in ["main", "v9", "0123456789abcdef0123456789abcdef01234567"] {
        let job = Job::new();
        let out = install(
            &rel,
            &job,
            "Linux",
            "X64",
            &[
                ("INFRACHECK_VERSION", ""),
                ("INFRACHECK_ACTION_REF", reference),
            ],
        );
        assert!(out.status.success(), "{reference}: {}", text(&out));
        assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    }
}

#[test]
fn install_resolves_latest_and_downloads_from_base_url() {
    let bins = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(bins.path(), "9.8.7"));
    let site = tempfile::tempdir().unwrap();
    let server = github_layout(&rel, site.path());
    let via_base_url = |version: &str, job: &Job| {
        install(
            &rel,
            job,
            "Linux",
            "X64",
            &[
                ("INFRACHECK_VERSION", version),
                ("INFRACHECK_RELEASE_BASE_URL", ""),
                ("INFRACHECK_BASE_URL", &server.base()),
                ("INFRACHECK_REPOSITORY", "acme/infracheck"),
            ],
        )
    };
    // An exact version: GitHub's download path under the base URL, verified against the
    // committed checksums.
    let job = Job::new();
    let out = via_base_url("9.8.7", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        server.requests().contains(
            &"/acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz"
                .to_owned()
        ),
        "{:?}",
        server.requests()
    );

    // `latest` follows /releases/latest to the newest tag; this ref has committed checksums
    // for it, so they are used (the release's SHA256SUMS is not even fetched).
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("version").as_deref(), Some("9.8.7"));
    assert!(text(&out).contains("version latest is infracheck v9.8.7"));
    assert!(!server.requests().iter().any(|r| r.ends_with("/SHA256SUMS")));

    // A release newer than this ref's checksums: verified against the release's SHA256SUMS,
    // with a notice saying so; a tampered asset is still refused.
    std::fs::remove_file(rel.checksums()).unwrap();
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("verifying against the release's own SHA256SUMS"),
        "{}",
        text(&out)
    );
    let asset = site.path().join(
        "acme/infracheck/releases/download/v9.8.7/infracheck-v9.8.7-x86_64-unknown-linux-musl.tar.gz",
    );
    std::fs::write(&asset, b"tampered").unwrap();
    let job = Job::new();
    let out = via_base_url("latest", &job);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("checksum mismatch") && text(&out).contains("the release's SHA256SUMS"),
        "{}",
        text(&out)
    );

    // Plain http off loopback is refused before anything is fetched.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", "latest"),
            ("INFRACHECK_RELEASE_BASE_URL", ""),
            ("INFRACHECK_BASE_URL", "http://192.0.2.1"),
            ("INFRACHECK_REPOSITORY", "acme/infracheck"),
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the base-url input must be https://, file:// or http on loopback"),
        "{}",
        text(&out)
    );
}

/// The action's checkout as `version: source` sees it: a manifest, a lock file and sources.
fn source_checkout(rel: &FakeRelease, version: &str) {
    let action = rel.action();
    std::fs::write(
        action.join("Cargo.toml"),
        format!("[package]\nname = \"infracheck\"\nversion = \"{version}\"\n"),
    )
    .unwrap();
    std::fs::write(action.join("Cargo.lock"), "# the lock file\nversion = 4\n").unwrap();
    std::fs::create_dir_all(action.join("src")).unwrap();
    std::fs::write(action.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::create_dir_all(action.join("docs/ci")).unwrap();
    std::fs::write(action.join("docs/ci/gitlab-ci.yml"), "stages: [verify]\n").unwrap();
}

/// A stand-in `cargo` in `dir`: appends its arguments (one invocation per line) to
/// `$FAKE_CARGO_LOG` and "builds" by copying `$FAKE_BUILT` to `<--target-dir>/release/`;
/// `FAKE_CARGO_EXIT` makes it fail instead.
fn fake_cargo(dir: &Path) {
    let p = dir.join("cargo");
    std::fs::write(
        &p,
        "#!/bin/sh\nprintf '%s\\n' \"$*\" >>\"$FAKE_CARGO_LOG\"\n\
         if [ -n \"${FAKE_CARGO_EXIT:-}\" ]; then echo 'error: could not compile' >&2; exit \"$FAKE_CARGO_EXIT\"; fi\n\
         target_dir=\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --target-dir ]; then target_dir=$2; shift; fi\n  shift\ndone\n\
         mkdir -p \"$target_dir/release\" && cp \"$FAKE_BUILT\" \"$target_dir/release/infracheck\"\n",
    )
    .unwrap();
    make_executable(&p);
}

/// install.sh with `version: source` (or `--source-key` when `args` says so), the fake cargo
/// first on PATH unless `with_cargo` is false.
fn install_source(
    rel: &FakeRelease,
    job: &Job,
    tools: &Path,
    args: &[&str],
    with_cargo: bool,
    extra: &[(&str, &str)],
) -> Output {
    let mut cmd = sanitised_command("bash");
    cmd.arg(rel.action().join("scripts/action/install.sh"))
        .args(args)
        .env("HOME", job.dir.path())
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTION_PATH", rel.action())
        .env("INFRACHECK_VERSION", "source")
        .env("INFRACHECK_ACTION_REF", "my-branch")
        .env("FAKE_CARGO_LOG", tools.join("cargo.log"))
        .env("FAKE_BUILT", tools.join("fake-infracheck"));
    // Only the system's tools: no real cargo.
    let path = if with_cargo {
        format!("{}:/usr/bin:/bin", tools.display())
    } else {
        "/usr/bin:/bin".to_owned()
    };
    cmd.env("PATH", path);
    job.env(&mut cmd);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd, "install.sh")
}

fn cargo_calls(tools: &Path) -> Vec<String> {
    std::fs::read_to_string(tools.join("cargo.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn install_builds_from_the_action_checkout_with_version_source() {
    let tools = tempfile::tempdir().unwrap();
    fake_binary(tools.path(), "9.9.0");
    fake_cargo(tools.path());
    let rel = FakeRelease::new("9.8.7", &tools.path().join("fake-infracheck"));
    source_checkout(&rel, "9.9.0");
    let job = Job::new();
    let dir = job.temp().join("infracheck-source");

    // The cache entry the action restores and saves: keyed on the runner, Cargo.lock and the
    // sources; the restore key drops the sources so a new commit reuses built dependencies.
    let out = install_source(&rel, &job, tools.path(), &["--source-key"], true, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(job.output("dir").as_deref(), Some(dir.to_str().unwrap()));
    let key = job.output("key").unwrap();
    let restore = job.output("restore-key").unwrap();
    let lock_sha = {
        use sha2::Digest;
        let lock = std::fs::read(rel.action().join("Cargo.lock")).unwrap();
        format!("{:x}", sha2::Sha256::digest(lock))
    };
    assert_eq!(restore, format!("infracheck-source-Linux-X64-{lock_sha}-"));
    let source_sha = key.strip_prefix(&restore).unwrap();
    assert!(
        source_sha.len() == 64 && source_sha.chars().all(|c| c.is_ascii_hexdigit()),
        "{key}"
    );
    assert!(
        cargo_calls(tools.path()).is_empty(),
        "the key builds nothing"
    );

    // The build: cargo on the action's own checkout, locked, into the cached directory.
    let out = install_source(&rel, &job, tools.path(), &[], true, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        cargo_calls(tools.path()),
        vec![format!(
            "build --release --locked --manifest-path {} --target-dir {}",
            rel.action().join("Cargo.toml").display(),
            dir.join("target").display()
        )]
    );
    let bin = dir.join("bin/infracheck");
    assert!(bin.is_file());
    assert_eq!(job.output("version").as_deref(), Some("9.9.0"));
    assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
    assert_eq!(job.output("path").as_deref(), Some(bin.to_str().unwrap()));
    assert_eq!(job.output("bin").as_deref(), Some(bin.to_str().unwrap()));
    assert_eq!(job.path_file(), format!("{}\n", dir.join("bin").display()));
    assert!(
        text(&out).contains("infracheck 9.9.0 (built from source)"),
        "{}",
        text(&out)
    );
    assert!(rel.server.requests().is_empty(), "no release is downloaded");

    // The same sources again (the directory as actions/cache restores it): no build.
    let out = install_source(&rel, &job, tools.path(), &[], true, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cargo_calls(tools.path()).len(), 1, "{}", text(&out));
    assert_eq!(job.output("cache-hit").as_deref(), Some("true"));

    // A changed source file: a new key, and a build.
    std::fs::write(rel.action().join("src/main.rs"), "fn main() { }\n").unwrap();
    let out = install_source(&rel, &job, tools.path(), &["--source-key"], true, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let new_key = job.output("key").unwrap();
    assert!(new_key.starts_with(&restore) && new_key != key, "{new_key}");
    let out = install_source(&rel, &job, tools.path(), &[], true, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cargo_calls(tools.path()).len(), 2);
    assert_eq!(job.output("cache-hit").as_deref(), Some("false"));
}

#[test]
fn install_from_source_fails_in_one_line_without_cargo_or_a_build() {
    let tools = tempfile::tempdir().unwrap();
    fake_binary(tools.path(), "9.9.0");
    fake_cargo(tools.path());
    let rel = FakeRelease::new("9.8.7", &tools.path().join("fake-infracheck"));
    source_checkout(&rel, "9.9.0");
    let one_error = |out: &Output, expected: &str| {
        assert!(!out.status.success(), "{}", text(out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let errors: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("::error"))
            .collect();
        assert_eq!(errors.len(), 1, "{}", text(out));
        assert!(
            errors[0].contains(expected),
            "expected `{expected}`:\n{}",
            text(out)
        );
    };
    let job = Job::new();
    let out = install_source(&rel, &job, tools.path(), &[], false, &[]);
    one_error(
        &out,
        "version: source builds infracheck with cargo, which is not on PATH",
    );
    assert_eq!(job.path_file(), "");

    let job = Job::new();
    let out = install_source(
        &rel,
        &job,
        tools.path(),
        &[],
        true,
        &[("FAKE_CARGO_EXIT", "101")],
    );
    one_error(&out, "cargo build --release --locked of");
    assert_eq!(job.path_file(), "");
    assert_eq!(job.output_file(), "");

    // A checkout without Cargo.lock cannot be built reproducibly.
    std::fs::remove_file(rel.action().join("Cargo.lock")).unwrap();
    let job = Job::new();
    let out = install_source(&rel, &job, tools.path(), &["--source-key"], true, &[]);
    one_error(&out, "version: source needs the action's own checkout");
}

#[test]
fn install_at_a_ref_without_a_release_names_both_ways_out_in_one_line() {
    let tools = tempfile::tempdir().unwrap();
    let rel = FakeRelease::new("9.8.7", &fake_binary(tools.path(), "9.8.7"));
    source_checkout(&rel, "3.4.5");
    // No checksums/LATEST: a branch of a repository that never released.
    let job = Job::new();
    let out = install(
        &rel,
        &job,
        "Linux",
        "X64",
        &[
            ("INFRACHECK_VERSION", ""),
            ("INFRACHECK_ACTION_REF", "my-branch"),
        ],
    );
    assert!(!out.status.success(), "{}", text(&out));
    let message = "this action ref (my-branch) has no release (no checksums/LATEST): use a \
                   released tag such as @v3, or set `version: source` to build infracheck from \
                   this ref";
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("::error title=infracheck install::{message}\n")
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("infracheck install: {message}\n")
    );
    assert_eq!(job.path_file(), "");
    assert!(rel.server.requests().is_empty());
}
