//! The signed versions API over real HTTP on loopback, over a real SQLite store: saves checked
//! for head, signature, author and policy; list, get, export and verify; the head is what runs.

use std::sync::Arc;

use flowork_flowchain::{SigningKey, VersionRecord};
use flowork_model::WorkflowId;
use flowork_scheduler::versions::{AllowList, VersionPolicy};
use flowork_scheduler::{Engine, Runner};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Api {
    _dir: tempfile::TempDir,
    base: String,
    http: reqwest::Client,
}

async fn serve(policy: VersionPolicy) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("f.db").display());
    let store = flowork_storage::connect(&url, 4).await.expect("store");
    serve_on(store, policy, dir).await
}

async fn serve_on(
    store: Arc<dyn flowork_storage::Store>,
    policy: VersionPolicy,
    dir: tempfile::TempDir,
) -> Api {
    let runner = Runner::new(Engine::new(store), CancellationToken::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let app = flowork_scheduler::api::router_with(runner, policy);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api {
        _dir: dir,
        base,
        http: reqwest::Client::new(),
    }
}

fn strict(allowed: &[&SigningKey]) -> VersionPolicy {
    VersionPolicy {
        require_signed: true,
        authors: Arc::new(AllowList::new(allowed.iter().map(|k| k.address()))),
    }
}

impl Api {
    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> (StatusCode, Vec<u8>) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        (status, res.bytes().await.expect("body").to_vec())
    }

    async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        self.raw(Method::GET, path, None).await
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| serde_json::to_vec(&b).expect("json"));
        let (status, bytes) = self.raw(method, path, body).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// The plain (unsigned) update of workflow `id` to [`doc`] `n`.
    async fn put_doc(&self, id: &str, n: u32) -> (StatusCode, Value) {
        self.call(
            Method::PUT,
            &format!("/api/v1/workflows/{id}"),
            Some(doc(n)),
        )
        .await
    }

    async fn push(&self, record: &VersionRecord) -> (StatusCode, Value) {
        let path = format!("/api/v1/workflows/{}/versions", record.workflow_id);
        let body = record.canonical_bytes().expect("bytes");
        let (status, bytes) = self.raw(Method::POST, &path, Some(body)).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn verify(&self, id: &str) -> Value {
        let (code, report) = self
            .call(
                Method::GET,
                &format!("/api/v1/workflows/{id}/chain/verify"),
                None,
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{report}");
        report
    }
}

/// A workflow whose run outputs `{"v": n}`.
fn doc(n: u32) -> Value {
    json!({"name": format!("v{n}"),
      "nodes": [{"id": "start", "type": "trigger.manual"},
                {"id": "out", "type": "core.set", "params": {"value": format!("{{v: {n}}}")}}],
      "edges": [{"from": "start", "to": "out"}]})
}

fn signed(prev: Option<&VersionRecord>, id: &str, n: u32, key: &SigningKey) -> VersionRecord {
    let mut r = VersionRecord::next(prev, id, "2026-12-03T12:00:00Z", doc(n)).expect("record");
    r.sign(key).expect("sign");
    r
}

#[tokio::test]
async fn signed_versions_save_list_get_export_verify_and_run() {
    let key = SigningKey::generate();
    let api = serve(strict(&[&key])).await;
    let id = WorkflowId::new().to_string();
    let v1 = signed(None, &id, 1, &key);
    let (code, saved) = api.push(&v1).await;
    assert_eq!(code, StatusCode::CREATED, "{saved}");
    assert_eq!(saved["hash"], v1.hash().expect("hash").to_string());
    assert_eq!(saved["author_id"], key.address().to_string());
    let v2 = signed(Some(&v1), &id, 2, &key);
    let (code, saved) = api.push(&v2).await;
    assert_eq!(code, StatusCode::CREATED, "{saved}");
    assert_eq!(
        (saved["version"].as_u64(), saved["signed"].as_bool()),
        (Some(2), Some(true))
    );

    let (_, list) = api
        .call(
            Method::GET,
            &format!("/api/v1/workflows/{id}/versions"),
            None,
        )
        .await;
    let list = list.as_array().expect("list").clone();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1]["previous_hash"], list[0]["hash"]);
    // A version is its canonical bytes, byte for byte as signed.
    for (path, want) in [("1", &v1), ("head", &v2)] {
        let (code, bytes) = api
            .get(&format!("/api/v1/workflows/{id}/versions/{path}"))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(bytes, want.canonical_bytes().expect("bytes"));
    }
    let report = api.verify(&id).await;
    assert_eq!(report["status"], "valid", "{report}");
    assert_eq!(report["head"], v2.hash().expect("hash").to_string());

    // The export is a tar of the canonical files, which verify offline.
    let (code, tar) = api
        .get(&format!("/api/v1/workflows/{id}/chain/export"))
        .await;
    assert_eq!(code, StatusCode::OK);
    let out = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        flowork_flowchain::unpack_tar(&tar, out.path()).expect("unpack"),
        2
    );
    assert!(
        flowork_flowchain::verify_dir(out.path())
            .expect("verify")
            .is_valid()
    );

    // The engine runs the head version.
    let (code, exec) = api
        .call(
            Method::POST,
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            Some(json!({})),
        )
        .await;
    assert_eq!(code, StatusCode::OK, "{exec}");
    assert_eq!(
        (exec["version"].clone(), exec["output"].clone()),
        (json!(2), json!({"v": 2}))
    );
    let (_, wf) = api
        .call(Method::GET, &format!("/api/v1/workflows/{id}"), None)
        .await;
    assert_eq!(
        (wf["name"].as_str(), wf["version"].as_u64()),
        (Some("v2"), Some(2))
    );
}

