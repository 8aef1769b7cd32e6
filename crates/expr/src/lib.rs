//! jq expressions (run by the `jaq` crates) and `{{ }}` templates for workflow node parameters.
//!
//! An expression parameter is one whole jq program ([`Program`]); any other string parameter
//! may interpolate `{{ <jq> }}` parts ([`Template`]). Both run on the JSON object
//! `{input, nodes: {<id>: output}, trigger, execution, env}` that the engine builds.
//!
//! What is available: jq's core and standard library as implemented by jaq (incl. regex
//! `test`/`match`/`sub`, dates, `@base64` & co.). `env` and `$ENV` are the workflow's `.env`,
//! never the worker's process environment. `input`/`inputs`, modules (`import`/`include`)
//! are not available. `halt`/`halt_error` are runtime errors, they never end the process.
//! `now`/`localtime` read the clock, so programs using them do not replay identically.
//! jaq is close to jq but stricter in places (e.g. `null | ltrimstr("x")` is an error).
//!
//! What is bounded: [`Program::run`] computes only the first output, `run_all` stops after
//! [`MAX_OUTPUTS`], results nested deeper than [`MAX_DEPTH`] are refused. What is not: jaq has
//! no step or memory budget, so `[range(1e9)]` or `last(range(1e12))` spin (and allocate)
//! inside a single output, and unbounded non-tail recursion (`def f: 1 + f; f`) overflows the
//! stack, which aborts the process. The executor must run expressions under `spawn_blocking`
//! with the node timeout; that frees the node but not the thread,
//! which keeps spinning until the expression ends.

mod convert;
mod error;
mod program;
mod template;
#[cfg(test)]
mod tests;

pub use convert::MAX_DEPTH;
pub use error::{ExprError, Pos};
pub use program::{Context, MAX_OUTPUTS, Program};
pub use template::Template;
