//! `flowork fac issue|inspect`: mint FAC tokens with the engine's issuer key (`<data dir>/fac.key`,
//! created on first use) and show what a token claims and whether it verifies.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use flowork_fac::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, Gas, IssueRequest, key};

/// The `fac` verbs.
#[derive(Debug, Subcommand)]
pub enum FacCommand {
    /// Sign a new token and print it.
    Issue {
        /// Gas budget.
        #[arg(long)]
        budget: u64,
        /// Node type glob the token may run (repeatable), e.g. 'core.*'.
        #[arg(long = "allow", required = true)]
        allow: Vec<String>,
        /// PATTERN=GAS cost of matching nodes (repeatable), e.g. core.http=5 or '*=1'.
        #[arg(long = "cost")]
        cost: Vec<String>,
        /// Lifetime: a number with s, m, h or d (e.g. 1h).
        #[arg(long, default_value = "1h")]
        ttl: String,
        /// The agent the token is for.
        #[arg(long, default_value = "agent")]
        sub: String,
        /// Audience.
        #[arg(long, default_value = DEFAULT_AUDIENCE)]
        aud: String,
        /// Workflow id the token may run (repeatable; default any).
        #[arg(long = "workflow")]
        workflow: Vec<String>,
    },
    /// Print a token's claims and whether it verifies with this engine's key.
    Inspect {
        token: String,
        /// Audience to verify for.
        #[arg(long, default_value = DEFAULT_AUDIENCE)]
        aud: String,
    },
}

/// Runs a `fac` verb with the issuer key under `data_dir`.
pub fn main(data_dir: &Path, cmd: FacCommand) -> ExitCode {
    match run(data_dir, cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(data_dir: &Path, cmd: FacCommand) -> Result<ExitCode, String> {
    let issuer = key::load_or_create(data_dir, DEFAULT_ISSUER).map_err(|e| e.to_string())?;
    match cmd {
        FacCommand::Issue {
            budget,
            allow,
            cost,
            ttl,
            sub,
            aud,
            workflow,
        } => {
            let req = IssueRequest {
                sub,
                aud,
                ttl: parse_ttl(&ttl)?,
                budget: Gas(budget),
                costs: parse_costs(&cost)?,
                allow,
                workflows: (!workflow.is_empty()).then_some(workflow),
            };
            let (token, _) = issuer.issue(&req).map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        FacCommand::Inspect { token, aud } => match issuer.verify_now(&token, &aud) {
            Ok((claims, _)) => {
                let text = serde_json::to_string_pretty(&claims).map_err(|e| e.to_string())?;
                println!("{text}\nverified: yes");
                Ok(ExitCode::SUCCESS)
            }
            Err(why) => {
                println!("verified: no ({why})");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// `PATTERN=GAS` pairs; a repeated pattern is an error.
fn parse_costs(items: &[String]) -> Result<BTreeMap<String, Gas>, String> {
    let mut out = BTreeMap::new();
    for item in items {
        let (p, g) = item
            .rsplit_once('=')
            .ok_or_else(|| format!("--cost {item:?}: expected PATTERN=GAS, e.g. core.http=5"))?;
        let g: u64 = g
            .parse()
            .map_err(|_| format!("--cost {item:?}: {g:?} is not a whole number of gas"))?;
        if out.insert(p.to_owned(), Gas(g)).is_some() {
            return Err(format!("--cost: pattern {p:?} given twice"));
        }
    }
    Ok(out)
}

/// `30s`, `15m`, `1h`, `7d` (a bare number is seconds).
pub(crate) fn parse_ttl(s: &str) -> Result<Duration, String> {
    let bad = || format!("--ttl {s:?}: expected a positive number with s, m, h or d, e.g. 1h");
    let (n, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        _ => (s, 's'),
    };
    let n: u64 = n.parse().map_err(|_| bad())?;
    let mult = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    match n.checked_mul(mult) {
        Some(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse_or_name_the_problem() {
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("1w").expect_err("unit").contains("--ttl"));
        let c = parse_costs(&["core.http=5".into(), "*=1".into()]).expect("costs");
        assert_eq!(c["core.http"], Gas(5));
        assert_eq!(c["*"], Gas(1));
        assert!(parse_costs(&["core.http".into()]).is_err());
        assert!(parse_costs(&["a=x".into()]).is_err());
        assert!(parse_costs(&["a=1".into(), "a=2".into()]).is_err());
    }
}
