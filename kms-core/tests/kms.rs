//! The `Kms` API: key creation, references, data keys, encrypt, decrypt, re-encrypt.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kms_core::{
    CreateKey, DataKeySpec, EncryptionContext, Error, Kms, KmsOptions, RootKey, SoftwareRoot, Tag,
};

fn root() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([5; 32])).unwrap())
}

fn kms() -> (tempfile::TempDir, Kms) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    (dir, kms)
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn default_key_is_created_once_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let first = Kms::open(dir.path(), root())
        .unwrap()
        .default_key()
        .unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    let again = kms.default_key().unwrap();
    assert_eq!(first, again);
    assert_eq!(
        kms.describe_key("alias/sealgate-default").unwrap().key_id,
        first.key_id
    );
    assert!(dir.path().join("keys.redb").exists());
}

#[test]
fn metadata_mirrors_aws() {
    let (_dir, kms) = kms();
    let tags = vec![Tag {
        tag_key: "team".into(),
        tag_value: "storage".into(),
    }];
    let req = CreateKey {
        description: "orders".into(),
        tags,
        policy: Some("{}".into()),
    };
    let meta = kms.create_key(req).unwrap();
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(json["KeyId"], meta.key_id);
    assert_eq!(
        json["Arn"],
        format!("arn:aws:kms:us-east-1:000000000000:key/{}", meta.key_id)
    );
    assert_eq!(json["KeyState"], "Enabled");
    assert_eq!(json["Enabled"], true);
    assert_eq!(json["KeyUsage"], "ENCRYPT_DECRYPT");
    assert_eq!(json["KeySpec"], "SYMMETRIC_DEFAULT");
    assert_eq!(json["Origin"], "AWS_KMS");
    assert_eq!(json["Description"], "orders");
    assert_eq!(json["CurrentKeyVersion"], 1);
    assert!(json["CreationDate"].as_i64().unwrap() > 1_700_000_000);
    assert!(json.get("DeletionDate").is_none());
}

#[test]
fn create_key_validates_its_request() {
    let (_dir, kms) = kms();
    let long = CreateKey {
        description: "x".repeat(8193),
        ..CreateKey::default()
    };
    let dup_tags = CreateKey {
        tags: vec![
            Tag {
                tag_key: "a".into(),
                tag_value: String::new(),
            },
            Tag {
                tag_key: "a".into(),
                tag_value: String::new(),
            },
        ],
        ..CreateKey::default()
    };
    for req in [long, dup_tags] {
        assert!(matches!(kms.create_key(req), Err(Error::Validation { .. })));
    }
}

#[test]
fn every_kind_of_reference_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let opts = KmsOptions {
        region: "eu-west-3".into(),
        account_id: "123456789012".into(),
    };
    let kms = Kms::open_with(dir.path(), root(), opts).unwrap();
    let id = kms.default_key().unwrap().key_id;
    for key_ref in [
        id.clone(),
        format!("arn:aws:kms:eu-west-3:123456789012:key/{id}"),
        "alias/sealgate-default".to_string(),
        "arn:aws:kms:eu-west-3:123456789012:alias/sealgate-default".to_string(),
    ] {
        assert_eq!(kms.describe_key(&key_ref).unwrap().key_id, id, "{key_ref}");
        kms.generate_data_key(&key_ref, &ctx(&[])).unwrap();
    }
    for bad in [
        format!("arn:aws:kms:us-east-1:000000000000:key/{id}"),
        "alias/nope".to_string(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        assert!(
            matches!(kms.describe_key(&bad), Err(Error::NotFound { .. })),
            "{bad}"
        );
    }
}

#[test]
fn data_key_round_trips_under_its_context() {
    let (_dir, kms) = kms();
    let key = kms.default_key().unwrap();
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/key")]);
    let dk = kms.generate_data_key(&key.key_id, &c).unwrap();
    assert_eq!(dk.key_version, 1);
    assert_eq!(dk.key_arn, key.arn);
    let back = kms.decrypt(&dk.ciphertext_blob, &c).unwrap();
    assert_eq!(back.key_id, key.key_id);
    assert_eq!(back.into_data_key().unwrap(), dk.plaintext);
}

