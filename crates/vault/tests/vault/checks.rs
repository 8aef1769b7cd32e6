//! The checks, each an `async fn(&Fixture)` driving the vault over `fixture.store`.

use flowork_storage::Expect;
use flowork_vault::{CANARY_KEY, KV_NAMESPACE, MasterKey, Secret, Vault, VaultError};
use serde_json::{Value, json};

use crate::harness::Fixture;

const TOKEN: &str = "ghp_s3cr3t-token-value-0123456789";

fn key() -> MasterKey {
    MasterKey::generate().unwrap()
}

fn same_key(k: &MasterKey, bytes: &[u8; 32]) -> MasterKey {
    let again = MasterKey::from_bytes(bytes).unwrap();
    assert_eq!(k.fingerprint(), again.fingerprint());
    again
}

async fn vault(fx: &Fixture) -> Vault {
    Vault::open(fx.store.clone(), key()).await.unwrap()
}

fn token() -> Secret {
    Secret::new(json!({ "token": TOKEN }))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub async fn round_trip(fx: &Fixture) {
    let v = vault(fx).await;
    let meta = v.create("github", "http_header", token()).await.unwrap();
    assert_eq!(
        (meta.name.as_str(), meta.kind.as_str()),
        ("github", "http_header")
    );
    assert_eq!(
        v.reveal("github").await.unwrap().expose(),
        &json!({ "token": TOKEN })
    );
    assert_eq!(v.get_meta("github").await.unwrap(), meta);
    assert_eq!(v.list().await.unwrap(), vec![meta.clone()]);

    let basic = json!({"username": "ada", "password": "pa55 wörd"});
    let updated = v
        .update("github", Secret::new(basic.clone()))
        .await
        .unwrap();
    assert_eq!(updated.id, meta.id);
    assert_eq!(v.reveal("github").await.unwrap().expose(), &basic);

    assert!(matches!(
        v.create("github", "basic_auth", token()).await,
        Err(VaultError::Conflict { name }) if name == "github"
    ));
    assert!(matches!(
        v.update("nope", token()).await,
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        v.reveal("nope").await,
        Err(VaultError::NotFound { .. })
    ));

    v.delete("github").await.unwrap();
    assert!(matches!(
        v.get_meta("github").await,
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        v.delete("github").await,
        Err(VaultError::NotFound { .. })
    ));
    assert!(v.list().await.unwrap().is_empty());
}

pub async fn invalid_input_writes_nothing(fx: &Fixture) {
    let v = vault(fx).await;
    let bad = [
        ("", "http_header", token(), "name"),
        ("has space", "http_header", token(), "name"),
        (&*"n".repeat(129), "http_header", token(), "name"),
        ("ok", "", token(), "kind"),
        ("ok", "Http Header", token(), "kind"),
        ("ok", "http_header", Secret::new(json!("bare")), "secret"),
        (
            "ok",
            "http_header",
            Secret::new(json!({"big": "x".repeat(70_000)})),
            "secret",
        ),
    ];
    for (name, kind, secret, field) in bad {
        match v.create(name, kind, secret).await {
            Err(VaultError::Invalid { field: f, .. }) => assert_eq!(f, field, "{name} {kind}"),
            other => panic!("expected Invalid {field}, got {other:?}"),
        }
    }
    assert!(v.list().await.unwrap().is_empty());
}

pub async fn ciphertext_hides_the_plaintext(fx: &Fixture) {
    let v = vault(fx).await;
    v.create("github", "http_header", token()).await.unwrap();
    let row = fx.store.get_credential("github").await.unwrap();
    assert_eq!(row.sealed[0], 1, "format version byte");
    assert_eq!(
        row.sealed.len(),
        1 + 24 + json!({ "token": TOKEN }).to_string().len() + 16
    );
    for needle in [TOKEN, "s3cr3t", "token"] {
        assert!(
            !contains(&row.sealed, needle.as_bytes()),
            "{needle} in the row"
        );
    }
}

pub async fn every_seal_uses_a_fresh_nonce(fx: &Fixture) {
    let v = vault(fx).await;
    v.create("a", "http_header", token()).await.unwrap();
    let first = fx.store.get_credential("a").await.unwrap().sealed;
    v.update("a", token()).await.unwrap();
    let second = fx.store.get_credential("a").await.unwrap().sealed;
    assert_eq!(first.len(), second.len());
    assert_ne!(first[1..25], second[1..25], "nonce reused");
    assert_ne!(
        first[25..],
        second[25..],
        "same ciphertext for the same secret"
    );
}

pub async fn wrong_key_is_refused_and_nothing_changes(fx: &Fixture) {
    let bytes = [7u8; 32];
    let right = MasterKey::from_bytes(&bytes).unwrap();
    let v = Vault::open(fx.store.clone(), same_key(&right, &bytes))
        .await
        .unwrap();
    v.create("github", "http_header", token()).await.unwrap();
    v.create(
        "smtp",
        "basic_auth",
        Secret::new(json!({"username": "u", "password": "p"})),
    )
    .await
    .unwrap();
    let before = fx.snapshot().await;

    let wrong = key();
    let wrong_fp = wrong.fingerprint().to_owned();
    let err = Vault::open(fx.store.clone(), wrong).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            VaultError::WrongKey {
                expected: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        msg.starts_with("the master key does not match the one these credentials were sealed with"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "key fingerprint {} expected, got {wrong_fp}",
            right.fingerprint()
        )),
        "{msg}"
    );
    assert_eq!(
        fx.snapshot().await,
        before,
        "a refused key changed the store"
    );

    // The right key still opens everything.
    let again = Vault::open(fx.store.clone(), right).await.unwrap();
    assert_eq!(
        again.reveal("github").await.unwrap().expose()["token"],
        TOKEN
    );
    assert_eq!(fx.snapshot().await, before);
}

