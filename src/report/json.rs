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

/// Write the JSON document of [`render`] to `w` as it is serialised: the same bytes, the
/// results of a large run rendered on two threads ([`parts::write`]).
pub fn write(summary: &Summary, w: &mut dyn std::io::Write) -> Result<(), super::Streamed> {
    let doc = Document::of(summary, super::verdict(summary));
    let written = if doc.results.len() >= parts::PARALLEL_FROM {
        parts::write(&doc, w)
    } else {
        crate::text::pretty_json_to(&doc, w)
    };
    written.map_err(|e| {
        if e.is_io() {
            super::Streamed::Write(e.into())
        } else {
            super::Streamed::Render(e.into())
        }
    })
}

/// The JSON document with its results rendered in pieces on two threads: the calling thread
/// writes the head, the even pieces (straight to the writer) and the odd pieces, which a
/// second thread renders into buffers meanwhile, one piece ahead. The bytes are those of
/// [`crate::text::pretty_json_to`]: each result is serialised by [`Indented`], the pretty
/// printer started at the depth of an element of `results`, and the separators and the end
/// of the array are the ones the pretty printer writes. The model is rendered once, after
/// the run; a piece in flight is at most [`PIECE`] results (~85 KB for http checks).
mod parts {
    use std::borrow::Cow;
    use std::io::Write;
    use std::sync::mpsc;

    use crate::model::{CheckResult, Document};
    use crate::text::LegacyCommandEscaper;

    /// Results of one piece.
    pub(super) const PIECE: usize = 128;

    /// The second thread's buffers, and the capacity each starts with (a piece of http
    /// results is ~85 KB).
    const BUFFERS: usize = 2;
    const BUFFER: usize = 96 * 1024;

    /// From how many results the second thread is worth starting (a thread costs ~0.1 ms).
    pub(super) const PARALLEL_FROM: usize = 2 * PIECE;

    /// The depth of an element of `results`: inside the document and the array.
    const ELEMENT_DEPTH: usize = 2;

    /// What the pretty printer writes after `"results": [` when `results` is empty (the
    /// head is the document without results, cut before this).
    const EMPTY_END: &[u8] = b"]\n}\n";

    /// What closes a non-empty `results` and the document.
    const END: &[u8] = b"\n  ]\n}\n";

    /// The bytes serde_json gathers before the escaper scans them (as `pretty_json_to`).
    const GATHER: usize = 16 * 1024;

