//! `/api/v1/credentials`: secrets are write-only. Responses carry metadata, never a secret.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use bytes::Bytes;
use flowork_kit::Problem;
use flowork_vault::{CredentialMeta, Secret, Vault, VaultError};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::input;
use crate::runner::Runner;

/// A credential as the API shows it: no secret, no ciphertext.
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CredentialMeta> for CredentialView {
    fn from(m: CredentialMeta) -> Self {
        Self {
            id: m.id.to_string(),
            name: m.name,
            kind: m.kind,
            created_at: m.created_at.to_rfc3339(),
            updated_at: m.updated_at.to_rfc3339(),
        }
    }
}

pub(crate) fn problem(e: VaultError) -> Problem {
    match e {
        VaultError::NotFound { .. } => Problem::not_found(e.to_string()),
        VaultError::Conflict { .. } => Problem::conflict(e.to_string()),
        VaultError::Invalid { field, .. } => Problem::bad_request(e.to_string()).with_field(field),
        VaultError::Storage(s) => s.into(),
        // Key trouble and corrupt rows are operator problems; say so without details.
        other => {
            tracing::error!(error = %other, "vault failure");
            Problem::unavailable("the credentials vault is unavailable; see the engine log")
        }
    }
}

fn vault(runner: &Runner) -> Result<&Arc<Vault>, Problem> {
    runner.engine().vault().ok_or_else(|| {
        Problem::unavailable("this engine has no credentials vault (set FLOWORK_MASTER_KEY or start it with a data dir)")
    })
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a Value, Problem> {
    body.get(name)
        .ok_or_else(|| Problem::bad_request(format!("missing {name}")).with_field(name))
}

fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, Problem> {
    field(body, name)?
        .as_str()
        .ok_or_else(|| Problem::bad_request("expected a string").with_field(name))
}

/// Credential metadata, by name.
#[utoipa::path(get, path = "/api/v1/credentials", tag = "credentials", responses((status = 200, body = [CredentialView]), (status = 503, description = "No vault")))]
pub(crate) async fn list(
    State(runner): State<Runner>,
) -> Result<Json<Vec<CredentialView>>, Problem> {
    let metas = vault(&runner)?.list().await.map_err(problem)?;
    Ok(Json(metas.into_iter().map(Into::into).collect()))
}

/// Create a credential: `{"name", "kind", "secret": {...}}`. The secret is sealed at once and
/// never returned.
#[utoipa::path(post, path = "/api/v1/credentials", tag = "credentials",
    request_body(content = Object, description = "{name, kind, secret}"),
    responses((status = 201, body = CredentialView), (status = 400), (status = 409, description = "The name is taken")))]
pub(crate) async fn create(
    State(runner): State<Runner>,
    body: Bytes,
) -> Result<(StatusCode, Json<CredentialView>), Problem> {
    let body = input::json(&body)?;
    let (name, kind) = (text(&body, "name")?, text(&body, "kind")?);
    let secret = Secret::new(field(&body, "secret")?.clone());
    let meta = vault(&runner)?
        .create(name, kind, secret)
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(meta.into())))
}

/// A credential's metadata.
#[utoipa::path(get, path = "/api/v1/credentials/{name}", tag = "credentials",
    params(("name" = String, Path, description = "Credential name")),
    responses((status = 200, body = CredentialView), (status = 404)))]
pub(crate) async fn get(
    State(runner): State<Runner>,
    Path(name): Path<String>,
) -> Result<Json<CredentialView>, Problem> {
    Ok(Json(
        vault(&runner)?
            .get_meta(&name)
            .await
            .map_err(problem)?
            .into(),
    ))
}

/// Replace a credential's secret: `{"secret": {...}}`.
#[utoipa::path(put, path = "/api/v1/credentials/{name}", tag = "credentials",
    params(("name" = String, Path, description = "Credential name")),
    request_body(content = Object, description = "{secret}"),
    responses((status = 200, body = CredentialView), (status = 404)))]
pub(crate) async fn update(
    State(runner): State<Runner>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<CredentialView>, Problem> {
    let body = input::json(&body)?;
    let secret = Secret::new(field(&body, "secret")?.clone());
    Ok(Json(
        vault(&runner)?
            .update(&name, secret)
            .await
            .map_err(problem)?
            .into(),
    ))
}

/// Delete a credential.
#[utoipa::path(delete, path = "/api/v1/credentials/{name}", tag = "credentials",
    params(("name" = String, Path, description = "Credential name")),
    responses((status = 204), (status = 404)))]
pub(crate) async fn delete(
    State(runner): State<Runner>,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    vault(&runner)?.delete(&name).await.map_err(problem)?;
    Ok(StatusCode::NO_CONTENT)
}
