//! The JSON document (`--output json`, `--json PATH`): writes [`Document`], the one type that
//! `merge` and `--baseline` read back.

use crate::model::{Document, Summary};

pub use crate::model::SCHEMA_VERSION;

/// Render the JSON document (pretty-printed, trailing newline).
pub fn render(summary: &Summary) -> Result<Vec<u8>, serde_json::Error> {
    let doc = Document::of(summary, super::verdict(summary));
    super::pretty_json(&doc)
}

/// The JSON document as a [`Reporter`](super::Reporter).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl super::Reporter for Json {
    fn describe(&self) -> &'static str {
        "JSON report"
    }

    fn render(&self, cx: &super::Context<'_>) -> Result<Vec<u8>, super::RenderError> {
        Ok(render(cx.summary)?)
    }

    /// The same bytes as [`render`], serialised straight to `w` (a run of 10,000 checks is a
    /// document of several megabytes).
    fn render_to(
        &self,
        cx: &super::Context<'_>,
        w: &mut dyn std::io::Write,
    ) -> Result<(), super::Streamed> {
        write(cx.summary, w)
    }
}

/// Write the JSON document of [`render`] to `w` as it is serialised.
pub fn write(summary: &Summary, w: &mut dyn std::io::Write) -> Result<(), super::Streamed> {
    let doc = Document::of(summary, super::verdict(summary));
    crate::text::pretty_json_to(&doc, w).map_err(|e| {
        if e.is_io() {
            super::Streamed::Write(e.into())
        } else {
            super::Streamed::Render(e.into())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot() {
        let bytes = render(&crate::report::fixture::summary()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // The version changes with every release: redacted.
        insta::assert_snapshot!(text.replace(env!("CARGO_PKG_VERSION"), "[version]"));
    }

    #[test]
    fn the_streamed_document_is_the_rendered_one() {
        let mut s = crate::report::fixture::summary();
        s.results[0].message = "x ##[error]y ###[z".into();
        let mut streamed = Vec::new();
        write(&s, &mut streamed).unwrap();
        assert_eq!(streamed, render(&s).unwrap());
    }

    #[test]
    fn legacy_commands_are_escaped_losslessly() {
        let mut s = crate::report::fixture::summary();
        s.results[0].message = "x ##[error]y ###[z".into();
        let bytes = render(&s).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("##["), "{text}");
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["results"][0]["message"], "x ##[error]y ###[z");
    }

    #[test]
    fn a_written_document_reads_back() {
        let s = crate::report::fixture::summary();
        let bytes = render(&s).unwrap();
        let kinds: Vec<&'static str> = s.results.iter().map(|r| r.kind).collect();
        let reasons = crate::checks::reasons();
        let seed = |kinds| crate::model::DocumentSeed {
            kinds,
            reasons: &reasons,
        };
        let back = Document::from_json(&bytes, seed(&kinds)).unwrap();
        assert_eq!(back.environment, s.environment);
        assert_eq!(back.results.len(), s.results.len());
        assert_eq!(back.results[3].reason, s.results[3].reason);
        assert_eq!(back.results[0].failed_attempts.len(), 1);
        let err = Document::from_json(&bytes, seed(&["tcp"])).unwrap_err();
        assert!(err.contains("unknown kind `"), "{err}");
    }
}
