//! Issue and verify real tokens: only EdDSA by this issuer, within its validity, for its audience.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowork_fac::{DEFAULT_AUDIENCE, Forbidden, Gas, IssueRequest, Issuer, LEEWAY_SECS, key};

fn issuer() -> Issuer {
    let pkcs8 = Issuer::generate_pkcs8().expect("key");
    Issuer::from_pkcs8("flowork", &pkcs8).expect("issuer")
}

fn request() -> IssueRequest {
    IssueRequest {
        sub: "agent-7".into(),
        aud: DEFAULT_AUDIENCE.into(),
        ttl: Duration::from_secs(3600),
        budget: Gas(100),
        costs: BTreeMap::from([("core.http".into(), Gas(5)), ("*".into(), Gas(1))]),
        allow: vec!["core.*".into()],
        workflows: None,
    }
}

/// A token whose header and claims are given, signed with nothing usable.
fn forge(header: &serde_json::Value, claims: &serde_json::Value, sig: &[u8]) -> String {
    let b = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"));
    format!(
        "{}.{}.{}",
        b(header),
        b(claims),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

#[test]
fn round_trip_and_claims_shape() {
    let iss = issuer();
    let (token, claims) = iss.issue(&request()).expect("issue");
    let (back, cap) = iss.verify_now(&token, DEFAULT_AUDIENCE).expect("verify");
    assert_eq!(back, claims);
    assert_eq!(cap.budget, Gas(100));
    assert_eq!(cap.cost("core.http"), Gas(5));
    assert_eq!(cap.cost("core.set"), Gas(1));
    assert!(cap.allows("module.run").is_err());
    let payload = token.split('.').nth(1).expect("payload");
    let json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("b64")).expect("json");
    for k in ["iss", "sub", "aud", "iat", "exp", "jti"] {
        assert!(json.get(k).is_some(), "{k} in {json}");
    }
    assert_eq!(json["fac"]["budget"], 100);
    assert_eq!(json["fac"]["costs"]["core.http"], 5);
    assert_eq!(json["fac"]["allow"][0], "core.*");
}

#[test]
fn other_algorithms_are_refused() {
    let iss = issuer();
    let (_, claims) = iss.issue(&request()).expect("issue");
    let claims = serde_json::to_value(&claims).expect("json");
    for alg in ["none", "HS256", "RS256", "ES256"] {
        let t = forge(&serde_json::json!({"alg": alg, "typ": "JWT"}), &claims, b"");
        assert_eq!(
            iss.verify_now(&t, DEFAULT_AUDIENCE).map(drop),
            Err(Forbidden::Algorithm(alg.into())),
            "{alg}"
        );
    }
    // A real HS256 token keyed with the public key (the classic confusion attack).
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(iss.public_key()),
    )
    .expect("hs256");
    assert!(matches!(
        iss.verify_now(&hs, DEFAULT_AUDIENCE),
        Err(Forbidden::Algorithm(_))
    ));
    assert!(matches!(
        iss.verify_now("garbage", DEFAULT_AUDIENCE),
        Err(Forbidden::Malformed(_))
    ));
}

#[test]
fn forged_tokens_are_refused() {
    let (iss, other) = (issuer(), issuer());
    let (token, _) = other.issue(&request()).expect("issue");
    assert_eq!(
        iss.verify_now(&token, DEFAULT_AUDIENCE).map(drop),
        Err(Forbidden::BadSignature)
    );
    // Raise the budget in a token of the right issuer, keep its signature.
    let (token, claims) = iss.issue(&request()).expect("issue");
    let mut json = serde_json::to_value(&claims).expect("json");
    json["fac"]["budget"] = serde_json::json!(1_000_000);
    let sig = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().expect("sig"))
        .expect("b64");
    let t = forge(
        &serde_json::json!({"alg": "EdDSA", "typ": "JWT"}),
        &json,
        &sig,
    );
    assert_eq!(
        iss.verify_now(&t, DEFAULT_AUDIENCE).map(drop),
        Err(Forbidden::BadSignature)
    );
}

#[test]
fn time_issuer_and_audience_are_checked() {
    let iss = issuer();
    let (token, c) = iss.issue(&request()).expect("issue");
    assert!(
        iss.verify(&token, DEFAULT_AUDIENCE, c.exp + LEEWAY_SECS - 1)
            .is_ok()
    );
    assert!(matches!(
        iss.verify(&token, DEFAULT_AUDIENCE, c.exp + LEEWAY_SECS),
        Err(Forbidden::Expired { .. })
    ));
    assert!(matches!(
        iss.verify(&token, DEFAULT_AUDIENCE, c.iat - LEEWAY_SECS - 1),
        Err(Forbidden::NotYetValid { .. })
    ));
    assert_eq!(
        iss.verify_now(&token, "elsewhere").map(drop),
        Err(Forbidden::WrongAudience(DEFAULT_AUDIENCE.into()))
    );
    let pkcs8 = Issuer::generate_pkcs8().expect("key");
    let (t2, _) = Issuer::from_pkcs8("someone-else", &pkcs8)
        .expect("issuer")
        .issue(&request())
        .expect("issue");
    let same_key = Issuer::from_pkcs8("flowork", &pkcs8).expect("issuer");
    assert_eq!(
        same_key.verify_now(&t2, DEFAULT_AUDIENCE).map(drop),
        Err(Forbidden::WrongIssuer("someone-else".into()))
    );
    let mut bad = request();
    bad.allow = vec![String::new()];
    assert!(iss.issue(&bad).is_err());
}

#[cfg(unix)]
#[test]
fn key_file_is_private_and_stable() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let a = key::load_or_create(dir.path(), "flowork").expect("create");
    let path = dir.path().join(key::KEY_FILE);
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let b = key::load_or_create(dir.path(), "flowork").expect("reload");
    assert_eq!(a.public_key(), b.public_key());
    let (token, _) = a.issue(&request()).expect("issue");
    assert!(b.verify_now(&token, DEFAULT_AUDIENCE).is_ok());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = key::load_or_create(dir.path(), "flowork").expect_err("lax");
    assert!(err.to_string().contains("chmod 600"), "{err}");
}
