//! Report paths that name one of the process's open descriptors: `-`, `/dev/stdout`,
//! `/dev/stderr`, `/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`, `/proc/thread-self/fd/N` and
//! `/proc/<our pid>/fd/N`, directly or through a chain of symlinks. Such a report is written
//! through the descriptor the process already holds (`echo earlier >out.txt; infracheck …
//! --json /dev/stdout >>out.txt` keeps "earlier" and the text report: the file is never
//! replaced), and two reports aimed at one descriptor are refused (two documents on one
//! stream are one unreadable document).

use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// How many symlinks are followed looking for a descriptor name (the kernel's own limit).
const MAX_HOPS: usize = 40;

/// `O_APPEND` in `/proc/self/fdinfo/N`'s `flags:` (octal, as Linux prints it).
const O_APPEND: u32 = 0o2000;

/// The descriptor `path` names, directly or through symlinks: `Some(1)` for `-` and
/// `/dev/stdout`, `Some(2)` for `/dev/stderr`, `Some(n)` for `/dev/fd/n` and
/// `/proc/self/fd/n`; `None` for any other path.
pub fn descriptor(path: &Path) -> Option<u32> {
    if path.as_os_str() == "-" {
        return Some(1);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut p = super::normalize(&cwd.join(path));
    for _ in 0..MAX_HOPS {
        if let Some(fd) = named_descriptor(&p) {
            return Some(fd);
        }
        let target = std::fs::read_link(&p).ok()?;
        let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
        p = super::normalize(&base.join(target));
    }
    None
}

/// The descriptor an absolute, normalised path names by itself (no symlink followed).
fn named_descriptor(p: &Path) -> Option<u32> {
    let parts: Vec<String> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    let number = |s: &str| s.parse::<u32>().ok();
    match parts.as_slice() {
        ["dev", "stdin"] => Some(0),
        ["dev", "stdout"] => Some(1),
        ["dev", "stderr"] => Some(2),
        ["dev", "fd", n] => number(n),
        ["proc", "self" | "thread-self", "fd", n] => number(n),
        ["proc", pid, "fd", n] if number(pid) == Some(std::process::id()) => number(n),
        _ => None,
    }
}

/// How a descriptor is called in messages.
pub fn describe(fd: u32) -> String {
    match fd {
        0 => "stdin".to_owned(),
        1 => "stdout".to_owned(),
        2 => "stderr".to_owned(),
        n => format!("descriptor {n}"),
    }
}

/// Write `bytes` through descriptor `fd` (other than stdout and stderr, which the caller
/// writes through its own handles). Safe Rust cannot adopt a raw descriptor, so the
/// descriptor is reopened through `/proc/self/fd/N`, which reaches the same pipe, device or
/// file, and written where a write through the descriptor itself would land: at the end when
/// it was opened for appending (`3>>file`), else at its current offset.
pub fn write_descriptor(fd: u32, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    let link = PathBuf::from(format!("/proc/self/fd/{fd}"));
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .map_err(|e| std::io::Error::new(e.kind(), format!("descriptor {fd} is not open ({e})")))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .map(str::to_owned)
    };
    let append = field("flags:")
        .and_then(|f| u32::from_str_radix(&f, 8).ok())
        .is_some_and(|f| f & O_APPEND != 0);
    let regular = std::fs::metadata(&link)?.is_file();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .append(append)
        .open(&link)?;
    if regular && !append {
        let pos = field("pos:")
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0);
        f.seek(SeekFrom::Start(pos))?;
    }
    f.write_all(bytes)?;
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_names() {
        assert_eq!(descriptor(Path::new("-")), Some(1));
        assert_eq!(descriptor(Path::new("/dev/stdout")), Some(1));
        assert_eq!(descriptor(Path::new("/dev/stderr")), Some(2));
        assert_eq!(descriptor(Path::new("/dev/fd/7")), Some(7));
        assert_eq!(descriptor(Path::new("/proc/self/fd/4")), Some(4));
        assert_eq!(descriptor(Path::new("/proc/./self/fd/../fd/5")), Some(5));
        let own = format!("/proc/{}/fd/3", std::process::id());
        assert_eq!(descriptor(Path::new(&own)), Some(3));
        assert_eq!(descriptor(Path::new("/proc/1/fd/3")), None);
        assert_eq!(descriptor(Path::new("/dev/null")), None);
        assert_eq!(descriptor(Path::new("report.json")), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_chain_to_stdout_is_stdout() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::os::unix::fs::symlink("/dev/stdout", &a).unwrap();
        std::os::unix::fs::symlink("a", &b).unwrap();
        assert_eq!(descriptor(&b), Some(1));
        let loop_ = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &loop_).unwrap();
        assert_eq!(descriptor(&loop_), None);
    }
}