#[test]
fn every_decryption_failure_is_invalid_ciphertext() {
    let (_dir, kms) = kms();
    let key = kms.default_key().unwrap();
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/a")]);
    let blob = kms
        .generate_data_key(&key.key_id, &c)
        .unwrap()
        .ciphertext_blob;

    let other_ctx = [
        ctx(&[]),
        ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/b")]),
        ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/a"), ("x", "")]),
    ];
    for wrong in &other_ctx {
        assert!(matches!(
            kms.decrypt(&blob, wrong),
            Err(Error::InvalidCiphertext)
        ));
    }
    for bit in 0..blob.len() * 8 {
        let mut bad = blob.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            matches!(kms.decrypt(&bad, &c), Err(Error::InvalidCiphertext)),
            "bit {bit}"
        );
    }
    for len in [0, 1, 20, 21, 40, blob.len() - 1] {
        assert!(matches!(
            kms.decrypt(&blob[..len], &c),
            Err(Error::InvalidCiphertext)
        ));
    }
    let mut longer = blob.clone();
    longer.push(0);
    assert!(matches!(
        kms.decrypt(&longer, &c),
        Err(Error::InvalidCiphertext)
    ));
}

#[test]
fn a_blob_does_not_open_under_another_key_or_unknown_version() {
    let (_dir, kms) = kms();
    let a = kms.create_key(CreateKey::default()).unwrap();
    let b = kms.create_key(CreateKey::default()).unwrap();
    let blob = kms.encrypt(&a.key_id, b"secret", &ctx(&[])).unwrap();

    let mut renamed = blob.clone();
    let b_id = uuid::Uuid::parse_str(&b.key_id).unwrap();
    renamed[1..17].copy_from_slice(b_id.as_bytes());
    assert!(matches!(
        kms.decrypt(&renamed, &ctx(&[])),
        Err(Error::InvalidCiphertext)
    ));

    let mut later = blob.clone();
    later[20] = 2;
    assert!(matches!(
        kms.decrypt(&later, &ctx(&[])),
        Err(Error::InvalidCiphertext)
    ));

    let other_dir = tempfile::tempdir().unwrap();
    let stranger = Kms::open(other_dir.path(), root()).unwrap();
    assert!(matches!(
        stranger.decrypt(&blob, &ctx(&[])),
        Err(Error::InvalidCiphertext)
    ));
}

#[test]
fn encrypt_takes_1_to_4096_bytes() {
    let (_dir, kms) = kms();
    let id = kms.default_key().unwrap().key_id;
    for len in [1, 4096] {
        let plain = vec![0x5A; len];
        let blob = kms.encrypt(&id, &plain, &ctx(&[("k", "v")])).unwrap();
        assert!(blob.len() <= kms_core::MAX_BLOB_LEN);
        let back = kms.decrypt(&blob, &ctx(&[("k", "v")])).unwrap();
        assert_eq!(back.plaintext.as_bytes(), &plain[..]);
    }
    for len in [0, 4097] {
        let err = kms.encrypt(&id, &vec![1; len], &ctx(&[])).unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: "Plaintext",
                ..
            }
        ));
    }
}

#[test]
fn re_encrypt_moves_a_blob_to_another_key_and_context() {
    let (_dir, kms) = kms();
    let a = kms.create_key(CreateKey::default()).unwrap();
    let b = kms.create_key(CreateKey::default()).unwrap();
    let (ca, cb) = (ctx(&[("obj", "a")]), ctx(&[("obj", "b")]));
    let blob = kms.encrypt(&a.key_id, b"payload", &ca).unwrap();
    let moved = kms.re_encrypt(&blob, &ca, &b.arn, &cb).unwrap();
    let back = kms.decrypt(&moved, &cb).unwrap();
    assert_eq!(
        (back.key_id.as_str(), back.plaintext.as_bytes()),
        (b.key_id.as_str(), &b"payload"[..])
    );
    assert!(matches!(
        kms.decrypt(&moved, &ca),
        Err(Error::InvalidCiphertext)
    ));
    assert!(matches!(
        kms.re_encrypt(&blob, &cb, &b.key_id, &cb),
        Err(Error::InvalidCiphertext)
    ));
}

#[test]
fn data_keys_of_every_length() {
    let (_dir, kms) = kms();
    let id = kms.default_key().unwrap().key_id;
    let c = ctx(&[]);
    for (spec, len) in [
        (DataKeySpec::Aes256, 32),
        (DataKeySpec::Aes128, 16),
        (DataKeySpec::Bytes(1), 1),
        (DataKeySpec::Bytes(1024), 1024),
    ] {
        let generated = kms.generate_data_key_with(&id, spec, &c, true).unwrap();
        let plain = generated.plaintext.unwrap();
        assert_eq!(plain.len(), len);
        assert_eq!(
            kms.decrypt(&generated.ciphertext_blob, &c)
                .unwrap()
                .plaintext,
            plain
        );
        let without = kms.generate_data_key_with(&id, spec, &c, false).unwrap();
        assert!(without.plaintext.is_none());
        assert_eq!(
            kms.decrypt(&without.ciphertext_blob, &c)
                .unwrap()
                .plaintext
                .len(),
            len
        );
    }
    for bad in [0, 1025] {
        let err = kms
            .generate_data_key_with(&id, DataKeySpec::Bytes(bad), &c, true)
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: "NumberOfBytes",
                ..
            }
        ));
    }
    let short = kms
        .generate_data_key_with(&id, DataKeySpec::Aes128, &c, true)
        .unwrap();
    let err = kms
        .decrypt(&short.ciphertext_blob, &c)
        .unwrap()
        .into_data_key()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext));
}

