//! `/healthz` (what every service says) and `/readyz` (can we take traffic).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use flowork_kit::health::Status;
use serde::Serialize;

use crate::Gateway;

#[derive(Serialize)]
pub(crate) struct ServiceHealth {
    name: String,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Health {
    status: &'static str,
    version: &'static str,
    services: Vec<ServiceHealth>,
}

/// 200 when nothing failed, else 503; the body lists every service either way.
pub(crate) async fn healthz(State(gw): State<Gateway>) -> (StatusCode, Json<Health>) {
    // The gateway's own process: degraded while its files differ from its manifest.
    let own = flowork_kit::integrity::snapshot();
    let mut services = vec![ServiceHealth {
        name: "gateway".into(),
        status: if own.is_degraded() {
            Status::NotServing
        } else {
            Status::Serving
        },
        address: None,
        detail: own
            .is_degraded()
            .then(|| format!("integrity: {}", own.summary())),
    }];
    let db = match gw.store.ping().await {
        Ok(()) => ServiceHealth {
            name: "database".into(),
            status: Status::Serving,
            address: None,
            detail: Some(format!("{:?}", gw.store.backend()).to_lowercase()),
        },
        Err(e) => ServiceHealth {
            name: "database".into(),
            status: Status::Unreachable,
            address: None,
            detail: Some(e.to_string()),
        },
    };
    services.push(db);
    let checks = gw.probes.iter().map(|p| async move {
        let (status, detail) = p.check().await;
        ServiceHealth {
            name: p.name.to_string(),
            status,
            address: Some(p.addr.to_string()),
            detail,
        }
    });
    services.extend(futures::future::join_all(checks).await);
    let failed = services.iter().any(|s| s.status.is_failure());
    let code = if failed {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let status = if failed { "degraded" } else { "ok" };
    (
        code,
        Json(Health {
            status,
            version: flowork_kit::VERSION,
            services,
        }),
    )
}

/// 200 once the database answers; orchestrators route traffic on it.
pub(crate) async fn readyz(State(gw): State<Gateway>) -> StatusCode {
    match gw.store.ping().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}
