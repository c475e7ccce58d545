//! Records the commit infracheck is built from, for `--version`.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    // A build script talks to cargo through stdout.
    println!("cargo:rustc-env=INFRACHECK_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-env-changed=INFRACHECK_COMMIT");
    relative_relocations_packed();
}

/// On Linux with glibc 2.36 or later, the executable's relative relocations are packed
/// (`DT_RELR`): a position-independent executable otherwise carries a 24-byte record for every
/// pointer the loader fixes up at start (1.3 MB in this binary), pages the loader reads and that
/// stay resident for the whole run; packed they take 16 KB, and a 10,000-check run peaks 1.3–1.9 MB
/// lower (BENCHMARKS.md, "True numbers XI"). Such a binary needs glibc 2.36 to start (the
/// loader names the missing `GLIBC_ABI_DT_RELR` otherwise), so they are packed only when the
/// binary is built for the machine that builds it and that machine's glibc has them; the
/// release binaries (static, musl) are not affected.
fn relative_relocations_packed() {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "linux"
        || var("CARGO_CFG_TARGET_ENV") != "gnu"
        || var("HOST") != var("TARGET")
    {
        return;
    }
    // `glibc 2.36`
    let version = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    let at_least_2_36 = version
        .as_deref()
        .and_then(|v| v.trim().strip_prefix("glibc "))
        .and_then(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next()??))
        })
        .is_some_and(|v| v >= (2, 36));
    if at_least_2_36 {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
