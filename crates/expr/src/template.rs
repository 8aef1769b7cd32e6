//! String parameters with `{{ <jq> }}` interpolations.
//!
//! Syntax: each `{{ … }}` holds a whole jq program. The closing `}}` is the first one outside
//! jq string literals, brackets and comments, so `{{ {a: {b: 1}} }}` works. `\{{` is a literal
//! `{{`; nothing else is an escape (a lone `\` or `}}` is kept as is).

use serde_json::Value;

use crate::convert::from_val;
use crate::error::{ExprError, Pos};
use crate::program::{Context, Program};

/// A parsed string parameter: literal text and compiled `{{ }}` programs.
#[derive(Debug, Clone)]
pub struct Template {
    src: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    Expr(Program),
}

impl Template {
    /// Splits `s` into text and `{{ }}` parts, compiling each part; positions in errors are
    /// relative to `s`.
    pub fn parse(s: &str) -> Result<Template, ExprError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while let Some(rest) = s.get(i..).filter(|r| !r.is_empty()) {
            if rest.starts_with("\\{{") {
                lit.push_str("{{");
                i += 3;
            } else if rest.starts_with("{{") {
                let start = i + 2;
                let end = find_close(s, start).ok_or_else(|| bad(s, i, "unclosed '{{'"))?;
                let code = &s[start..end];
                if code.trim().is_empty() {
                    return Err(bad(s, i, "empty '{{ }}'"));
                }
                let prog = Program::compile(code).map_err(|e| shift(e, Pos::at(s, start)))?;
                if !lit.is_empty() {
                    parts.push(Part::Lit(std::mem::take(&mut lit)));
                }
                parts.push(Part::Expr(prog));
                i = end + 2;
            } else {
                let len = rest.chars().next().map_or(1, char::len_utf8);
                lit.push_str(&rest[..len]);
                i += len;
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template {
            src: s.to_owned(),
            parts,
        })
    }

    /// True when the string has no `{{ }}` at all (rendering needs no input).
    pub fn is_static(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The original parameter text.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Renders against `{input, nodes, trigger, execution, env}`; see [`Template::render_ctx`].
    pub fn render(&self, input: &Value) -> Result<Value, ExprError> {
        if self.is_static() {
            return self.render_ctx(&Context::new(&Value::Null));
        }
        self.render_ctx(&Context::new(input))
    }

    /// Exactly one `{{ expr }}` and nothing else (not even spaces) yields the expression's raw
    /// JSON value, so `"{{ .input.count }}"` stays a number. Otherwise the result is a string
    /// where each part's first output (as [`Program::run`]: none is `null`) is inserted: strings
    /// raw, any other value as compact JSON (`null` is written `null`, as jq's `"\(null)"`).
    pub fn render_ctx(&self, ctx: &Context) -> Result<Value, ExprError> {
        if let [Part::Expr(prog)] = self.parts.as_slice() {
            return prog.run_ctx(ctx);
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(prog) => match prog.run_val(ctx)? {
                    Some(jaq_json::Val::TStr(b)) => out.push_str(&String::from_utf8_lossy(&b)),
                    Some(v) => out.push_str(&from_val(&v)?.to_string()),
                    None => out.push_str("null"),
                },
            }
        }
        Ok(Value::String(out))
    }
}

fn bad(s: &str, byte: usize, message: &str) -> ExprError {
    let pos = Some(Pos::at(s, byte));
    ExprError::Compile {
        message: message.to_owned(),
        pos,
        more: 0,
    }
}

/// Moves a part's error position to where the part sits in the whole template.
fn shift(e: ExprError, base: Pos) -> ExprError {
    match e {
        ExprError::Compile { message, pos, more } => {
            let pos = Some(pos.map_or(base, |p| p.shifted(base)));
            ExprError::Compile { message, pos, more }
        }
        other => other,
    }
}

/// Byte index of the `}}` that closes a part whose jq code starts at `start`.
fn find_close(s: &str, start: usize) -> Option<usize> {
    // Open delimiters: `{`, `(`, `[`, `"` (in a string) and `i` (inside `\( )` in a string).
    let mut stack: Vec<u8> = Vec::new();
    let b = s.as_bytes();
    let mut i = start;
    while i < b.len() {
        let in_str = stack.last() == Some(&b'"');
        match b[i] {
            b'\\' if in_str => {
                if b.get(i + 1) == Some(&b'(') {
                    stack.push(b'i');
                }
                i += 1;
            }
            b'"' if in_str => _ = stack.pop(),
            _ if in_str => {}
            b'}' if stack.is_empty() && b.get(i + 1) == Some(&b'}') => return Some(i),
            b'#' => i = s[i..].find('\n').map_or(b.len(), |n| i + n),
            c @ (b'{' | b'(' | b'[' | b'"') => stack.push(c),
            b')' if stack.last() == Some(&b'i') => _ = stack.pop(),
            b'}' | b')' | b']' => _ = stack.pop(),
            _ => {}
        }
        i += 1;
    }
    None
}
