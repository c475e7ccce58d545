//! The bounds of a config tree: one document, at most [`MAX_DEPTH`] levels of nesting and
//! aliases that expand within the budget, in nodes ([`MIN_EXPANSION`], [`EXPANSION_FACTOR`])
//! and in scalar bytes ([`MIN_EXPANSION_BYTES`], [`EXPANSION_BYTES_FACTOR`]), measured event by
//! event so a hostile file is refused before it is built.

use super::load::{
    EXPANSION_BYTES_FACTOR, EXPANSION_FACTOR, MAX_DEPTH, MIN_EXPANSION, MIN_EXPANSION_BYTES, syntax,
};
use crate::reader::error::{ConfigError, Problem};

/// One problem at a position, as a config error.
fn refuse(file: &str, span: saphyr_parser::Span, message: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_owned(),
        problems: vec![Problem {
            file: crate::reader::source::Source::new(file),
            line: span.start.line(),
            column: span.start.col() + 1,
            path: String::new(),
            message,
        }],
    }
}

/// What the first pass found: the document's own nodes (an alias counts once), and the nodes
/// and scalar bytes of the tree once every alias is expanded.
pub(super) struct Measured {
    pub(super) own: usize,
    pub(super) total: usize,
    pub(super) bytes: usize,
}

/// How far aliases may expand the tree: in nodes, and in bytes of scalar text (one aliased
/// megabyte string repeated a thousand times is few nodes but a gigabyte).
#[derive(Clone, Copy)]
pub(super) struct Budget {
    pub(super) nodes: usize,
    pub(super) bytes: usize,
}

impl Budget {
    /// The budget of a document with `own` nodes in `len` bytes of text.
    pub(super) fn of(own: usize, len: usize) -> Budget {
        Budget {
            nodes: MIN_EXPANSION.max(own.saturating_mul(EXPANSION_FACTOR)),
            bytes: MIN_EXPANSION_BYTES.max(len.saturating_mul(EXPANSION_BYTES_FACTOR)),
        }
    }
}

/// The size of a finished node: its nodes and scalar bytes after expansion and its height (0
/// for a scalar, 1 for a collection of scalars).
#[derive(Clone, Copy)]
struct Size {
    nodes: usize,
    bytes: usize,
    height: usize,
}

/// The first pass: counts only, no tree. With `budget`, the alias whose expansion crosses it
/// is refused.
pub(super) fn measure(
    file: &str,
    text: &str,
    budget: Option<Budget>,
) -> Result<Measured, ConfigError> {
    let mut meter = Meter::default();
    for event in saphyr_parser::Parser::new_from_str(text) {
        let (ev, span) = event.map_err(|e| syntax(file, &e))?;
        meter.on_event(file, &ev, span, budget)?;
    }
    Ok(meter.measured)
}

/// Counts nodes, depth and alias expansion event by event, and refuses what the tree must not
/// hold.
pub(super) struct Meter {
    /// Open collections: (their size so far, their anchor).
    stack: Vec<(Size, usize)>,
    anchors: std::collections::HashMap<usize, Size>,
    documents: usize,
    pub(super) measured: Measured,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            documents: 0,
            measured: Measured {
                own: 0,
                total: 0,
                bytes: 0,
            },
        }
    }
}

impl Meter {
    pub(super) fn on_event(
        &mut self,
        file: &str,
        ev: &saphyr_parser::Event<'_>,
        span: saphyr_parser::Span,
        budget: Option<Budget>,
    ) -> Result<(), ConfigError> {
        use saphyr_parser::Event;
        let measured = &mut self.measured;
        let finished = match ev {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(refuse(
                        file,
                        span,
                        "a second YAML document starts here: a config file holds one document (remove the `---` and what follows, or merge it into the first)".to_owned(),
                    ));
                }
                None
            }
            Event::Scalar(value, _, anchor, _) => {
                measured.own = measured.own.saturating_add(1);
                measured.total = measured.total.saturating_add(1);
                measured.bytes = measured.bytes.saturating_add(value.len());
                Some((
                    Size {
                        nodes: 1,
                        bytes: value.len(),
                        height: 0,
                    },
                    *anchor,
                ))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                measured.own = measured.own.saturating_add(1);
                measured.total = measured.total.saturating_add(1);
                self.stack.push((
                    Size {
                        nodes: 1,
                        bytes: 0,
                        height: 1,
                    },
                    *anchor,
                ));
                if self.stack.len() > MAX_DEPTH {
                    return Err(refuse(
                        file,
                        span,
                        format!("nesting too deep: more than {MAX_DEPTH} levels"),
                    ));
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => self.stack.pop(),
            Event::Alias(id) => {
                measured.own = measured.own.saturating_add(1);
                // An unknown anchor is reported by the builder.
                let size = self.anchors.get(id).copied().unwrap_or(Size {
                    nodes: 1,
                    bytes: 0,
                    height: 0,
                });
                if self.stack.len().saturating_add(size.height) > MAX_DEPTH {
                    return Err(refuse(
                        file,
                        span,
                        format!(
                            "nesting too deep: more than {MAX_DEPTH} levels (through this alias)"
                        ),
                    ));
                }
                measured.total = measured.total.saturating_add(size.nodes);
                measured.bytes = measured.bytes.saturating_add(size.bytes);
                if let Some(budget) = budget {
                    over_budget(file, span, measured, budget)?;
                }
                Some((size, 0))
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => None,
        };
        if let Some((size, anchor)) = finished {
            if anchor > 0 {
                self.anchors.insert(anchor, size);
            }
            if let Some((parent, _)) = self.stack.last_mut() {
                parent.nodes = parent.nodes.saturating_add(size.nodes);
                parent.bytes = parent.bytes.saturating_add(size.bytes);
                parent.height = parent.height.max(size.height.saturating_add(1));
            }
        }
        Ok(())
    }
}

/// The refusal of the alias that takes the expanded tree past `budget`.
fn over_budget(
    file: &str,
    span: saphyr_parser::Span,
    measured: &Measured,
    budget: Budget,
) -> Result<(), ConfigError> {
    if measured.total > budget.nodes {
        return Err(refuse(
            file,
            span,
            format!(
                "aliases expand to more than {} nodes (the limit is the larger of {MIN_EXPANSION} and {EXPANSION_FACTOR} times the document's own nodes)",
                budget.nodes
            ),
        ));
    }
    if measured.bytes > budget.bytes {
        return Err(refuse(
            file,
            span,
            format!(
                "aliases expand to more than {} bytes of text (the limit is the larger of {MIN_EXPANSION_BYTES} and {EXPANSION_BYTES_FACTOR} times the file's size)",
                budget.bytes
            ),
        ));
    }
    Ok(())
}
