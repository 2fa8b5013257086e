//! Master-key lifecycle: states, aliases, rotation and deletion, with AWS's rules.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::sync::Arc;

use kms_core::{
    CreateKey, EncryptionContext, Error, KeyState, Kms, RootKey, RotationType, SoftwareRoot,
};
use time::{Duration, OffsetDateTime};

fn root() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([9; 32])).unwrap())
}

fn kms() -> (tempfile::TempDir, Kms) {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    (dir, kms)
}

fn new_key(kms: &Kms) -> String {
    kms.create_key(CreateKey::default()).unwrap().key_id
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("purpose".into(), "test".into())])
}

fn days(n: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(n)
}

#[test]
fn a_disabled_key_encrypts_and_decrypts_nothing_until_enabled() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let blob = kms.encrypt(&id, b"secret", &ctx()).unwrap();

    let meta = kms.disable_key(&id).unwrap();
    assert_eq!((meta.key_state, meta.enabled), (KeyState::Disabled, false));
    assert!(matches!(
        kms.decrypt(&blob, &ctx()),
        Err(Error::Disabled { .. })
    ));
    assert!(matches!(
        kms.encrypt(&id, b"x", &ctx()),
        Err(Error::Disabled { .. })
    ));
    assert!(matches!(
        kms.generate_data_key(&id, &ctx()),
        Err(Error::Disabled { .. })
    ));
    let other = new_key(&kms);
    let moved = kms.re_encrypt(&blob, &ctx(), &other, &ctx());
    assert!(matches!(moved, Err(Error::Disabled { .. })));

    assert_eq!(kms.enable_key(&id).unwrap().key_state, KeyState::Enabled);
    assert_eq!(
        kms.decrypt(&blob, &ctx()).unwrap().plaintext.as_bytes(),
        b"secret"
    );
}

#[test]
fn state_changes_take_key_ids_or_arns_but_not_aliases() {
    let (_dir, kms) = kms();
    let meta = kms.create_key(CreateKey::default()).unwrap();
    kms.create_alias("alias/app", &meta.key_id).unwrap();
    assert!(matches!(
        kms.disable_key("alias/app"),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        kms.disable_key(&meta.arn).unwrap().key_state,
        KeyState::Disabled
    );
}

#[test]
fn description_updates_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let kms = Kms::open(dir.path(), root()).unwrap();
        let id = new_key(&kms);
        kms.update_key_description(&id, "payments").unwrap();
        let too_long = "x".repeat(8193);
        let err = kms.update_key_description(&id, &too_long).unwrap_err();
        assert!(matches!(err, Error::Validation { .. }));
        id
    };
    let kms = Kms::open(dir.path(), root()).unwrap();
    assert_eq!(kms.describe_key(&id).unwrap().description, "payments");
}

#[test]
fn list_keys_lists_every_key() {
    let (_dir, kms) = kms();
    let mut ids = vec![
        new_key(&kms),
        new_key(&kms),
        kms.default_key().unwrap().key_id,
    ];
    ids.sort();
    let listed: Vec<String> = kms.list_keys().into_iter().map(|k| k.key_id).collect();
    assert_eq!(listed, ids);
    let arn = &kms.list_keys()[0].key_arn;
    assert!(arn.starts_with("arn:aws:kms:us-east-1:000000000000:key/"));
}

#[test]
fn aliases_are_created_updated_listed_and_deleted() {
    let (_dir, kms) = kms();
    let (a, b) = (new_key(&kms), new_key(&kms));
    kms.create_alias("alias/orders", &a).unwrap();
    let err = kms.create_alias("alias/orders", &b).unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }));
    assert!(matches!(
        kms.create_alias("alias/aws/s3", &a),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        kms.create_alias("orders", &a),
        Err(Error::Validation { .. })
    ));
    assert!(matches!(
        kms.create_alias("alias/x", "alias/orders"),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(kms.describe_key("alias/orders").unwrap().key_id, a);

    kms.update_alias("alias/orders", &b).unwrap();
    assert_eq!(kms.describe_key("alias/orders").unwrap().key_id, b);
    assert!(matches!(
        kms.update_alias("alias/none", &b),
        Err(Error::NotFound { .. })
    ));

    kms.create_alias("alias/billing", &a).unwrap();
    let all = kms.list_aliases(None).unwrap();
    let names: Vec<&str> = all.iter().map(|e| e.alias_name.as_str()).collect();
    assert_eq!(names, ["alias/billing", "alias/orders"]);
    assert_eq!(
        all[0].alias_arn,
        "arn:aws:kms:us-east-1:000000000000:alias/billing"
    );
    let of_b = kms.list_aliases(Some(&b)).unwrap();
    assert_eq!(
        (of_b.len(), of_b[0].target_key_id.as_str()),
        (1, b.as_str())
    );

    kms.delete_alias("alias/orders").unwrap();
    assert!(matches!(
        kms.describe_key("alias/orders"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        kms.delete_alias("alias/orders"),
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        kms.describe_key(&b).unwrap().key_id,
        b,
        "deleting an alias keeps the key"
    );
}

#[test]
fn rotation_is_off_by_default_and_validates_its_period() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let status = kms.get_key_rotation_status(&id).unwrap();
    assert!(!status.key_rotation_enabled && status.next_rotation_date.is_none());
    for bad in [89, 2561] {
        let err = kms.enable_key_rotation(&id, Some(bad)).unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: "RotationPeriodInDays",
                ..
            }
        ));
    }
    kms.enable_key_rotation(&id, None).unwrap();
    let status = kms.get_key_rotation_status(&id).unwrap();
    assert_eq!(status.rotation_period_in_days, Some(365));
    let next = status.next_rotation_date.unwrap();
    assert!((next - days(365)).abs() < Duration::minutes(1));

    kms.disable_key_rotation(&id).unwrap();
    assert!(
        !kms.get_key_rotation_status(&id)
            .unwrap()
            .key_rotation_enabled
    );
}

