//! The gateway's API against real stores: every check runs on SQLite and on Postgres
//! (`FLOWORK_TEST_PG`; SKIPPED loudly without it, a failure under `CI=true`).

mod addresses;
mod api_keys;
mod auth;
mod edge;
mod engines;
mod fake_engine;
mod harness;
mod limits;
mod linked;
mod members;
mod processes;
mod replicas;
mod served;
mod users;

/// Where `backend_tests!` finds the checks.
mod checks {
    pub use crate::addresses::*;
    pub use crate::api_keys::*;
    pub use crate::auth::*;
    pub use crate::edge::*;
    pub use crate::engines::*;
    pub use crate::limits::*;
    pub use crate::linked::*;
    pub use crate::members::*;
    pub use crate::replicas::*;
    pub use crate::users::*;
}

macro_rules! both_backends {
    ($($check:ident),+ $(,)?) => {
        flowork_testkit::backend_tests!(sqlite: $($check),+);
        flowork_testkit::backend_tests!(postgres: $($check),+);
    };
}

both_backends! {
    requests_are_limited_per_address_and_per_caller,
    login_succeeds_and_me_answers,
    login_failures_look_alike,
    login_is_rate_limited_per_username_and_address,
    refresh_rotates_and_reuse_revokes_the_login,
    logout_revokes_the_login,
    api_keys_create_use_revoke,
    every_protected_route_needs_auth,
    engines_are_isolated_between_users,
    engine_tokens_verify_and_rotate,
    user_routes_are_admin_only,
    edge_layers_and_public_routes,
    metrics_can_be_private,
    forwarding_reaches_only_the_owners_engine,
    webhooks_are_buffered_offline_and_delivered_in_order_once,
    live_events_stream_as_sse,
    replicas_reach_the_engine_wherever_it_is_linked,
    engine_members_are_managed_by_admins_only,
    viewers_cannot_save_or_run_through_the_gateway,
    permissions_follow_the_license,
    the_gateway_can_ask_the_license_service_over_grpc,
    addresses_bind_by_signing_a_challenge,
}
