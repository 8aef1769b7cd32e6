//! The committed OpenAPI document (`openapi.json` at the repository root: the whole API, gateway
//! and engine routes) must match the code, the drift check of CONVENTIONS.md. `.ci/run` checks
//! `flowork openapi` against it too. After changing the API, regenerate it with:
//! `UPDATE_OPENAPI=1 cargo test -p flowork-gateway --test openapi`
//! (after `UPDATE_OPENAPI=1 cargo test -p flowork-scheduler --test openapi` if the engine's
//! routes changed: the engine half comes from `services/scheduler/openapi.json`).

#[test]
fn committed_openapi_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let doc = flowork_gateway::openapi_document();
    let mut generated = serde_json::to_string_pretty(doc).expect("serialize the OpenAPI document");
    generated.push('\n');
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is out of date; run \
         `UPDATE_OPENAPI=1 cargo test -p flowork-gateway --test openapi` and commit it"
    );
}
