//! The token's claims (the JSON form, DESIGN §5) and the parsed capability.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Forbidden;
use crate::pattern::Pattern;
use flowork_model::{Gas, Jti};

/// A FAC token's claims, exactly as serialized in the JWT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The agent the token was issued to.
    pub sub: String,
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
    /// Not before (Unix seconds); optional, `iat` bounds validity when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub jti: Jti,
    pub fac: FacClaim,
}

/// The `fac` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacClaim {
    pub budget: Gas,
    /// Cost per node type or glob; `"*"` is the fallback.
    #[serde(default)]
    pub costs: BTreeMap<String, Gas>,
    /// Node type globs the token may run.
    pub allow: Vec<String>,
    /// Workflow ids the token may run; absent = any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflows: Option<Vec<String>>,
}

/// A verified token's capability, its patterns parsed once.
#[derive(Debug, Clone)]
pub struct Capability {
    /// The token id: the ledger key.
    pub jti: Jti,
    pub budget: Gas,
    /// Most specific first.
    costs: Vec<(Pattern, Gas)>,
    allow: Vec<Pattern>,
    workflows: Option<Vec<String>>,
}

impl Capability {
    /// Parses the claim's patterns.
    pub fn from_claims(claims: &Claims) -> Result<Self, Forbidden> {
        let bad = |e: String| Forbidden::Malformed(format!("fac claim: {e}"));
        let mut costs = claims
            .fac
            .costs
            .iter()
            .map(|(k, v)| Ok((Pattern::parse(k).map_err(bad)?, *v)))
            .collect::<Result<Vec<_>, Forbidden>>()?;
        costs.sort_by(|a, b| b.0.specificity(&a.0));
        let allow = claims
            .fac
            .allow
            .iter()
            .map(|s| Pattern::parse(s).map_err(bad))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            jti: claims.jti.clone(),
            budget: claims.fac.budget,
            costs,
            allow,
            workflows: claims.fac.workflows.clone(),
        })
    }

    /// The gas a node of `node_type` costs: the most specific matching pattern's, else 1.
    pub fn cost(&self, node_type: &str) -> Gas {
        self.costs
            .iter()
            .find(|(p, _)| p.matches(node_type))
            .map_or(Gas(1), |(_, g)| *g)
    }

    /// Whether a node of `node_type` may run.
    pub fn allows(&self, node_type: &str) -> Result<(), Forbidden> {
        if self.allow.iter().any(|p| p.matches(node_type)) {
            Ok(())
        } else {
            Err(Forbidden::NodeNotAllowed(node_type.to_owned()))
        }
    }

    /// Whether the workflow `id` may run.
    pub fn allows_workflow(&self, id: &str) -> Result<(), Forbidden> {
        match &self.workflows {
            Some(ids) if !ids.iter().any(|w| w == id) => {
                Err(Forbidden::WorkflowNotAllowed(id.to_owned()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cap(costs: &[(&str, u64)], allow: &[&str]) -> Capability {
        let claims = Claims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "a".into(),
            iat: 0,
            exp: 1,
            nbf: None,
            jti: Jti::new(),
            fac: FacClaim {
                budget: Gas(100),
                costs: costs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), Gas(*v)))
                    .collect(),
                allow: allow.iter().map(|s| (*s).to_owned()).collect(),
                workflows: Some(vec!["wf_1".into()]),
            },
        };
        Capability::from_claims(&claims).expect("capability")
    }

    #[test]
    fn most_specific_cost_wins() {
        let c = cap(
            &[("*", 1), ("core.*", 2), ("core.h*", 3), ("core.http", 5)],
            &["core.*"],
        );
        assert_eq!(c.cost("core.http"), Gas(5));
        assert_eq!(c.cost("core.https"), Gas(3));
        assert_eq!(c.cost("core.set"), Gas(2));
        assert_eq!(c.cost("module.run"), Gas(1));
        assert_eq!(cap(&[], &[]).cost("x"), Gas(1));
        assert_eq!(cap(&[("*", 0)], &[]).cost("x"), Gas(0));
    }

    #[test]
    fn allow_and_workflows() {
        let c = cap(&[], &["core.*", "trigger.manual"]);
        assert!(c.allows("core.set").is_ok());
        assert!(c.allows("trigger.manual").is_ok());
        assert_eq!(
            c.allows("module.run"),
            Err(Forbidden::NodeNotAllowed("module.run".into()))
        );
        assert!(c.allows_workflow("wf_1").is_ok());
        assert!(c.allows_workflow("wf_2").is_err());
    }
}
