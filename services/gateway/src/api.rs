//! The gateway's REST API: routes, the OpenAPI document, and the layers every response passes
//! (request ids, security headers, CORS, body limit).

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use flowork_kit::Problem;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::Instrument as _;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{Caller, handlers, require_auth};
use crate::input::MAX_BODY;
use crate::link::{events, forward, webhooks};
use crate::{Gateway, addresses, api_keys, engines, health, members, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "Flowork gateway API", description = "Accounts, API keys and engines at the gateway. \
        Send `Authorization: Bearer <access token or API key>` on every call but login and refresh."),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Log in, refresh, log out"),
        (name = "users", description = "Accounts (admins only)"),
        (name = "api-keys", description = "Long-lived credentials for scripts"),
        (name = "engines", description = "Engines that dial in over EngineLink"),
        (name = "engine-api", description = "An engine's own API (workflows, executions, credentials, ...), \
            forwarded over EngineLink: `ANY /api/v1/engines/{id}/{rest}` reaches the engine's `/api/v1/{rest}`"),
        (name = "webhooks", description = "Public webhooks, buffered while the engine is offline")
    ),
    paths(forward::forward_doc, webhooks::receive)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT access token or fk_ API key".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// Routes anyone may call.
fn public_routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::login))
        .routes(routes!(handlers::refresh))
}

/// Routes behind [`require_auth`].
fn protected_routes() -> OpenApiRouter<Gateway> {
    OpenApiRouter::new()
        .routes(routes!(handlers::logout))
        .routes(routes!(handlers::me))
        .routes(routes!(users::create, users::list))
        .routes(routes!(api_keys::create, api_keys::list))
        .routes(routes!(api_keys::revoke))
        .routes(routes!(engines::create, engines::list))
        .routes(routes!(engines::get, engines::delete))
        .routes(routes!(engines::rotate_token))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::change, members::remove))
        .routes(routes!(addresses::challenge))
        .routes(routes!(addresses::bind, addresses::list))
        .routes(routes!(addresses::unbind))
        .routes(routes!(events::follow))
}

/// The OpenAPI document, for the drift check and clients.
pub fn openapi() -> utoipa::openapi::OpenApi {
    public_routes().merge(protected_routes()).into_openapi()
}

/// Every route of the gateway, with its layers.
pub(crate) fn router(gw: Gateway) -> Router {
    // The document served is the whole surface (crate::api_doc), not only these routes.
    let (public, _) = public_routes().split_for_parts();
    let (protected, _) = protected_routes().split_for_parts();
    // Webhooks take any method (the document shows POST).
    let public = public.route("/webhook/{engine_id}/{*path}", any(webhooks::receive));
    // Any method, any path under an engine the gateway does not serve itself (documented once,
    // by `forward_doc`). The param is `{id}` like the engine routes it sits beside.
    let protected = protected.route("/api/v1/engines/{id}/{*rest}", any(forward::forward));
    let auth = middleware::from_fn_with_state(gw.clone(), require_auth);
    let mut protected = protected.route_layer(auth.clone());
    let metrics = get(flowork_kit::telemetry::metrics_handler);
    let mut open = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    if gw.public_metrics {
        open = open.route("/metrics", metrics);
    } else {
        protected = protected.merge(
            Router::new()
                .route("/metrics", get(admin_metrics))
                .route_layer(auth),
        );
    }
    let cors = cors(&gw.cors_origins);
    let mut app = open
        .merge(public)
        .merge(protected)
        .route(
            "/api/openapi.json",
            get(|| async { Json(crate::api_doc::openapi_document()) }),
        )
        .route("/docs", get(crate::docs::page))
        .fallback(|| async { Problem::not_found("no such route") })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(gw.clone(), limit_by_address))
        .with_state(gw)
        .layer(middleware::from_fn(request_span))
        .layer(middleware::from_fn(security_headers));
    if let Some(cors) = cors {
        app = app.layer(cors);
    }
    let request_id = HeaderName::from_static("x-request-id");
    app.layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// `/metrics` when `gateway.public_metrics` is off: admins only.
async fn admin_metrics(State(_): State<Gateway>, caller: Caller) -> Response {
    match caller.require_admin() {
        Ok(()) => flowork_kit::telemetry::metrics_handler()
            .await
            .into_response(),
        Err(e) => e.into_response(),
    }
}

/// The per-address brake (`gateway.rate_limit_per_ip`) on every route but health, so probes
/// never see 429.
async fn limit_by_address(State(gw): State<Gateway>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if let Some(limiter) = gw.request_limits.per_ip.as_ref()
        && path != "/healthz"
        && path != "/readyz"
    {
        let ip = req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        if let Err(wait) = limiter.check(&ip) {
            return crate::GatewayError::RateLimited(wait).into_response();
        }
    }
    next.run(req).await
}

/// One span per request, carrying its request id (set by the layer outside this one).
async fn request_span(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(),
        path = %req.uri().path(), user = tracing::field::Empty);
    next.run(req).instrument(span).await
}

/// Headers that make browsers treat answers as data: no sniffing, no framing, no caching
/// (answers carry tokens), no referrer.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A page that needs more (`/docs`) sets its own policy.
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

/// CORS for `gateway.cors_origins`; `None` when empty (browsers then allow same-origin only).
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Config validation checked the form; a value HeaderValue refuses is skipped.
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
            ])
            .expose_headers([HeaderName::from_static("x-request-id"), header::RETRY_AFTER])
            .max_age(std::time::Duration::from_secs(600)),
    )
}
