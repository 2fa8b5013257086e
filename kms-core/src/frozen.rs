//! Frozen formats: checked-in blobs and a checked-in key store that every later version of
//! `kms-core` must still read (`tests/data/*.json`, described in `docs/format-kms.md`).
//!
//! The `print_*` tests, ignored, made those files once; they are kept to show how, and must not
//! be rerun to "fix" a failing check.

// Test code may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};
use serde_json::{Value, json};

use crate::store::Change;
use crate::{CreateKey, EncryptionContext, KeyState, Kms, RootKey, RootOfTrust, SoftwareRoot, Tag};

const DATA: &str = include_str!("../tests/data/blob-v1.json");

fn root() -> Arc<SoftwareRoot> {
    let bytes: [u8; 32] = std::array::from_fn(|i| i as u8);
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes(bytes)).unwrap())
}

fn kms_with_key(dir: &Path, root: Arc<SoftwareRoot>, key_id: &str, handle: Vec<u8>) -> Kms {
    let kms = Kms::open(dir, root).unwrap();
    let mut rec = kms.new_key_record(&CreateKey::default()).unwrap();
    rec.key_id = key_id.to_string();
    rec.versions[0].handle = handle;
    let _writer = kms.writer();
    kms.apply(&[Change::PutKey(&rec)]).unwrap();
    drop(_writer);
    kms
}

fn context(value: &Value) -> EncryptionContext {
    serde_json::from_value(value.clone()).unwrap()
}

#[test]
fn checked_in_blobs_still_decrypt() {
    let data: serde_json::Value = serde_json::from_str(DATA).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_id = data["key_id"].as_str().unwrap();
    let handle = hex::decode(data["handle_hex"].as_str().unwrap()).unwrap();
    let root_key = hex::decode(data["root_key_hex"].as_str().unwrap()).unwrap();
    let root_key = RootKey::from_bytes(root_key.try_into().unwrap());
    let root = Arc::new(SoftwareRoot::new(&root_key).unwrap());
    let kms = kms_with_key(dir.path(), root, key_id, handle);
    for case in data["blobs"].as_array().unwrap() {
        let blob = hex::decode(case["blob_hex"].as_str().unwrap()).unwrap();
        let ctx = context(&case["context"]);
        let plain = kms.decrypt(&blob, &ctx).unwrap();
        assert_eq!(
            hex::encode(plain.plaintext.as_bytes()),
            case["plaintext_hex"]
        );
        assert_eq!((plain.key_id.as_str(), plain.key_version), (key_id, 1));
        assert!(
            kms.decrypt(&blob, &EncryptionContext::from([("x".into(), "y".into())]))
                .is_err()
        );
    }
}

