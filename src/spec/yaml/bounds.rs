//! The bounds of a config tree: one document, at most [`MAX_DEPTH`] levels of nesting and
//! aliases that expand within the budget ([`MIN_EXPANSION`], [`EXPANSION_FACTOR`]), measured
//! event by event so a hostile file is refused before it is built.

use super::load::{EXPANSION_FACTOR, MAX_DEPTH, MIN_EXPANSION, syntax};
use crate::spec::error::{ConfigError, Problem};

/// One problem at a position, as a config error.
fn refuse(file: &str, span: saphyr_parser::Span, message: String) -> ConfigError {
    ConfigError::Invalid {
        file: file.to_owned(),
        problems: vec![Problem {
            file: crate::spec::source::Source::new(file),
            line: span.start.line(),
            column: span.start.col() + 1,
            path: String::new(),
            message,
        }],
    }
}

/// What the first pass found: the document's own nodes (an alias counts once) and the nodes
/// of the tree once every alias is expanded.
pub(super) struct Measured {
    pub(super) own: usize,
    pub(super) total: usize,
}

/// The size of a finished node: its nodes after expansion and its height (0 for a scalar, 1
/// for a collection of scalars).
#[derive(Clone, Copy)]
struct Size {
    nodes: usize,
    height: usize,
}

/// The first pass: counts only, no tree. With `budget`, the alias whose expansion crosses it
/// is refused.
pub(super) fn measure(
    file: &str,
    text: &str,
    budget: Option<usize>,
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
            measured: Measured { own: 0, total: 0 },
        }
    }
}

impl Meter {
    pub(super) fn on_event(
        &mut self,
        file: &str,
        ev: &saphyr_parser::Event<'_>,
        span: saphyr_parser::Span,
        budget: Option<usize>,
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
            Event::Scalar(.., anchor, _) => {
                measured.own = measured.own.saturating_add(1);
                measured.total = measured.total.saturating_add(1);
                Some((
                    Size {
                        nodes: 1,
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
                if let Some(budget) = budget
                    && measured.total > budget
                {
                    return Err(refuse(
                        file,
                        span,
                        format!(
                            "aliases expand to more than {budget} nodes (the limit is the larger of {MIN_EXPANSION} and {EXPANSION_FACTOR} times the document's own nodes)"
                        ),
                    ));
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
                parent.height = parent.height.max(size.height.saturating_add(1));
            }
        }
        Ok(())
    }
}