#[test]
fn generate_random_gives_1_to_1024_bytes() {
    let (_dir, kms) = kms();
    assert_eq!(kms.generate_random(1024).unwrap().len(), 1024);
    assert_ne!(
        kms.generate_random(32).unwrap(),
        kms.generate_random(32).unwrap()
    );
    assert!(matches!(
        kms.generate_random(0),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        kms.generate_random(1025),
        Err(Error::Validation { .. })
    ));
}

#[test]
fn many_data_keys_in_a_row() {
    let (_dir, kms) = kms();
    let id = kms.default_key().unwrap().key_id;
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::bucket/object")]);
    let mut last = None;
    for _ in 0..20_000 {
        let dk = kms.generate_data_key(&id, &c).unwrap();
        assert_ne!(Some(dk.ciphertext_blob.clone()), last);
        last = Some(dk.ciphertext_blob);
    }
    let blob = last.unwrap();
    for _ in 0..20_000 {
        kms.decrypt(&blob, &c).unwrap();
    }
}

#[test]
fn concurrent_creators_share_one_default_key() {
    let (_dir, kms) = kms();
    let kms = Arc::new(kms);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let kms = Arc::clone(&kms);
            std::thread::spawn(move || kms.default_key().unwrap().key_id)
        })
        .collect();
    let ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]));
}

#[test]
fn keys_survive_reopen_with_the_same_root_key_only() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(&[("a", "b")]);
    let (id, blob) = {
        let kms = Kms::open(dir.path(), root()).unwrap();
        let id = kms.create_key(CreateKey::default()).unwrap().key_id;
        (id.clone(), kms.encrypt(&id, b"kept", &c).unwrap())
    };
    let kms = Kms::open(dir.path(), root()).unwrap();
    assert_eq!(
        kms.decrypt(&blob, &c).unwrap().plaintext.as_bytes(),
        b"kept"
    );
    assert_eq!(kms.describe_key(&id).unwrap().key_id, id);
    drop(kms);

    let other = Arc::new(SoftwareRoot::new(&RootKey::from_bytes([6; 32])).unwrap());
    let err = Kms::open(dir.path(), other).unwrap_err();
    assert!(matches!(err, Error::RootOfTrust { .. }), "{err:?}");
}

#[test]
fn the_store_file_shows_no_description_tag_policy_or_material() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    let req = CreateKey {
        description: "MARKER-description".into(),
        tags: vec![Tag {
            tag_key: "MARKER-tag".into(),
            tag_value: "MARKER-value".into(),
        }],
        policy: Some("MARKER-policy".into()),
    };
    let id = kms.create_key(req).unwrap().key_id;
    kms.create_alias("alias/visible-name", &id).unwrap();
    drop(kms);
    let bytes = std::fs::read(dir.path().join("keys.redb")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("MARKER"), "record contents in the clear");
    assert!(
        !text.contains("Enabled") && !text.contains("INITIAL"),
        "record fields in the clear"
    );
    assert!(
        text.contains(&id) && text.contains("alias/visible-name"),
        "names are the keys"
    );
}

#[test]
fn a_record_moved_to_another_name_fails_to_load() {
    use redb::{ReadableDatabase, ReadableTable, TableDefinition};
    const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys/v1");

    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    let (a, b) = (
        kms.default_key().unwrap().key_id,
        kms.create_key(CreateKey::default()),
    );
    let b = b.unwrap().key_id;
    drop(kms);

    let db = redb::Database::create(dir.path().join("keys.redb")).unwrap();
    let read = db.begin_read().unwrap();
    let a_value = read
        .open_table(KEYS)
        .unwrap()
        .get(a.as_str())
        .unwrap()
        .unwrap()
        .value()
        .to_vec();
    drop(read);
    let write = db.begin_write().unwrap();
    write
        .open_table(KEYS)
        .unwrap()
        .insert(b.as_str(), a_value.as_slice())
        .unwrap();
    write.commit().unwrap();
    drop(db);

    let err = Kms::open(dir.path(), root()).unwrap_err();
    assert!(
        matches!(err, Error::CorruptRecord { ref record, .. } if *record == b),
        "{err:?}"
    );
}

#[test]
fn kms_is_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Kms>();
    shared::<kms_core::aead::Key>();
    shared::<SoftwareRoot>();
}