/// Prints a fresh `tests/data/blob-v1.json`; run once with `--ignored` when the format is
/// born, never again for version 1.
#[test]
#[ignore]
fn print_frozen_blobs() {
    let key_id = "5ea19a7e-0000-4000-8000-00000000f0a1";
    let handle = root().create_version(key_id, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kms = kms_with_key(dir.path(), root(), key_id, handle.clone());
    let data_key: Vec<u8> = (0xA0..=0xBF).collect();
    let cases = [
        (
            data_key,
            serde_json::json!({"aws:s3:arn": "arn:aws:s3:::frozen-bucket/frozen/key"}),
        ),
        (
            b"Sealgate KMS blob format 1".to_vec(),
            serde_json::json!({}),
        ),
    ];
    let blobs: Vec<_> = cases
        .iter()
        .map(|(plain, ctx)| {
            let blob = kms.encrypt(key_id, plain, &context(ctx)).unwrap();
            serde_json::json!({
                "context": ctx,
                "plaintext_hex": hex::encode(plain),
                "blob_hex": hex::encode(blob),
            })
        })
        .collect();
    let out = serde_json::json!({
        "root_key_hex": hex::encode((0u8..32).collect::<Vec<u8>>()),
        "key_id": key_id,
        "handle_hex": hex::encode(handle),
        "blobs": blobs,
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}

const STORE: &str = include_str!("../tests/data/store-v1.json");
const TABLES: [&str; 3] = ["meta/v1", "keys/v1", "aliases/v1"];

fn root_from(data: &Value) -> Arc<SoftwareRoot> {
    let bytes = hex::decode(data["root_key_hex"].as_str().unwrap()).unwrap();
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes(bytes.try_into().unwrap())).unwrap())
}

/// Writes the checked-in table entries into a fresh `keys.redb`.
fn write_store(dir: &Path, tables: &Value) {
    let db = redb::Database::create(dir.join("keys.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    for (name, entries) in tables.as_object().unwrap() {
        let mut table = txn
            .open_table(TableDefinition::<&str, &[u8]>::new(name))
            .unwrap();
        for (key, value) in entries.as_object().unwrap() {
            let value = hex::decode(value.as_str().unwrap()).unwrap();
            table.insert(key.as_str(), value.as_slice()).unwrap();
        }
    }
    txn.commit().unwrap();
}

#[test]
fn checked_in_store_still_opens() {
    let data: Value = serde_json::from_str(STORE).unwrap();
    let dir = tempfile::tempdir().unwrap();
    write_store(dir.path(), &data["tables"]);
    let kms = Kms::open(dir.path(), root_from(&data)).unwrap();

    let default = kms.describe_key("alias/sealgate-default").unwrap();
    assert_eq!(default.key_id, data["default_key_id"].as_str().unwrap());
    assert_eq!(
        (default.description.as_str(), default.current_key_version),
        ("frozen store v1", 2)
    );
    assert_eq!(default.key_state, KeyState::Enabled);
    for case in data["blobs"].as_array().unwrap() {
        let blob = hex::decode(case["blob_hex"].as_str().unwrap()).unwrap();
        let plain = kms.decrypt(&blob, &context(&case["context"])).unwrap();
        assert_eq!(
            hex::encode(plain.plaintext.as_bytes()),
            case["plaintext_hex"]
        );
        assert_eq!(Value::from(plain.key_version), case["key_version"]);
    }

    let other = data["other_key_id"].as_str().unwrap();
    assert_eq!(
        kms.describe_key(other).unwrap().key_state,
        KeyState::Disabled
    );
    assert_eq!(
        kms.get_key_rotation_status(other)
            .unwrap()
            .rotation_period_in_days,
        Some(90)
    );
    assert_eq!(kms.get_key_policy(other).unwrap().as_deref(), Some("{}"));
    assert_eq!(kms.list_resource_tags(other).unwrap()[0].tag_key, "frozen");
    assert_eq!(kms.list_keys().len(), 2);
}

/// Prints a fresh `tests/data/store-v1.json`.
#[test]
#[ignore]
fn print_frozen_store() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    let id = kms.default_key().unwrap().key_id;
    kms.update_key_description(&id, "frozen store v1").unwrap();
    let ctx = json!({"aws:s3:arn": "arn:aws:s3:::frozen-bucket/object"});
    let mut blobs = Vec::new();
    for (version, plain) in [(1, &b"under version 1"[..]), (2, &b"under version 2"[..])] {
        if version == 2 {
            kms.rotate_key_on_demand(&id).unwrap();
        }
        let blob = kms.encrypt(&id, plain, &context(&ctx)).unwrap();
        blobs.push(json!({"context": ctx, "key_version": version,
            "plaintext_hex": hex::encode(plain), "blob_hex": hex::encode(blob)}));
    }
    let tags = vec![Tag {
        tag_key: "frozen".into(),
        tag_value: "yes".into(),
    }];
    let req = CreateKey {
        description: "disabled one".into(),
        tags,
        policy: Some("{}".into()),
    };
    let other = kms.create_key(req).unwrap().key_id;
    kms.enable_key_rotation(&other, Some(90)).unwrap();
    kms.disable_key(&other).unwrap();
    drop(kms);

    let out = json!({
        "root_key_hex": hex::encode((0u8..32).collect::<Vec<u8>>()),
        "default_key_id": id,
        "other_key_id": other,
        "blobs": blobs,
        "tables": dump_tables(dir.path()),
    });
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
}

fn dump_tables(dir: &Path) -> Value {
    let db = redb::Database::create(dir.join("keys.redb")).unwrap();
    let txn = db.begin_read().unwrap();
    let mut tables = serde_json::Map::new();
    for name in TABLES {
        let def = TableDefinition::<&str, &[u8]>::new(name);
        let table = txn.open_table(def).unwrap();
        let entries = table.iter().unwrap().map(|e| {
            let (k, v) = e.unwrap();
            (k.value().to_string(), Value::from(hex::encode(v.value())))
        });
        tables.insert(def.name().to_string(), Value::Object(entries.collect()));
    }
    Value::Object(tables)
}
