//! The one table of report formats. Each row says everything the rest of the program needs to
//! know about a format: its name (the `--output` value, the long name of its `--<name> PATH`
//! file flag and its `report_<name>` GitHub output), the help of both, whether it is a
//! document (on stdout, a document is all stdout holds; the text report is not one), whether
//! `--baseline` reads it (its file may be the baseline it rolls forward) and how to build its
//! reporter. The CLI's `--output` values and file flags (`crate::cli`), the checks that no two
//! reports share a file or a stream and the writer loop (`crate::app`) all read this table.

use super::{Reporter, codequality, html, json, junit, markdown, prometheus, sarif, tap, text};

/// What a reporter may be built with, besides the run it renders.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Colour in the text report.
    pub color: bool,
    /// The commit of the config, when the CI says which one it checked out (the HTML report).
    pub commit: Option<String>,
}

/// One report format (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// The `--output` value, the long name of the file flag and the `report_<name>` output.
    pub name: &'static str,
    /// The help of its `--output` value.
    pub about: &'static str,
    /// The help of its `--<name> PATH` flag; `None`: no file flag (the text report is
    /// stdout's alone).
    pub file_help: Option<&'static str>,
    /// A document: written to stdout (`--output NAME`, `--NAME -`) it is all stdout holds,
    /// and two documents on one stream are refused.
    pub document: bool,
    /// `--baseline` reads this format: its file may name the baseline, which it rolls
    /// forward (the baseline is read before the run and replaced after it).
    pub rolls_baseline: bool,
    /// Builds its reporter.
    pub reporter: fn(&Settings) -> Box<dyn Reporter>,
}

impl PartialEq for Format {
    fn eq(&self, other: &Format) -> bool {
        self.name == other.name
    }
}

impl Eq for Format {}

impl Format {
    /// The format of this name, if there is one.
    pub fn named(name: &str) -> Option<Format> {
        FORMATS.iter().find(|f| f.name == name).copied()
    }

    /// The text report, stdout's report when `--output` is not given.
    pub fn text() -> Format {
        FORMATS[0]
    }

    /// `--NAME`: its file flag as messages name it.
    pub fn flag(&self) -> String {
        format!("--{}", self.name)
    }
}

/// Every report format: the text report first (stdout's default), then the file formats in
/// the order they are written.
pub const FORMATS: [Format; 9] = [
    Format {
        name: "text",
        about: "Human-readable lines",
        file_help: None,
        document: false,
        rolls_baseline: false,
        reporter: |s| {
            Box::new(text::Text {
                style: text::Style { color: s.color },
            })
        },
    },
    Format {
        name: "json",
        about: "The JSON document",
        file_help: Some("Write the JSON document to this file"),
        document: true,
        rolls_baseline: true,
        reporter: |_| Box::new(json::Json),
    },
    Format {
        name: "junit",
        about: "JUnit XML",
        file_help: Some("Write a JUnit XML report to this file"),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(junit::Junit),
    },
    Format {
        name: "sarif",
        about: "SARIF 2.1.0",
        file_help: Some("Write a SARIF 2.1.0 report (GitHub code scanning) to this file"),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(sarif::Sarif),
    },
    Format {
        name: "markdown",
        about: "The markdown report",
        file_help: Some("Write the markdown step-summary report to this file"),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(markdown::Markdown),
    },
    Format {
        name: "codequality",
        about: "GitLab Code Quality",
        file_help: Some("Write a GitLab Code Quality report to this file"),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(codequality::CodeQuality),
    },
    Format {
        name: "prometheus",
        about: "Prometheus text exposition format",
        file_help: Some(
            "Write Prometheus metrics (text exposition format, for node exporter's textfile collector) to this file",
        ),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(prometheus::Prometheus),
    },
    Format {
        name: "html",
        about: "The self-contained HTML report",
        file_help: Some(
            "Write a self-contained HTML report (no external resources; opens from disk) to this file",
        ),
        document: true,
        rolls_baseline: false,
        reporter: |s| {
            Box::new(html::Html {
                commit: s.commit.clone(),
            })
        },
    },
    Format {
        name: "tap",
        about: "TAP version 14",
        file_help: Some(
            "Write a TAP version 14 report (Test Anything Protocol, for `prove` and TAP consumers) to this file",
        ),
        document: true,
        rolls_baseline: false,
        reporter: |_| Box::new(tap::Tap),
    },
];

/// The formats that have a `--<name> PATH` file flag, in the order they are written.
pub fn file_formats() -> impl Iterator<Item = Format> {
    FORMATS.iter().copied().filter(|f| f.file_help.is_some())
}

/// The file formats in their documented order (`docs/cli.md`): the order the tests expect
/// them written in.
#[cfg(test)]
pub(crate) const FILE_FORMAT_ORDER: [&str; 8] = [
    "json",
    "junit",
    "sarif",
    "markdown",
    "codequality",
    "prometheus",
    "html",
    "tap",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_text_alone_is_no_document_and_no_file() {
        let mut names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), FORMATS.len());
        assert_eq!(Format::text().name, "text");
        for f in FORMATS {
            assert_eq!(f.document, f.name != "text", "{}", f.name);
            assert_eq!(f.file_help.is_some(), f.document, "{}", f.name);
            assert_eq!(Format::named(f.name), Some(f));
            assert_eq!(f.flag(), format!("--{}", f.name));
        }
        assert_eq!(Format::named("xml"), None);
    }

    #[test]
    fn the_file_formats_are_written_in_their_documented_order() {
        let order: Vec<&str> = file_formats().map(|f| f.name).collect();
        assert_eq!(order, FILE_FORMAT_ORDER);
    }

    #[test]
    fn only_the_json_document_rolls_the_baseline_forward() {
        let rolls: Vec<&str> = FORMATS
            .iter()
            .filter(|f| f.rolls_baseline)
            .map(|f| f.name)
            .collect();
        assert_eq!(rolls, ["json"]);
    }

    #[test]
    fn each_row_builds_its_own_reporter() {
        let settings = Settings::default();
        let described: Vec<&str> = FORMATS
            .iter()
            .map(|f| (f.reporter)(&settings).describe())
            .collect();
        let mut unique = described.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), FORMATS.len(), "{described:?}");
    }
}