#[test]
fn rotation_on_demand_adds_a_version_and_old_blobs_still_decrypt() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let before = kms.encrypt(&id, b"pre-rotation", &ctx()).unwrap();

    let rotation = kms.rotate_key_on_demand(&id).unwrap();
    assert_eq!(
        (rotation.key_version, rotation.rotation_type),
        (2, RotationType::OnDemand)
    );
    assert_eq!(kms.describe_key(&id).unwrap().current_key_version, 2);

    let after = kms.generate_data_key(&id, &ctx()).unwrap();
    assert_eq!(after.key_version, 2);
    assert_eq!(kms.decrypt(&before, &ctx()).unwrap().key_version, 1);
    assert_eq!(
        kms.decrypt(&before, &ctx()).unwrap().plaintext.as_bytes(),
        b"pre-rotation"
    );
    assert_eq!(
        kms.decrypt(&after.ciphertext_blob, &ctx())
            .unwrap()
            .key_version,
        2
    );

    let listed = kms.list_key_rotations(&id).unwrap();
    assert_eq!(listed, vec![rotation]);
    assert!(
        !kms.get_key_rotation_status(&id)
            .unwrap()
            .key_rotation_enabled
    );
}

#[test]
fn on_demand_rotation_has_a_limit_and_needs_an_enabled_key() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    for _ in 0..25 {
        kms.rotate_key_on_demand(&id).unwrap();
    }
    assert!(matches!(
        kms.rotate_key_on_demand(&id),
        Err(Error::LimitExceeded { .. })
    ));
    let other = new_key(&kms);
    kms.disable_key(&other).unwrap();
    assert!(matches!(
        kms.rotate_key_on_demand(&other),
        Err(Error::Disabled { .. })
    ));
    assert!(matches!(
        kms.enable_key_rotation(&other, None),
        Err(Error::Disabled { .. })
    ));
}

#[test]
fn rotate_due_rotates_what_is_due_once_and_reschedules() {
    let (_dir, kms) = kms();
    let (due, later, off) = (new_key(&kms), new_key(&kms), new_key(&kms));
    kms.enable_key_rotation(&due, Some(90)).unwrap();
    kms.enable_key_rotation(&later, Some(365)).unwrap();
    let blob = kms.encrypt(&due, b"old", &ctx()).unwrap();

    assert!(
        kms.rotate_due(OffsetDateTime::now_utc())
            .unwrap()
            .is_empty()
    );
    let now = days(100);
    let done = kms.rotate_due(now).unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(
        (done[0].key_id.as_str(), done[0].key_version),
        (due.as_str(), 2)
    );
    assert_eq!(done[0].rotation_type, RotationType::Automatic);
    assert!(kms.rotate_due(now).unwrap().is_empty(), "rotated twice");

    let next = kms
        .get_key_rotation_status(&due)
        .unwrap()
        .next_rotation_date
        .unwrap();
    assert!((next - (now + Duration::days(90))).abs() < Duration::seconds(1));
    assert_eq!(kms.describe_key(&later).unwrap().current_key_version, 1);
    assert_eq!(kms.describe_key(&off).unwrap().current_key_version, 1);
    assert_eq!(
        kms.decrypt(&blob, &ctx()).unwrap().plaintext.as_bytes(),
        b"old"
    );
}

#[test]
fn a_missed_rotation_is_caught_up_after_reopen_and_re_enable() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let kms = Kms::open(dir.path(), root()).unwrap();
        let id = new_key(&kms);
        kms.enable_key_rotation(&id, Some(90)).unwrap();
        kms.disable_key(&id).unwrap();
        id
    };
    let kms = Kms::open(dir.path(), root()).unwrap();
    assert!(
        kms.rotate_due(days(200)).unwrap().is_empty(),
        "a disabled key rotated"
    );
    kms.enable_key(&id).unwrap();
    let done = kms.rotate_due(days(200)).unwrap();
    assert_eq!(
        done.len(),
        1,
        "one catch-up rotation, not one per missed period"
    );
}

