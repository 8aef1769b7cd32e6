//! Compiled jq programs and the context they run on.

use std::sync::{Arc, LazyLock};

use jaq_core::load::{Arena, File, Loader, parse::Def};
use jaq_core::{Compiler, Ctx, Vars, data::JustLut, native::Fun};
use jaq_json::Val;
use serde_json::Value;

use crate::convert::{from_val, to_val};
use crate::error::{self, ExprError};

type Data = JustLut<Val>;
type Filter = jaq_core::Filter<Data>;

/// Most outputs `run_all` collects before it gives up with [`ExprError::Limit`].
pub const MAX_OUTPUTS: usize = 10_000;

/// Native filters we withhold: `env` would leak the worker's process environment (secrets).
const HIDDEN: &[&str] = &["env"];

/// Our own prelude: `env` and `$ENV` are the workflow's `.env`, never the process's.
const PRELUDE: &str = "def env: $ENV;";

/// The program's input, converted once to jaq's representation.
///
/// Build one per node run and reuse it for every parameter of that node: the conversion is
/// the main per-run cost (it is proportional to the size of `{input, nodes, ...}`).
#[derive(Clone)]
pub struct Context {
    input: Val,
    env: Val,
}

impl Context {
    /// Converts `{input, nodes, trigger, execution, env}`; `$ENV` is bound to its `env` field.
    pub fn new(value: &Value) -> Context {
        let input = to_val(value);
        let env = match &input {
            Val::Obj(o) => o.get(&Val::utf8_str("env")).cloned(),
            _ => None,
        };
        // jq's `$ENV` is always an object; keep that even when the caller sent no `env`.
        let env = env.unwrap_or_else(|| Val::obj(Default::default()));
        Context { input, env }
    }

    /// Like [`Context::new`] on the object of `fields`, without building that object as JSON
    /// first (which copied every field once more, on every node of every execution).
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Context {
        let mut obj = jaq_json::Map::default();
        for (k, v) in fields {
            obj.insert(Val::utf8_str(k.to_owned()), to_val(v));
        }
        let env = obj.get(&Val::utf8_str("env")).cloned();
        let env = env.unwrap_or_else(|| Val::obj(Default::default()));
        Context {
            input: Val::obj(obj),
            env,
        }
    }
}

/// A compiled jq program; cloning is cheap and it can be shared across threads.
#[derive(Clone)]
pub struct Program(Arc<Inner>);

struct Inner {
    src: String,
    filter: Filter,
}

/// The jq definitions (`map`, `select`, …), parsed once per process rather than per compile.
static DEFS: LazyLock<Vec<Def<&'static str>>> = LazyLock::new(|| {
    // Parsing our fixed prelude cannot fail; an empty fallback would only lose `env`.
    let own = jaq_core::load::parse(PRELUDE, |p| p.defs()).unwrap_or_default();
    let std = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    std.chain(own).collect()
});

fn funs() -> impl Iterator<Item = Fun<Data>> {
    let all = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    all.filter(|(name, _, _)| !HIDDEN.contains(name))
}

impl Program {
    /// Compiles a whole jq program with the jq standard library available.
    pub fn compile(src: &str) -> Result<Program, ExprError> {
        let loader = Loader::new(DEFS.iter().cloned());
        let arena = Arena::default();
        let modules = loader
            .load(
                &arena,
                File {
                    code: src,
                    path: (),
                },
            )
            .map_err(|e| error::from_load(src, e))?;
        let filter = Compiler::default()
            .with_funs(funs())
            .with_global_vars(["$ENV"])
            .compile(modules)
            .map_err(|e| error::from_compile(src, e))?;
        Ok(Program(Arc::new(Inner {
            src: src.to_owned(),
            filter,
        })))
    }

    /// The source the program was compiled from.
    pub fn source(&self) -> &str {
        &self.0.src
    }

    /// First output of the program; `null` when it yields nothing (e.g. `empty`, `select(false)`).
    pub fn run(&self, input: &Value) -> Result<Value, ExprError> {
        self.run_ctx(&Context::new(input))
    }

    /// Like [`Program::run`], on an already converted context.
    pub fn run_ctx(&self, ctx: &Context) -> Result<Value, ExprError> {
        self.run_val(ctx)
            .and_then(|v| v.map_or(Ok(Value::Null), |v| from_val(&v)))
    }

    /// First output as a jaq value (`None` when there is none); later outputs are never computed.
    pub(crate) fn run_val(&self, ctx: &Context) -> Result<Option<Val>, ExprError> {
        let mut out = None;
        self.each(ctx, |v| {
            out = Some(v);
            false
        })?;
        Ok(out)
    }

    /// Every output, up to [`MAX_OUTPUTS`].
    pub fn run_all(&self, input: &Value) -> Result<Vec<Value>, ExprError> {
        self.run_all_ctx(&Context::new(input), MAX_OUTPUTS)
    }

    /// Every output, failing with [`ExprError::Limit`] once there are more than `max`.
    pub fn run_all_ctx(&self, ctx: &Context, max: usize) -> Result<Vec<Value>, ExprError> {
        let mut outs = Vec::new();
        let mut failed = None;
        self.each(ctx, |v| {
            if outs.len() == max {
                failed = Some(ExprError::Limit {
                    what: "number of outputs",
                    limit: max,
                });
                return false;
            }
            match from_val(&v) {
                Ok(v) => outs.push(v),
                Err(e) => failed = Some(e),
            }
            failed.is_none()
        })?;
        failed.map_or(Ok(outs), Err)
    }

    /// Feeds outputs to `f` until it returns false, the program ends, or it fails.
    fn each(&self, ctx: &Context, mut f: impl FnMut(Val) -> bool) -> Result<(), ExprError> {
        let filter = &self.0.filter;
        let jctx = Ctx::<Data>::new(&filter.lut, Vars::new([ctx.env.clone()]));
        for out in filter.id.run((jctx, ctx.input.clone())) {
            if !f(out.map_err(runtime)?) {
                break;
            }
        }
        Ok(())
    }
}

/// Turns a jaq exception into our error; `halt` must not end the worker process.
fn runtime(exn: jaq_core::Exn<'_, Val>) -> ExprError {
    let message = match exn.get_err() {
        Ok(err) => match err.into_val() {
            Val::TStr(s) => String::from_utf8_lossy(&s).into_owned(),
            other => format!("{other} (not a string)"),
        },
        Err(exn) => match exn.get_halt() {
            Ok(code) => format!("halt with exit code {code}"),
            Err(_) => "internal jaq control flow escaped".to_owned(),
        },
    };
    ExprError::Runtime { message }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Program").field(&self.0.src).finish()
    }
}
