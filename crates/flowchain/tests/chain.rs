//! Records, chains and the export directory, end to end through the public API.

#![allow(clippy::unwrap_used)]

use std::fs;

use flowork_flowchain::{
    ChainStatus, Error, Problem, SigningKey, VersionRecord, export_dir, import_dir, verify_chain,
    verify_chain_parallel, verify_dir,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn chain(key: &SigningKey, workflows: &[Value]) -> Vec<VersionRecord> {
    let mut out: Vec<VersionRecord> = Vec::new();
    for (i, wf) in workflows.iter().enumerate() {
        let at = format!("2026-11-22T07:00:{i:02}Z");
        let mut r = VersionRecord::next(out.last(), "wf-1", at, wf.clone()).unwrap();
        r.sign(key).unwrap();
        out.push(r);
    }
    out
}

fn three() -> (SigningKey, Vec<VersionRecord>) {
    let key = SigningKey::generate();
    let records = chain(
        &key,
        &[
            json!({"n": 1}),
            json!({"n": 2, "é": [1.5, null]}),
            json!({}),
        ],
    );
    (key, records)
}

fn invalid_at(status: &ChainStatus) -> (u32, Problem) {
    match status {
        ChainStatus::Invalid { version, problem } => (*version, problem.clone()),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn a_signed_chain_is_valid_and_its_head_is_the_last_hash() {
    let (key, records) = three();
    let report = verify_chain(&records);
    assert_eq!(report.status, ChainStatus::Valid);
    assert_eq!(report.versions, 3);
    assert_eq!(report.head, Some(records[2].hash().unwrap()));
    assert_eq!(records[1].previous_hash, Some(records[0].hash().unwrap()));
    assert_eq!(records[0].previous_hash, None);
    assert_eq!(records[2].author_id, Some(key.address()));
}

#[test]
fn record_json_has_the_contract_shape() {
    let (key, records) = three();
    let v: Value = serde_json::from_slice(&records[1].canonical_bytes().unwrap()).unwrap();
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "author_id",
            "created_at",
            "previous_hash",
            "signature",
            "version",
            "workflow",
            "workflow_id"
        ]
    );
    assert_eq!(v["author_id"], json!(key.address().to_string()));
    let sig = v["signature"].as_str().unwrap();
    assert!(sig.starts_with("0x") && sig.len() == 132 && sig == sig.to_lowercase());
    assert!(sig.ends_with("1b") || sig.ends_with("1c"));
    // The signed bytes are the record without its signature field.
    let mut unsigned = v.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    assert_eq!(
        flowork_flowchain::canonical_bytes(&unsigned).unwrap(),
        records[1].signing_bytes().unwrap()
    );
}

#[test]
fn unsigned_is_reported_not_valid() {
    let (_, mut records) = three();
    records[1].signature = None;
    records[1].author_id = None;
    // Re-link version 3 to the changed version 2.
    records[2].previous_hash = Some(records[1].hash().unwrap());
    let key = SigningKey::generate();
    records[2].sign(&key).unwrap();
    let report = verify_chain(&records);
    assert_eq!(report.status, ChainStatus::Unsigned { first: 2, count: 1 });
    assert!(!report.is_valid());
}

#[test]
fn tampering_is_named_at_the_first_bad_version() {
    let (key, records) = three();
    let mut r = records.clone();
    r[1].workflow = json!({"n": 666});
    let report = verify_chain(&r);
    let (version, problem) = invalid_at(&report.status);
    assert_eq!(version, 2);
    assert!(matches!(
        problem,
        Problem::WrongAuthor { .. } | Problem::BadSignature(_)
    ));
    // Version 3 still points at the original version 2.
    assert!(matches!(
        report.problems[1].problem,
        Problem::BrokenLink { .. }
    ));

    let mut r = records.clone();
    r[2].previous_hash = r[0].previous_hash;
    let (version, problem) = invalid_at(&verify_chain(&r).status);
    assert_eq!(version, 3);
    assert_eq!(
        problem,
        Problem::BrokenLink {
            expected: Some(records[1].hash().unwrap()),
            found: None
        }
    );

    let other = SigningKey::generate();
    let mut r = records.clone();
    // Signed by `key` over bytes that name `other` as the author.
    r[0].author_id = Some(other.address());
    r[0].signature = Some(key.sign_personal(&r[0].signing_bytes().unwrap()).unwrap());
    let (version, problem) = invalid_at(&verify_chain(&r).status);
    assert_eq!(version, 1);
    assert_eq!(
        problem,
        Problem::WrongAuthor {
            claimed: other.address(),
            recovered: key.address()
        }
    );

    assert_eq!(verify_chain_parallel(&r, 2), verify_chain(&r));

    let r = vec![records[0].clone(), records[2].clone()];
    let (version, problem) = invalid_at(&verify_chain(&r).status);
    assert_eq!(
        (version, problem),
        (
            3,
            Problem::VersionGap {
                expected: 2,
                found: 3
            }
        )
    );

    let mut r = records.clone();
    r[0].author_id = None;
    assert_eq!(
        invalid_at(&verify_chain(&r).status).1,
        Problem::SignatureWithoutAuthor
    );
    assert_eq!(verify_chain(&[]).status, ChainStatus::Empty);
}

#[test]
fn export_import_round_trip_and_refusals() {
    let (_, records) = three();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("chain");
    export_dir(&dir, &records).unwrap();
    assert_eq!(
        fs::read(dir.join("000002.json")).unwrap(),
        records[1].canonical_bytes().unwrap()
    );
    assert_eq!(import_dir(&dir).unwrap(), records);
    assert_eq!(verify_dir(&dir).unwrap().status, ChainStatus::Valid);
    assert!(
        export_dir(&dir, &records).is_err(),
        "refuses to mix two chains"
    );

    // Same JSON, pretty-printed: not canonical.
    let pretty = serde_json::to_vec_pretty(&records[1]).unwrap();
    fs::write(dir.join("000002.json"), pretty).unwrap();
    let err = import_dir(&dir).unwrap_err();
    assert!(
        matches!(&err, Error::File { path, reason } if path.ends_with("000002.json") && reason.contains("not canonical")),
        "{err}"
    );
    assert_eq!(
        invalid_at(&verify_dir(&dir).unwrap().status),
        (2, Problem::NotCanonical)
    );

    fs::remove_file(dir.join("000002.json")).unwrap();
    let err = import_dir(&dir).unwrap_err().to_string();
    assert!(err.contains("000002.json") && err.contains("gap"), "{err}");
    let (version, problem) = invalid_at(&verify_dir(&dir).unwrap().status);
    assert_eq!(
        (version, problem),
        (
            3,
            Problem::VersionGap {
                expected: 2,
                found: 3
            }
        )
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("\\PC{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn sign_then_verify_round_trips(workflows in prop::collection::vec(json_value(), 1..5)) {
        let key = SigningKey::generate();
        let records = chain(&key, &workflows);
        prop_assert_eq!(verify_chain(&records).status, ChainStatus::Valid);
        prop_assert_eq!(verify_chain_parallel(&records, 3), verify_chain(&records));
        let tmp = tempfile::tempdir().unwrap();
        export_dir(tmp.path(), &records).unwrap();
        prop_assert_eq!(verify_dir(tmp.path()).unwrap().status, ChainStatus::Valid);
        let back = import_dir(tmp.path()).unwrap();
        prop_assert_eq!(verify_chain(&back).status, ChainStatus::Valid);
    }

    #[test]
    fn any_flipped_byte_is_caught_at_its_version(
        workflows in prop::collection::vec(json_value(), 1..4),
        file in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        xor in 1u8..=255,
    ) {
        let records = chain(&SigningKey::generate(), &workflows);
        let tmp = tempfile::tempdir().unwrap();
        export_dir(tmp.path(), &records).unwrap();
        let k = file.index(records.len());
        let path = tmp.path().join(flowork_flowchain::file_name(k as u32 + 1));
        let mut bytes = fs::read(&path).unwrap();
        let i = at.index(bytes.len());
        bytes[i] ^= xor;
        fs::write(&path, &bytes).unwrap();
        let status = verify_dir(tmp.path()).unwrap().status;
        prop_assert!(
            matches!(status, ChainStatus::Invalid { version, .. } if version == k as u32 + 1),
            "flip at byte {} of version {}: {:?}", i, k + 1, status
        );
    }
}

#[test]
fn tar_archive_unpacks_to_the_export_directory() {
    let (_, records) = three();
    let archive = flowork_flowchain::export_tar(&records).unwrap();
    assert_eq!(archive.len() % 512, 0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    assert_eq!(flowork_flowchain::unpack_tar(&archive, &out).unwrap(), 3);
    let plain = tempfile::tempdir().unwrap();
    export_dir(plain.path(), &records).unwrap();
    for r in &records {
        let name = flowork_flowchain::file_name(r.version);
        assert_eq!(
            fs::read(out.join(&name)).unwrap(),
            fs::read(plain.path().join(&name)).unwrap()
        );
    }
    assert!(verify_dir(&out).unwrap().is_valid());
    // Into a directory that holds a chain already: refused.
    assert!(flowork_flowchain::unpack_tar(&archive, &out).is_err());
    // A path outside the directory, a truncated archive, a bad checksum: refused.
    let mut evil = archive.clone();
    evil[..11].copy_from_slice(b"../x00.json");
    let fresh = tempfile::tempdir().unwrap();
    let err = flowork_flowchain::unpack_tar(&evil, fresh.path()).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    let sum: u32 = evil[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    evil[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let err = flowork_flowchain::unpack_tar(&evil, fresh.path()).unwrap_err();
    assert!(err.to_string().contains("archive root"), "{err}");
    assert!(!fresh.path().join("../x00.json").exists());
    let cut = &archive[..archive.len() - 1100];
    let err = flowork_flowchain::unpack_tar(cut, fresh.path()).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn verify_records_reports_unreadable_rows_and_codes() {
    let (_, records) = three();
    let rows = records.iter().enumerate().map(|(i, r)| {
        if i == 1 {
            Err(Problem::Malformed("row 2 unreadable".into()))
        } else {
            Ok(r.clone())
        }
    });
    let report = flowork_flowchain::verify_records(rows);
    assert_eq!(report.problems.len(), 2, "{report:?}");
    assert_eq!(invalid_at(&report.status).0, 2);
    assert_eq!(invalid_at(&report.status).1.code(), "malformed");
    assert_eq!(report.problems[1].problem, Problem::UnknownLink);
}