#[test]
fn deletion_needs_a_disabled_key_and_a_period_of_7_to_30_days() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let err = kms.schedule_key_deletion(&id, None).unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidState {
            state: KeyState::Enabled,
            ..
        }
    ));
    kms.disable_key(&id).unwrap();
    for bad in [6, 31] {
        let err = kms.schedule_key_deletion(&id, Some(bad)).unwrap_err();
        assert!(matches!(
            err,
            Error::Validation {
                field: "PendingWindowInDays",
                ..
            }
        ));
    }
    let meta = kms.schedule_key_deletion(&id, None).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingDeletion);
    assert_eq!(meta.pending_deletion_window_in_days, Some(30));
    assert!((meta.deletion_date.unwrap() - days(30)).abs() < Duration::minutes(1));
    let json = serde_json::to_value(&meta).unwrap();
    assert_eq!(json["KeyState"], "PendingDeletion");
    assert!(json["DeletionDate"].is_i64());
}

#[test]
fn a_key_pending_deletion_refuses_use_and_changes() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let blob = kms.encrypt(&id, b"secret", &ctx()).unwrap();
    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();

    let pending = |r: Result<_, Error>| matches!(r, Err(Error::InvalidState { .. }));
    assert!(pending(kms.decrypt(&blob, &ctx()).map(drop)));
    assert!(pending(kms.encrypt(&id, b"x", &ctx()).map(drop)));
    assert!(pending(kms.enable_key(&id).map(drop)));
    assert!(pending(kms.disable_key(&id).map(drop)));
    assert!(pending(kms.update_key_description(&id, "x").map(drop)));
    assert!(pending(kms.create_alias("alias/late", &id)));
    assert!(pending(kms.schedule_key_deletion(&id, None).map(drop)));
    assert!(kms.describe_key(&id).is_ok());
}

#[test]
fn cancelled_deletion_returns_the_key_to_disabled() {
    let (_dir, kms) = kms();
    let id = new_key(&kms);
    let blob = kms.encrypt(&id, b"kept", &ctx()).unwrap();
    assert!(matches!(
        kms.cancel_key_deletion(&id),
        Err(Error::InvalidState { .. })
    ));
    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();

    let meta = kms.cancel_key_deletion(&id).unwrap();
    assert_eq!(
        (meta.key_state, meta.deletion_date),
        (KeyState::Disabled, None)
    );
    assert!(kms.delete_due(days(60)).unwrap().is_empty());
    kms.enable_key(&id).unwrap();
    assert_eq!(
        kms.decrypt(&blob, &ctx()).unwrap().plaintext.as_bytes(),
        b"kept"
    );
}

#[test]
fn delete_due_destroys_the_key_its_aliases_and_what_it_protected() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), root()).unwrap();
    let (id, keep) = (new_key(&kms), new_key(&kms));
    kms.create_alias("alias/doomed", &id).unwrap();
    kms.rotate_key_on_demand(&id).unwrap();
    let blob = kms.encrypt(&id, b"gone", &ctx()).unwrap();
    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();

    assert!(kms.delete_due(days(6)).unwrap().is_empty());
    assert_eq!(kms.delete_due(days(8)).unwrap(), vec![id.clone()]);
    assert!(matches!(kms.describe_key(&id), Err(Error::NotFound { .. })));
    assert!(matches!(
        kms.describe_key("alias/doomed"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        kms.decrypt(&blob, &ctx()),
        Err(Error::InvalidCiphertext)
    ));
    assert!(kms.delete_due(days(8)).unwrap().is_empty());
    drop(kms);

    let kms = Kms::open(dir.path(), root()).unwrap();
    assert!(matches!(
        kms.decrypt(&blob, &ctx()),
        Err(Error::InvalidCiphertext)
    ));
    assert_eq!(kms.list_keys().len(), 1);
    assert_eq!(kms.describe_key(&keep).unwrap().key_id, keep);
}

#[test]
fn policy_and_tags_are_stored() {
    let (_dir, kms) = kms();
    let tags = vec![kms_core::Tag {
        tag_key: "env".into(),
        tag_value: "prod".into(),
    }];
    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#.to_string();
    let req = CreateKey {
        tags: tags.clone(),
        policy: Some(policy.clone()),
        ..CreateKey::default()
    };
    let id = kms.create_key(req).unwrap().key_id;
    assert_eq!(kms.get_key_policy(&id).unwrap(), Some(policy));
    assert_eq!(kms.list_resource_tags(&id).unwrap(), tags);
    assert_eq!(kms.get_key_policy(&new_key(&kms)).unwrap(), None);
}