#[tokio::test]
async fn stale_head_is_409_and_bad_records_are_422_naming_the_reason() {
    let (key, other) = (SigningKey::generate(), SigningKey::generate());
    let api = serve(VersionPolicy::default()).await;
    let id = WorkflowId::new().to_string();
    let v1 = signed(None, &id, 1, &key);
    assert_eq!(api.push(&v1).await.0, StatusCode::CREATED);
    let v2 = signed(Some(&v1), &id, 2, &key);
    assert_eq!(api.push(&v2).await.0, StatusCode::CREATED);

    // Someone saved first: built on v1, not on the head.
    let late = signed(Some(&v1), &id, 2, &other);
    let (code, p) = api.push(&late).await;
    assert_eq!(code, StatusCode::CONFLICT, "{p}");
    assert_eq!(p["field"], "previous_hash");
    // A second version 1 of the same workflow: also not the head.
    assert_eq!(
        api.push(&signed(None, &id, 1, &key)).await.0,
        StatusCode::CONFLICT
    );

    let next = |f: &dyn Fn(&mut VersionRecord)| {
        let mut r = signed(Some(&v2), &id, 3, &key);
        f(&mut r);
        r
    };
    let cases: Vec<(&str, VersionRecord, &str)> = vec![
        // Signed by one key, claiming another author.
        (
            "wrong-author",
            next(&|r| r.author_id = Some(other.address())),
            "signature",
        ),
        // Content changed after signing: recovers some unrelated address.
        ("wrong-author", next(&|r| r.workflow = doc(9)), "signature"),
        (
            "version-gap",
            next(&|r| {
                r.version = 7;
                r.sign(&key).expect("sign")
            }),
            "version",
        ),
        (
            "malformed",
            next(&|r| {
                r.created_at = "yesterday".into();
                r.sign(&key).expect("sign")
            }),
            "created_at",
        ),
        ("bad-signature", next(&|r| r.signature = None), "signature"),
    ];
    for (kind, record, field) in cases {
        let (code, p) = api.push(&record).await;
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{kind}: {p}");
        assert!(
            p["type"].as_str().is_some_and(|t| t.ends_with(kind)),
            "{kind}: {p}"
        );
        assert_eq!(p["field"], field, "{kind}: {p}");
    }
    // Malformed on the wire: a signature that is not 65 bytes of hex, an unknown member.
    let mut value = serde_json::to_value(next(&|_| {})).expect("json");
    value["signature"] = json!("0x1234");
    let (code, p) = api
        .call(
            Method::POST,
            &format!("/api/v1/workflows/{id}/versions"),
            Some(value.clone()),
        )
        .await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("signature")),
        "{p}"
    );
    value["extra"] = json!(1);
    let (code, p) = api
        .call(
            Method::POST,
            &format!("/api/v1/workflows/{id}/versions"),
            Some(value),
        )
        .await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("extra")),
        "{p}"
    );
    // A record for another workflow than the path's.
    let elsewhere = signed(None, &WorkflowId::new().to_string(), 1, &key);
    let (code, _) = api
        .raw(
            Method::POST,
            &format!("/api/v1/workflows/{id}/versions"),
            Some(elsewhere.canonical_bytes().expect("bytes")),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    // An invalid workflow document names its node.
    let mut bad = VersionRecord::next(
        Some(&v2),
        &id,
        "2026-12-03T12:00:00Z",
        json!({"name": "x", "nodes": [{"id": "n", "type": "no.such"}]}),
    )
    .expect("record");
    bad.sign(&key).expect("sign");
    let (code, p) = api.push(&bad).await;
    assert_eq!(
        (code, p["node"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("n")),
        "{p}"
    );
    // None of it was stored.
    assert_eq!(api.verify(&id).await["versions"], 2);
}

#[tokio::test]
async fn require_signed_and_allowed_authors_are_403() {
    let (key, stranger) = (SigningKey::generate(), SigningKey::generate());
    let api = serve(strict(&[&key])).await;
    let id = WorkflowId::new().to_string();
    let (code, p) = api.push(&signed(None, &id, 1, &stranger)).await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("author_id")),
        "{p}"
    );
    assert!(
        p["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("author-not-allowed")),
        "{p}"
    );
    // Unsigned: a record without a signature, and the plain create and update endpoints.
    let unsigned = VersionRecord::next(None, &id, "2026-12-03T12:00:00Z", doc(1)).expect("record");
    let (code, p) = api.push(&unsigned).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{p}");
    assert!(
        p["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("signature-required")),
        "{p}"
    );
    let (code, p) = api
        .call(Method::POST, "/api/v1/workflows", Some(doc(1)))
        .await;
    assert_eq!(
        (code, p["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("signature")),
        "{p}"
    );
    let v1 = signed(None, &id, 1, &key);
    assert_eq!(api.push(&v1).await.0, StatusCode::CREATED);
    let (code, _) = api.put_doc(&id, 2).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert_eq!(api.verify(&id).await["status"], "valid");
}

#[tokio::test]
async fn unsigned_versions_are_reported_as_unsigned_never_valid() {
    let key = SigningKey::generate();
    let api = serve(VersionPolicy::default()).await;
    let (code, wf) = api
        .call(Method::POST, "/api/v1/workflows", Some(doc(1)))
        .await;
    assert_eq!(code, StatusCode::CREATED, "{wf}");
    let id = wf["id"].as_str().expect("id").to_owned();
    let (code, _) = api.put_doc(&id, 2).await;
    assert_eq!(code, StatusCode::OK);
    let report = api.verify(&id).await;
    assert_eq!(
        (report["status"].as_str(), report["unsigned"].clone()),
        (Some("unsigned"), json!([1, 2])),
        "{report}"
    );
    // A signed version on top of unsigned ones: the links hold, the chain is still not valid.
    let (_, head) = api
        .get(&format!("/api/v1/workflows/{id}/versions/head"))
        .await;
    let head = VersionRecord::from_canonical_bytes(&head).expect("canonical");
    assert_eq!(head.signature, None);
    let (code, p) = api.push(&signed(Some(&head), &id, 3, &key)).await;
    assert_eq!(code, StatusCode::CREATED, "{p}");
    let report = api.verify(&id).await;
    assert_eq!(
        (report["status"].as_str(), report["versions"].as_u64()),
        (Some("unsigned"), Some(3)),
        "{report}"
    );
    assert!(report["first_bad"].is_null());
    // And a run uses the signed head.
    let (_, exec) = api
        .call(
            Method::POST,
            &format!("/api/v1/workflows/{id}/run?wait=true"),
            Some(json!({})),
        )
        .await;
    assert_eq!(exec["output"], json!({"v": 3}), "{exec}");
}

#[test]
fn policy_from_config_is_strict_outside_flowork_up() {
    use flowork_kit::config::VersionsConfig;
    let cfg = VersionsConfig::default();
    assert!(
        VersionPolicy::from_config(&cfg, false)
            .expect("policy")
            .require_signed
    );
    assert!(
        !VersionPolicy::from_config(&cfg, true)
            .expect("policy")
            .require_signed
    );
    // Mixed case must be a correct EIP-55 checksum.
    let bad = VersionsConfig {
        allowed_authors: vec![
            "0x2C7536E3605D9C16A7A3D7B1898E529396A65C23".into(),
            "0x2c7536E3605D9C16a7a3d7b1898e529396a65c23".into(),
        ],
        ..VersionsConfig::default()
    };
    let err = VersionPolicy::from_config(&bad, false).expect_err("bad checksum");
    assert!(
        err.to_string().contains("versions.allowed_authors"),
        "{err}"
    );
}

/// A document whose canonical form has to survive the store: non-ASCII text and escapes, a
/// large integer (beyond 32 bits), keys JCS reorders. (A valid workflow holds no JSON floats:
/// its numeric parameters are integers.)
fn tricky(n: u32) -> Value {
    json!({"name": format!("caf\u{e9} \u{2764} \u{1f680} {n}"), "description": "\"quoted\"\n\ttab \u{7f} </script>",
      "nodes": [{"id": "start", "type": "trigger.manual"},
                {"type": "core.set", "id": "out", "timeout_ms": 2_592_000_000_u64,
                 "retry": {"max_attempts": 3, "backoff_ms": 1}, "params": {"value": format!("{{v: {n}, s: \"\u{e9}\"}}")}}],
      "edges": [{"from": "start", "to": "out"}]})
}

/// Two signed versions of [`tricky`] documents: stored, read back byte for byte, verified.
async fn tricky_chain_survives(api: &Api) {
    let key = SigningKey::generate();
    let id = WorkflowId::new().to_string();
    let mut v1 =
        VersionRecord::next(None, &id, "2026-12-03T12:00:00.123+01:00", tricky(1)).expect("record");
    v1.sign(&key).expect("sign");
    let (code, p) = api.push(&v1).await;
    assert_eq!(code, StatusCode::CREATED, "{p}");
    let mut v2 =
        VersionRecord::next(Some(&v1), &id, "2026-12-03T12:00:01Z", tricky(2)).expect("record");
    v2.sign(&key).expect("sign");
    let (code, p) = api.push(&v2).await;
    assert_eq!(code, StatusCode::CREATED, "{p}");
    for (n, want) in [(1, &v1), (2, &v2)] {
        let (code, bytes) = api
            .get(&format!("/api/v1/workflows/{id}/versions/{n}"))
            .await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(bytes, want.canonical_bytes().expect("bytes"), "version {n}");
    }
    let report = api.verify(&id).await;
    assert_eq!(report["status"], "valid", "{report}");
}

#[tokio::test]
async fn canonical_bytes_survive_sqlite() {
    tricky_chain_survives(&serve(VersionPolicy::default()).await).await;
}

/// Postgres keeps records as JSONB (keys reordered, numbers as numeric): the canonical bytes,
/// and so every hash and signature, must still come back the same.
#[tokio::test]
async fn canonical_bytes_survive_postgres() {
    let Some(url) = flowork_testkit::postgres() else {
        return;
    };
    let schema = format!("flowork_versions_{}", uuid::Uuid::now_v7().simple());
    let store = flowork_storage::PgStore::connect_in_schema(&url, &schema, 4)
        .await
        .expect("postgres");
    let dir = tempfile::tempdir().expect("tempdir");
    let api = serve_on(Arc::new(store), VersionPolicy::default(), dir).await;
    let outcome =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(tricky_chain_survives(&api)))
            .await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("raw postgres");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .expect("drop the test schema");
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
