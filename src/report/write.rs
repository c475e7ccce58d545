//! Writing a rendered (or rendering) report to its file or stream: replaced atomically, through
//! one of the process's descriptors, or appended to.

use std::io::Write;
use std::path::Path;

use super::{OutputError, Streamed, WriteError, stream};

/// The buffer between a streaming reporter and its file or stream: large writes, however
/// small the pieces a serialiser writes.
const STREAM_BUFFER: usize = 64 * 1024;

/// Write a report file without ever destroying what is at `path`:
///
/// - nothing or a regular file there: missing parent directories are created, then the bytes
///   go to a temporary file created exclusively under an unpredictable name in the same
///   directory and renamed over `path`, so a reader never sees half a report and a symlink
///   planted at a guessable name is never followed;
/// - a symlink to a regular file: the file it points to is replaced the same way (the link
///   stays);
/// - one of the process's descriptors (`-`, `/dev/stdout`, `/dev/stderr`, `/proc/self/fd/N`,
///   or a symlink to one, see [`stream`]): written through that descriptor, whatever it
///   leads to (a log file opened with `>>` keeps what it holds);
/// - anything else (a FIFO, a character device such as `/dev/null` or `/dev/full`):
///   opened and written in place, never replaced.
pub fn write_report(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    write_report_with(path, &mut |w| w.write_all(bytes).map_err(Streamed::Write)).map_err(|e| {
        match e {
            OutputError::Write(e) => e,
            // Writing bytes renders nothing.
            OutputError::Render(e) => WriteError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other(e),
            },
        }
    })
}

/// What writes a report to a writer: its rendered bytes, or a reporter rendering as it goes.
pub(super) type Body<'b> = &'b mut dyn FnMut(&mut dyn Write) -> Result<(), Streamed>;

/// [`write_report`] of what `body` writes.
pub(super) fn write_report_with(path: &Path, body: Body<'_>) -> Result<(), OutputError> {
    let write_error = |source| WriteError::Write {
        path: path.to_path_buf(),
        source,
    };
    let failed = |e: Streamed| match e {
        Streamed::Render(e) => OutputError::Render(e),
        Streamed::Write(source) => OutputError::Write(write_error(source)),
    };
    if let Some(fd) = stream::descriptor(path) {
        let written = match fd {
            1 => write_stream_with(&mut std::io::stdout().lock(), body),
            2 => write_stream_with(&mut std::io::stderr().lock(), body),
            n => {
                let mut bytes = Vec::new();
                body(&mut bytes)
                    .and_then(|()| stream::write_descriptor(n, &bytes).map_err(Streamed::Write))
            }
        };
        return written.map_err(failed);
    }
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_parents(path)?;
            write_atomic(path, path, body)
        }
        Err(e) => Err(write_error(e).into()),
        Ok(m) if m.is_file() => write_atomic(path, path, body),
        Ok(m) if m.is_dir() => Err(WriteError::Directory {
            path: path.to_path_buf(),
        }
        .into()),
        Ok(_) => match std::fs::metadata(path) {
            Ok(target) if target.is_dir() => Err(WriteError::Directory {
                path: path.to_path_buf(),
            }
            .into()),
            Ok(target) if target.is_file() => {
                let real = std::fs::canonicalize(path).map_err(write_error)?;
                write_atomic(path, &real, body)
            }
            // A device, a FIFO, a socket, or a symlink to one (or a dangling symlink, which
            // the shell's `>` would follow too).
            _ => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)
                    .map_err(write_error)?;
                let mut w = std::io::BufWriter::with_capacity(STREAM_BUFFER, f);
                body(&mut w)
                    .and_then(|()| w.flush().map_err(Streamed::Write))
                    .map_err(failed)
            }
        },
    }
}

/// What `body` writes, to a standard stream, flushed; a reader that went away (a closed pipe)
/// is not an error.
pub(super) fn write_stream_with(w: &mut dyn Write, body: Body<'_>) -> Result<(), Streamed> {
    let mut buffered = std::io::BufWriter::with_capacity(STREAM_BUFFER, w);
    let written = body(&mut buffered).and_then(|()| buffered.flush().map_err(Streamed::Write));
    match written {
        Err(Streamed::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Create the missing parent directories of `path`, one by one so that an error names the
/// directory that could not be created.
fn create_parents(path: &Path) -> Result<(), WriteError> {
    let mut missing = Vec::new();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d);
        dir = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && d.is_dir() => {}
            Err(source) => {
                return Err(WriteError::CreateDir {
                    dir: d.to_path_buf(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Write `bytes` to a fresh temporary file next to `real` and rename it over `real`; errors
/// name `shown` (the path as given).
fn write_atomic(shown: &Path, real: &Path, body: Body<'_>) -> Result<(), OutputError> {
    let write_error = |source| WriteError::Write {
        path: shown.to_path_buf(),
        source,
    };
    let dir = match real.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = real
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "report".to_owned());
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A replaced report keeps its mode; a new one gets the usual 0666 minus the umask
        // (a temporary file alone would be 0600).
        let mode = std::fs::metadata(real)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o666);
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    // Exclusive create under a random name: nothing planted in the directory is followed.
    let mut tmp = builder.tempfile_in(dir).map_err(write_error)?;
    {
        let mut w = std::io::BufWriter::with_capacity(STREAM_BUFFER, &mut tmp);
        body(&mut w)
            .and_then(|()| w.flush().map_err(Streamed::Write))
            .map_err(|e| match e {
                Streamed::Render(e) => OutputError::Render(e),
                Streamed::Write(source) => write_error(source).into(),
            })?;
    }
    tmp.as_file().sync_all().map_err(write_error)?;
    // On failure the temporary file is removed when `PersistError` is dropped.
    tmp.persist(real).map_err(|e| WriteError::Replace {
        path: shown.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Append `bytes` to `path` in one write (GitHub's step summary and output files belong to the
/// whole step: earlier content must survive). What we add starts on a fresh line: when the
/// earlier content does not end with a newline, one is written first (else our first line
/// would be glued to the previous step's last one).
pub fn append(path: &Path, bytes: &[u8]) -> Result<(), WriteError> {
    use std::io::{Read, Seek, SeekFrom};
    let write_error = |source| WriteError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)
        .map_err(write_error)?;
    let mut fresh_line = true;
    if f.metadata().map_err(write_error)?.len() > 0 && f.seek(SeekFrom::End(-1)).is_ok() {
        let mut last = [0u8; 1];
        if f.read_exact(&mut last).is_ok() {
            fresh_line = last[0] == b'\n';
        }
    }
    let mut all = Vec::with_capacity(bytes.len() + 1);
    if !fresh_line {
        all.push(b'\n');
    }
    all.extend_from_slice(bytes);
    f.write_all(&all)
        .and_then(|()| f.flush())
        .map_err(write_error)
}