    pub(super) fn write(doc: &Document<'_>, w: &mut dyn Write) -> Result<(), serde_json::Error> {
        let mut empty = doc.clone();
        empty.results = Cow::Borrowed(&[]);
        let head = crate::text::pretty_json(&empty)?;
        let Some(head) = head.strip_suffix(EMPTY_END) else {
            // Not the layout this module knows: the one-thread path.
            return crate::text::pretty_json_to(doc, w);
        };
        w.write_all(head).map_err(serde_json::Error::io)?;
        let results: &[CheckResult] = &doc.results;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Result<Vec<u8>, serde_json::Error>>(1);
            // The second thread's buffers: two, allocated here and handed back and forth, so
            // that thread allocates next to nothing (its allocator arena stays small).
            let (back, buffers) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
            for _ in 0..BUFFERS {
                back.send(Vec::with_capacity(BUFFER)).ok();
            }
            let odd = std::thread::Builder::new()
                .name("infracheck-json".into())
                .spawn_scoped(scope, move || {
                    for (i, piece) in results.chunks(PIECE).enumerate().skip(1).step_by(2) {
                        // Either channel closed: the writing failed; stop.
                        let Ok(mut bytes) = buffers.recv() else {
                            break;
                        };
                        bytes.clear();
                        let rendered = render(piece, i == 0, &mut bytes).map(|()| bytes);
                        if tx.send(rendered).is_err() {
                            break;
                        }
                    }
                })
                .ok();
            for (i, piece) in results.chunks(PIECE).enumerate() {
                if i % 2 == 1
                    && odd.is_some()
                    && let Ok(rendered) = rx.recv()
                {
                    let bytes = rendered?;
                    w.write_all(&bytes).map_err(serde_json::Error::io)?;
                    back.try_send(bytes).ok();
                } else {
                    render(piece, i == 0, &mut *w)?;
                }
            }
            Ok::<(), serde_json::Error>(())
        })?;
        w.write_all(END).map_err(serde_json::Error::io)
    }

    /// The results of one piece as elements of `results` (each after its separator),
    /// escaped as `pretty_json_to` escapes the whole document: a piece starts at a separator
    /// and ends with `}`, so no `##[` spans two pieces.
    fn render(
        piece: &[CheckResult],
        first: bool,
        w: &mut dyn Write,
    ) -> Result<(), serde_json::Error> {
        use serde::Serialize as _;
        let mut esc = LegacyCommandEscaper::new(w);
        {
            let mut gathered = std::io::BufWriter::with_capacity(GATHER, &mut esc);
            for (j, r) in piece.iter().enumerate() {
                let sep: &[u8] = if first && j == 0 {
                    b"\n    "
                } else {
                    b",\n    "
                };
                gathered.write_all(sep).map_err(serde_json::Error::io)?;
                let mut ser = serde_json::Serializer::with_formatter(
                    &mut gathered,
                    Indented::at(ELEMENT_DEPTH),
                );
                r.serialize(&mut ser)?;
            }
            gathered.flush().map_err(serde_json::Error::io)?;
        }
        esc.finish().map(drop).map_err(serde_json::Error::io)
    }

    /// serde_json's `PrettyFormatter` (two spaces) started at a given depth.
    pub(super) struct Indented {
        depth: usize,
        has_value: bool,
    }

    impl Indented {
        pub(super) fn at(depth: usize) -> Self {
            Indented {
                depth,
                has_value: false,
            }
        }

        fn indent<W: ?Sized + Write>(&self, w: &mut W) -> std::io::Result<()> {
            for _ in 0..self.depth {
                w.write_all(b"  ")?;
            }
            Ok(())
        }

        fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
            self.depth = self.depth.saturating_add(1);
            self.has_value = false;
            w.write_all(bracket)
        }

        fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
            self.depth = self.depth.saturating_sub(1);
            if self.has_value {
                w.write_all(b"\n")?;
                self.indent(w)?;
            }
            w.write_all(bracket)
        }

        fn item<W: ?Sized + Write>(&self, w: &mut W, first: bool) -> std::io::Result<()> {
            w.write_all(if first { b"\n" } else { b",\n" })?;
            self.indent(w)
        }
    }

    impl serde_json::ser::Formatter for Indented {
        fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.open(w, b"[")
        }

        fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.close(w, b"]")
        }

        fn begin_array_value<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.item(w, first)
        }

        fn end_array_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
            self.has_value = true;
            Ok(())
        }

        fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.open(w, b"{")
        }

        fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.close(w, b"}")
        }

        fn begin_object_key<W: ?Sized + Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.item(w, first)
        }

        fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            w.write_all(b": ")
        }

        fn end_object_value<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
            self.has_value = true;
            Ok(())
        }
    }
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

    /// The fixture's results repeated to `n`, each with a name of its own, some with a
    /// workflow command in their message and in a metadata text.
    fn large(n: usize) -> Summary {
        let mut s = crate::report::fixture::summary();
        let base = s.results.clone();
        s.results = (0..n)
            .filter_map(|i| {
                let mut r = base.get(i % base.len())?.clone();
                r.name = format!("{} {i}", r.name);
                if i % 97 == 0 {
                    r.message = format!("x ##[error]y {i} ###[z #").into();
                    r.metadata
                        .insert("note".into(), serde_json::json!(["#", "##[w", {}, []]));
                }
                Some(r)
            })
            .collect();
        s
    }

    #[test]
    fn the_document_in_parts_is_the_document_in_one_piece() {
        // Below, at and above the size that starts the second thread, and pieces that end
        // both on the calling thread and on the second one.
        for n in [
            0,
            1,
            parts::PARALLEL_FROM - 1,
            parts::PARALLEL_FROM,
            parts::PARALLEL_FROM + 1,
            3 * parts::PIECE,
            5 * parts::PIECE + 17,
        ] {
            let s = large(n);
            let one_piece =
                crate::text::pretty_json(&Document::of(&s, super::super::verdict(&s))).unwrap();
            let mut in_parts = Vec::new();
            write(&s, &mut in_parts).unwrap();
            assert_eq!(
                String::from_utf8(in_parts).unwrap(),
                String::from_utf8(one_piece).unwrap(),
                "{n} results"
            );
        }
    }

    #[test]
    fn a_failed_write_of_the_document_in_parts_is_an_error() {
        struct Full(usize);
        impl std::io::Write for Full {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                if self.0 < buf.len() {
                    return Err(std::io::Error::other("full"));
                }
                self.0 -= buf.len();
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let s = large(4 * parts::PIECE);
        let whole = render(&s).unwrap().len();
        // In the head, in a piece of the calling thread, in one of the second thread, at the end.
        for room in [0, 100, whole / 3, whole / 2, whole - 3] {
            let err = write(&s, &mut Full(room)).unwrap_err();
            assert!(matches!(err, super::super::Streamed::Write(_)), "{room}");
        }
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
