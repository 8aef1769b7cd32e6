//! The crate's error type and the translation of jaq's load/compile errors into it.

use std::fmt;

use jaq_core::compile;
use jaq_core::load::{self, lex};

/// Where in the source a compile error sits (offsets count chars, lines and columns start at 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Offset from the start of the source, in chars.
    pub offset: usize,
    /// Line, starting at 1.
    pub line: usize,
    /// Column in chars, starting at 1.
    pub col: usize,
}

impl Pos {
    /// Position of byte offset `byte` inside `src` (clamped to the source's end).
    pub fn at(src: &str, byte: usize) -> Pos {
        let before = src.get(..byte.min(src.len())).unwrap_or(src);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            offset: before.chars().count(),
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }

    /// The same position moved by `base` (a position of the enclosing text).
    pub(crate) fn shifted(self, base: Pos) -> Pos {
        Pos {
            offset: base.offset + self.offset,
            line: base.line + self.line - 1,
            col: if self.line == 1 {
                base.col + self.col - 1
            } else {
                self.col
            },
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Everything that can go wrong compiling or running an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// The jq program (or a template) does not lex, parse or resolve.
    #[error("jq: {message}{}{}", at(pos), more_errors(*more))]
    Compile {
        /// Human message for the first error, e.g. `undefined function 'fo/0'`.
        message: String,
        /// Where the first error sits, when known.
        pos: Option<Pos>,
        /// How many further errors jaq reported (only the first is described).
        more: usize,
    },
    /// The program failed while running (`error(..)`, type errors, `halt`).
    #[error("jq: error: {message}")]
    Runtime {
        /// The error as jq would print it.
        message: String,
    },
    /// A guard rail tripped (too many outputs, a too-deeply nested result).
    #[error("jq: {what} exceeds the limit of {limit}")]
    Limit {
        /// What was being counted.
        what: &'static str,
        /// The limit that was hit.
        limit: usize,
    },
}

fn at(pos: &Option<Pos>) -> String {
    pos.map(|p| format!(" at {p}")).unwrap_or_default()
}

fn more_errors(more: usize) -> String {
    match more {
        0 => String::new(),
        n => format!(" (and {n} more)"),
    }
}

/// Byte range of `part` in `whole`, if `part` is really a slice of it.
fn span_in(whole: &str, part: &str) -> Option<usize> {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    (p >= w && p + part.len() <= w + whole.len()).then(|| load::span(whole, part).start)
}

/// Builds a compile error from many (message, offending slice) pairs; keeps the first position.
fn compile_error(src: &str, errs: Vec<(String, &str)>) -> ExprError {
    let more = errs.len().saturating_sub(1);
    let Some((message, part)) = errs.into_iter().next() else {
        let message = "invalid program".into();
        return ExprError::Compile {
            message,
            pos: None,
            more,
        };
    };
    let pos = span_in(src, part).map(|byte| Pos::at(src, byte));
    ExprError::Compile { message, pos, more }
}

/// Renders what the parser found, for "expected X, found Y".
fn found(part: &str) -> String {
    match part.chars().next() {
        None => "end of input".into(),
        Some(_) => format!("'{part}'"),
    }
}

/// Translates the loader's lex/parse/io errors.
pub(crate) fn from_load<P>(src: &str, errs: load::Errors<&str, P>) -> ExprError {
    let mut out = Vec::new();
    for (_file, err) in errs {
        match err {
            load::Error::Io(io) => out.extend(
                io.into_iter()
                    .map(|(path, e)| (format!("cannot load {path}: {e}"), path)),
            ),
            load::Error::Lex(lex) => {
                out.extend(lex.into_iter().map(|(expect, part)| match expect {
                    // The lexer's "expected token" means it met something that starts no token.
                    // Its slice runs to the end of the input; the first char is the culprit.
                    lex::Expect::Token => {
                        let c = part.chars().next().map(String::from).unwrap_or_default();
                        (format!("unexpected {}", found(&c)), part)
                    }
                    other => (format!("expected {}", other.as_str()), part),
                }))
            }
            load::Error::Parse(parse) => out.extend(parse.into_iter().map(|(expect, part)| {
                (
                    format!("expected {}, found {}", expect.as_str(), found(part)),
                    part,
                )
            })),
        }
    }
    compile_error(src, out)
}

/// Translates the compiler's undefined-name errors.
pub(crate) fn from_compile<P>(src: &str, errs: compile::Errors<&str, P>) -> ExprError {
    let out = errs
        .into_iter()
        .flat_map(|(_file, errs)| errs)
        .map(|(name, undef)| {
            let what = match undef {
                compile::Undefined::Filter(arity) => format!("function '{name}/{arity}'"),
                other => format!("{} '{name}'", other.as_str()),
            };
            (format!("undefined {what}"), name)
        });
    compile_error(src, out.collect())
}
