//! `infracheck init`: a starter config (and its JSON Schema for editors) plus the pipeline
//! snippet of the chosen CI, so a newcomer goes from nothing to a green workflow.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The starter `infracheck.yaml`: one live check, one commented example of each common kind.
pub const STARTER: &str = include_str!("starter.yaml");

/// The CI systems `init --ci` prints a snippet for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ci {
    /// A GitHub Actions workflow using the infracheck Action.
    Github,
    /// A `.gitlab-ci.yml` job with the JUnit and Code Quality reports.
    Gitlab,
    /// A Jenkinsfile stage publishing the JUnit report.
    Jenkins,
}

impl Ci {
    /// The pipeline snippet: the files shipped in docs/ci/, tested there.
    pub fn snippet(self) -> &'static str {
        match self {
            Ci::Github => include_str!("../../docs/ci/github-workflow.yml"),
            Ci::Gitlab => include_str!("../../docs/ci/gitlab-ci.yml"),
            Ci::Jenkins => include_str!("../../docs/ci/Jenkinsfile"),
        }
    }

    /// Where the snippet usually lives.
    pub fn file(self) -> &'static str {
        match self {
            Ci::Github => ".github/workflows/infracheck.yml",
            Ci::Gitlab => ".gitlab-ci.yml",
            Ci::Jenkins => "Jenkinsfile",
        }
    }
}

/// Why `init` did not write the starter.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// Something is already at the path: never overwritten.
    #[error("{0} already exists: not overwriting it (choose another path with --config)")]
    Exists(String),
    /// The file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Write `config` (exclusive create: an existing file is never replaced) and, beside it,
/// `infracheck.schema.json` when absent. Returns the paths written.
pub fn write_starter(config: &Path, schema: &str) -> Result<Vec<PathBuf>, InitError> {
    let mut written = Vec::new();
    create_new(config, STARTER).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => InitError::Exists(config.display().to_string()),
        _ => InitError::Write {
            path: config.display().to_string(),
            source: e,
        },
    })?;
    written.push(config.to_path_buf());
    let schema_path = config
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join("infracheck.schema.json");
    match create_new(&schema_path, schema) {
        Ok(()) => written.push(schema_path),
        // An existing schema (an earlier init, or the user's own) is left alone.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return Err(InitError::Write {
                path: schema_path.display().to_string(),
                source: e,
            });
        }
    }
    Ok(written)
}

fn create_new(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_is_a_valid_config() {
        let plan =
            crate::config::load_str("infracheck.yaml", STARTER, None, &|_: &str| None::<String>);
        assert!(plan.is_ok(), "{:?}", plan.err().map(|e| e.to_string()));
        assert!(STARTER.starts_with("# yaml-language-server: $schema=./infracheck.schema.json\n"));
    }

    /// The commented `include:` and `targets:` examples, uncommented, are valid too.
    #[test]
    fn the_commented_include_and_targets_examples_are_valid() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("teams")).unwrap();
        std::fs::write(
            dir.path().join("teams/web.yaml"),
            "environments:\n  prod:\n    tcp_checks:\n      - {name: web, host: web.example.com, port: 443}\n",
        )
        .unwrap();
        let mut text = String::new();
        let mut in_targets = false;
        for line in STARTER.lines() {
            let uncomment = line == "# include: [teams/*.yaml]"
                || line.starts_with("      # - name: api {{target}}")
                || (in_targets && line.starts_with("      #   "));
            in_targets = uncomment && line.starts_with("      #");
            text.push_str(&if uncomment {
                line.replacen("# ", "", 1)
            } else {
                line.to_owned()
            });
            text.push('\n');
        }
        assert!(text.contains("\ninclude: [teams/*.yaml]\n"), "{text}");
        let config = dir.path().join("infracheck.yaml");
        let plans =
            crate::config::load_str(&config.display().to_string(), &text, None, &|_: &str| {
                None::<String>
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = plans[0].checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "homepage",
                "api eu.api.example.com",
                "api us.api.example.com",
                "web"
            ]
        );
    }

    #[test]
    fn never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("infracheck.yaml");
        std::fs::write(&p, "mine").unwrap();
        let e = write_starter(&p, "{}").unwrap_err();
        assert!(matches!(e, InitError::Exists(_)), "{e}");
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "mine");
    }
}
