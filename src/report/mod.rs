//! Reporters: the text report on stdout and the file formats. Every reporter reads a
//! [`Summary`](crate::result::Summary) and nothing else; the exit code never depends on which
//! formats were chosen.

pub mod json;
pub mod text;

use std::io::Write;
use std::path::Path;

/// Escape untrusted text for a one-line human report: control characters become visible
/// escapes (so a body cannot add lines or move the cursor) and the legacy `##[` workflow
/// command form is broken up.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    if out.contains("##[") {
        out = out.replace("##[", "#\u{2060}#[");
    }
    out
}

/// Write `bytes` to `path` atomically: a temp file in the same directory, then a rename, so a
/// reader never sees half a report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_neutralises_lines_and_commands() {
        let s = one_line("a\n::error::x\r##[warning]y\u{1b}[31m");
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'));
        assert!(!s.contains("##["));
    }
}