pub async fn a_blob_moved_to_another_name_is_corrupt(fx: &Fixture) {
    let v = vault(fx).await;
    v.create("a", "http_header", token()).await.unwrap();
    v.create("b", "http_header", Secret::new(json!({"token": "other"})))
        .await
        .unwrap();
    let sealed_a = fx.store.get_credential("a").await.unwrap().sealed;
    fx.store.update_credential("b", sealed_a).await.unwrap();
    assert!(matches!(
        v.reveal("b").await,
        Err(VaultError::Corrupt { name }) if name == "b"
    ));
    assert_eq!(v.reveal("a").await.unwrap().expose()["token"], TOKEN);
}

pub async fn a_tampered_byte_is_corrupt(fx: &Fixture) {
    let v = vault(fx).await;
    v.create("a", "http_header", token()).await.unwrap();
    let sealed = fx.store.get_credential("a").await.unwrap().sealed;
    for i in [0, 5, 30, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        fx.store.update_credential("a", bad).await.unwrap();
        assert!(
            matches!(v.reveal("a").await, Err(VaultError::Corrupt { .. })),
            "byte {i}"
        );
    }
    fx.store
        .update_credential("a", sealed[..20].to_vec())
        .await
        .unwrap();
    assert!(matches!(
        v.reveal("a").await,
        Err(VaultError::Corrupt { .. })
    ));
}

pub async fn metadata_never_exposes_secrets(fx: &Fixture) {
    let v = vault(fx).await;
    v.create("github", "http_header", token()).await.unwrap();
    let sealed = fx.store.get_credential("github").await.unwrap().sealed;
    let list = serde_json::to_value(v.list().await.unwrap()).unwrap();
    let one = serde_json::to_value(v.get_meta("github").await.unwrap()).unwrap();
    assert_eq!(list[0], one);
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["created_at", "id", "kind", "name", "updated_at"]);
    for text in [list.to_string(), one.to_string(), format!("{list:?}")] {
        assert!(!text.contains(TOKEN) && !text.contains("s3cr3t"), "{text}");
        let hex: String = sealed[25..33].iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex), "{text}");
    }
    // Also no array of ciphertext bytes.
    assert!(!one.as_object().unwrap().values().any(Value::is_array));
}

