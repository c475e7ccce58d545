//! The file a YAML node was read from: its name as the user would open it (the main config as
//! given on the command line, an included file joined onto the directory of the file that
//! includes it) and the one rule for paths a config names ([`Source::resolve`]).

use std::path::Path;
use std::sync::Arc;

/// The file a node comes from; cheap to clone (one shared allocation per file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source(Arc<str>);

impl Source {
    /// The source called `name` (a path as the user would open it).
    pub fn new(name: &str) -> Self {
        Source(Arc::from(name))
    }

    /// The file's name, shared (for a check's `Location`).
    pub fn name(&self) -> &Arc<str> {
        &self.0
    }

    /// The directory of the file (empty for a file in the working directory).
    pub fn dir(&self) -> &Path {
        Path::new(&*self.0).parent().unwrap_or(Path::new(""))
    }

    /// A path written in this file, resolved against the file's directory: absolute paths are
    /// kept, relative ones are joined onto [`Source::dir`]. For a config in the working
    /// directory the path is unchanged. Every key that names a file or a directory (`include`,
    /// `ca_file`, a command's `cwd`, …) goes through here, through
    /// [`Ctx::config_path`](super::ctx::Ctx::config_path).
    pub fn resolve(&self, written: &str) -> String {
        let p = Path::new(written);
        if p.is_absolute() || self.dir().as_os_str().is_empty() {
            return written.to_owned();
        }
        self.dir().join(p).to_string_lossy().into_owned()
    }
}

impl From<Arc<str>> for Source {
    fn from(name: Arc<str>) -> Self {
        Source(name)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_read_from_the_files_directory() {
        let s = Source::new("ops/staging/infracheck.yaml");
        assert_eq!(s.resolve("srv/ca.pem"), "ops/staging/srv/ca.pem");
        assert_eq!(s.resolve("../ca.pem"), "ops/staging/../ca.pem");
        assert_eq!(s.resolve("/etc/ca.pem"), "/etc/ca.pem");
        // A config in the working directory: paths stay as written.
        assert_eq!(
            Source::new("infracheck.yaml").resolve("srv/ca.pem"),
            "srv/ca.pem"
        );
        assert_eq!(Source::new("/abs/c.yaml").resolve("."), "/abs/.");
    }
}
