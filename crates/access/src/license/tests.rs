//! Every way a license file can fail, and the ones that pass.

use super::*;

const DAY: i64 = 86_400_000;

fn spec(now: Timestamp) -> LicenseSpec {
    LicenseSpec {
        licensee: "Acme Corp".into(),
        tier: Tier::Pro,
        capabilities: None,
        seats: Some(10),
        issued_at: now,
        expires_at: Some(Timestamp(now.millis() + 30 * DAY)),
    }
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-03T12:00:00Z").expect("time")
}

#[test]
fn a_signed_license_verifies_with_its_tier_defaults() {
    let key = SecretKey::generate();
    let text = spec(now()).sign(&key).expect("sign");
    let l = License::verify(text.as_bytes(), &key.public(), now()).expect("verifies");
    assert_eq!(l.tier, Tier::Pro);
    assert_eq!(l.capabilities, Tier::Pro.default_capabilities());
    assert_eq!((l.licensee.as_str(), l.seats), ("Acme Corp", Some(10)));
    assert_eq!(l.signed_by, Some(key.public()));
    assert!(l.grants(Capability::AiCopilot, now()));
    assert!(!l.grants(Capability::AiArchitect, now()));
    // Past its expiry nothing is granted, even what it lists.
    let later = Timestamp(now().millis() + 31 * DAY);
    assert!(!l.grants(Capability::BasicExecution, later));
}

#[test]
fn explicit_capabilities_override_the_tier() {
    let key = SecretKey::generate();
    let mut s = spec(now());
    s.capabilities = Some([Capability::CloudSync].into_iter().collect());
    s.expires_at = None;
    s.seats = None;
    let text = s.sign(&key).expect("sign");
    let l = License::verify(text.as_bytes(), &key.public(), now()).expect("verifies");
    assert_eq!(
        l.capabilities.iter().collect::<Vec<_>>(),
        [Capability::CloudSync]
    );
    assert!(!l.grants(Capability::BasicExecution, now()));
    assert_eq!((l.seats, l.expires_at), (None, None));
}

#[test]
fn an_expired_license_is_refused_naming_when() {
    let key = SecretKey::generate();
    let mut s = spec(now());
    s.expires_at = Some(Timestamp(now().millis() - DAY));
    let text = s.sign(&key).expect("sign");
    let e = License::verify(text.as_bytes(), &key.public(), now()).expect_err("expired");
    assert!(matches!(e, AccessError::Expired(_)), "{e}");
    assert_eq!(e.to_string(), "the license expired at 2026-12-02T12:00:00Z");
}

#[test]
fn a_license_signed_by_another_key_is_refused() {
    let (ours, theirs) = (SecretKey::generate(), SecretKey::generate());
    let text = spec(now()).sign(&theirs).expect("sign");
    let e = License::verify(text.as_bytes(), &ours.public(), now()).expect_err("wrong key");
    assert!(matches!(e, AccessError::WrongKey { .. }), "{e}");
    assert!(e.to_string().starts_with("signed by another key"), "{e}");
    // Claiming the pinned key does not help: the signature is then wrong.
    let mut doc: Value = serde_json::from_str(&text).expect("json");
    doc["public_key"] = json!(ours.public().to_string());
    let forged = serde_json::to_vec(&doc).expect("bytes");
    let e = License::verify(&forged, &ours.public(), now()).expect_err("forged");
    assert!(matches!(e, AccessError::BadSignature), "{e}");
}

#[test]
fn a_license_edited_after_signing_is_refused() {
    let key = SecretKey::generate();
    let text = spec(now()).sign(&key).expect("sign");
    for (field, value) in [
        ("tier", json!("enterprise")),
        ("seats", json!(1000)),
        ("expires_at", Value::Null),
        ("licensee", json!("Mallory")),
        ("capabilities", json!(["ai_architect"])),
    ] {
        let mut doc: Value = serde_json::from_str(&text).expect("json");
        doc[field] = value;
        let edited = serde_json::to_vec(&doc).expect("bytes");
        let e = License::verify(&edited, &key.public(), now()).expect_err(field);
        assert!(matches!(e, AccessError::BadSignature), "{field}: {e}");
    }
    // Whitespace and key order are not edits (JCS).
    let doc: Value = serde_json::from_str(&text).expect("json");
    let compact = serde_json::to_vec(&doc).expect("bytes");
    License::verify(&compact, &key.public(), now()).expect("same document");
}

#[test]
fn an_unknown_capability_is_named() {
    let key = SecretKey::generate();
    let doc = json!({
        "version": 1, "licensee": "x", "tier": "pro", "seats": null,
        "capabilities": ["basic_execution", "mind_reading"],
        "issued_at": "2026-12-01T00:00:00Z", "expires_at": null,
    });
    let text = sign_document(doc, &key).expect("sign");
    let e = License::verify(text.as_bytes(), &key.public(), now()).expect_err("unknown");
    assert_eq!(e.to_string(), "unknown capability \"mind_reading\"");
}

#[test]
fn malformed_documents_name_the_field() {
    let key = SecretKey::generate();
    let base = json!({"version": 1, "licensee": "x", "tier": "pro",
        "issued_at": "2026-12-01T00:00:00Z"});
    for (field, value, expect) in [
        ("tier", json!("gold"), "unknown tier \"gold\""),
        ("seats", json!(0), "seats:"),
        ("expires_at", json!("tomorrow"), "expires_at:"),
        ("version", json!(2), "version:"),
        ("colour", json!("red"), "colour: unknown field"),
    ] {
        let mut doc = base.clone();
        doc[field] = value;
        let text = sign_document(doc, &key).expect("sign");
        let e = License::verify(text.as_bytes(), &key.public(), now()).expect_err(field);
        assert!(e.to_string().contains(expect), "{field}: {e}");
    }
    let e = License::verify(b"{\"version\":1}", &key.public(), now()).expect_err("unsigned");
    assert!(e.to_string().contains("not signed"), "{e}");
    assert!(License::verify(b"[]", &key.public(), now()).is_err());
}

#[test]
fn open_core_grants_all_twelve_forever() {
    let l = License::open_core();
    assert_eq!(l.tier, Tier::Architect);
    for c in Capability::ALL {
        assert!(l.grants(*c, Timestamp(i64::MAX - 1)), "{c}");
    }
}