pub async fn debug_output_hides_secret_and_key(fx: &Fixture) {
    let bytes = [0x41u8; 32];
    let v = Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap())
        .await
        .unwrap();
    v.create("github", "http_header", token()).await.unwrap();
    let secret = v.reveal("github").await.unwrap();
    let texts = [
        format!("{secret:?}"),
        format!("{:?}", MasterKey::from_bytes(&bytes).unwrap()),
        format!("{v:?}"),
    ];
    assert_eq!(texts[0], "Secret(***)");
    for text in texts {
        assert!(!text.contains(TOKEN), "{text}");
        assert!(
            !text.contains("AAAA") && !text.contains("65, 65") && !text.contains("4141"),
            "{text}"
        );
    }
}

pub async fn racing_opens_agree_on_one_canary(fx: &Fixture) {
    let bytes = [9u8; 32];
    let (a, b) = tokio::join!(
        Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap()),
        Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap()),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.fingerprint(), b.fingerprint());
    let entry = fx
        .store
        .kv_get(KV_NAMESPACE, CANARY_KEY)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.version, 1, "the canary was written more than once");
    let canary: Value = serde_json::from_slice(&entry.value).unwrap();
    assert_eq!(canary["fingerprint"], a.fingerprint());
    // Either vault reads what the other sealed.
    a.create("x", "http_header", token()).await.unwrap();
    assert_eq!(b.reveal("x").await.unwrap().expose()["token"], TOKEN);
}

pub async fn racing_opens_with_different_keys_let_one_win(fx: &Fixture) {
    let (a, b) = tokio::join!(
        Vault::open(fx.store.clone(), key()),
        Vault::open(fx.store.clone(), key())
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one key may win: {a:?} {b:?}"
    );
    let loser = a.err().or(b.err()).unwrap();
    assert!(
        matches!(
            loser,
            VaultError::WrongKey {
                expected: Some(_),
                ..
            }
        ),
        "{loser:?}"
    );
}

pub async fn no_canary_but_foreign_credentials_is_refused(fx: &Fixture) {
    let bytes = [3u8; 32];
    let v = Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap())
        .await
        .unwrap();
    v.create("github", "http_header", token()).await.unwrap();
    assert!(fx.store.kv_delete(KV_NAMESPACE, CANARY_KEY).await.unwrap());
    let before = fx.snapshot().await;

    let err = Vault::open(fx.store.clone(), key()).await.unwrap_err();
    assert!(
        matches!(err, VaultError::WrongKey { expected: None, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("opens none of the stored credentials"),
        "{err}"
    );
    assert_eq!(fx.snapshot().await, before);

    // The right key re-creates the canary.
    Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap())
        .await
        .unwrap();
    assert!(
        fx.store
            .kv_get(KV_NAMESPACE, CANARY_KEY)
            .await
            .unwrap()
            .is_some()
    );
}

pub async fn an_edited_canary_is_corrupt(fx: &Fixture) {
    let bytes = [5u8; 32];
    Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap())
        .await
        .unwrap();
    let entry = fx
        .store
        .kv_get(KV_NAMESPACE, CANARY_KEY)
        .await
        .unwrap()
        .unwrap();
    let mut canary: Value = serde_json::from_slice(&entry.value).unwrap();
    canary["sealed"] = json!("AQID");
    let edited = serde_json::to_vec(&canary).unwrap();
    fx.store
        .kv_put(
            KV_NAMESPACE,
            CANARY_KEY,
            edited,
            Expect::Version(entry.version),
        )
        .await
        .unwrap();
    let err = Vault::open(fx.store.clone(), MasterKey::from_bytes(&bytes).unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, VaultError::Corrupt { ref name } if name == "vault canary"),
        "{err:?}"
    );
}
