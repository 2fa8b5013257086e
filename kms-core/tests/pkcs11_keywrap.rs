//! The PKCS#11 root in key-wrap mode (forced on SoftHSM2, which also has `CKM_AES_GCM`):
//! sealing, tampering, both formats opening under either mode, a whole `Kms`, and the key
//! objects' attributes.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod softhsm;

use std::sync::Arc;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use kms_core::aead::{Key, NONCE_LEN, TAG_LEN};
use kms_core::{
    CreateKey, EncryptionContext, Error, Kms, PKCS11_SEALED_FORMAT, PKCS11_WRAPPED_FORMAT,
    Pkcs11Root, RootOfTrust, SealMechanism,
};
use softhsm::Token;

/// Format byte, mechanism byte and the u16 length of a 32-byte key wrapped by RFC 5649.
const HEADER: usize = 1 + 1 + 2 + 40;

fn invalid(result: Result<kms_core::Plaintext, Error>) -> bool {
    matches!(result, Err(Error::InvalidCiphertext))
}

fn key_wrap(token: &Token) -> Pkcs11Root {
    let root = token.root_with(SealMechanism::KeyWrap);
    assert_eq!(root.mechanism(), SealMechanism::KeyWrap);
    root
}

softhsm_test!(auto_picks_gcm_on_softhsm, |token: &Token| {
    assert_eq!(token.root().mechanism(), SealMechanism::Gcm);
    let root = token.root_with(SealMechanism::Gcm);
    assert_eq!(root.mechanism(), SealMechanism::Gcm);
    assert!(format!("{root:?}").contains("Gcm"));
});

softhsm_test!(
    key_wrap_round_trips_binds_aad_and_detects_tampering,
    |token: &Token| {
        let root = key_wrap(token);
        let handle = root.create_version("key-w", 1).unwrap();
        let sealed = root.seal(&handle, b"context", b"a data key").unwrap();
        assert_eq!(sealed[..4], [PKCS11_WRAPPED_FORMAT, 1, 0, 40]);
        assert_eq!(sealed.len(), HEADER + NONCE_LEN + 10 + TAG_LEN);
        let opened = root.open(&handle, b"context", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), b"a data key");
        let again = root.seal(&handle, b"context", b"a data key").unwrap();
        assert_ne!(sealed[4..HEADER], again[4..HEADER], "a fresh content key");

        assert!(invalid(root.open(&handle, b"other", &sealed)));
        assert!(invalid(root.open(&handle, b"", &sealed)));
        let other = root.create_version("key-w", 2).unwrap();
        assert!(invalid(root.open(&other, b"context", &sealed)));

        let regions = [
            (0..4, "header"),
            (4..HEADER, "wrapped key"),
            (HEADER..HEADER + NONCE_LEN, "nonce"),
            (HEADER + NONCE_LEN..sealed.len() - TAG_LEN, "ciphertext"),
            (sealed.len() - TAG_LEN..sealed.len(), "tag"),
        ];
        for (range, region) in regions {
            for i in range {
                for flip in [0x01, 0x80] {
                    let mut tampered = sealed.clone();
                    tampered[i] ^= flip;
                    let result = root.open(&handle, b"context", &tampered);
                    assert!(invalid(result), "{region}: byte {i} ^ {flip:#x}");
                }
            }
        }
        for len in 0..sealed.len() {
            assert!(
                invalid(root.open(&handle, b"context", &sealed[..len])),
                "{len}"
            );
        }
        let mut plain_wrap = sealed.clone();
        plain_wrap[1] = 2;
        assert!(invalid(root.open(&handle, b"context", &plain_wrap)));
        let longer = [&sealed[..], &[0]].concat();
        assert!(invalid(root.open(&handle, b"context", &longer)));
    }
);

softhsm_test!(both_formats_open_under_either_mode, |token: &Token| {
    let (gcm, wrap) = (token.root_with(SealMechanism::Gcm), key_wrap(token));
    let gcm_version = gcm.create_version("key-x", 1).unwrap();
    let wrap_version = wrap.create_version("key-x", 2).unwrap();

    let old = gcm
        .seal(&gcm_version, b"a", b"sealed in the token")
        .unwrap();
    assert_eq!(old[0], PKCS11_SEALED_FORMAT);
    assert_eq!(
        wrap.open(&gcm_version, b"a", &old).unwrap().as_bytes(),
        b"sealed in the token"
    );

    let new = wrap
        .seal(&wrap_version, b"a", b"wrapped content key")
        .unwrap();
    assert_eq!(new[0], PKCS11_WRAPPED_FORMAT);
    assert_eq!(
        gcm.open(&wrap_version, b"a", &new).unwrap().as_bytes(),
        b"wrapped content key"
    );
    assert!(invalid(gcm.open(&wrap_version, b"b", &new)));

    // A version made in GCM mode may not wrap: key-wrap mode seals it with AES-GCM.
    let fallback = wrap.seal(&gcm_version, b"a", b"still gcm").unwrap();
    assert_eq!(fallback[0], PKCS11_SEALED_FORMAT);
    assert_eq!(
        gcm.open(&gcm_version, b"a", &fallback).unwrap().as_bytes(),
        b"still gcm"
    );
    // A format-2 value claiming a version that may not unwrap is just invalid.
    assert!(invalid(wrap.open(&gcm_version, b"a", &new)));
    // A version made in key-wrap mode still encrypts, so GCM mode seals under it.
    let sealed = gcm.seal(&wrap_version, b"a", b"gcm again").unwrap();
    assert_eq!(
        wrap.open(&wrap_version, b"a", &sealed).unwrap().as_bytes(),
        b"gcm again"
    );
});

softhsm_test!(
    a_value_wrapped_with_rfc_3394_by_hand_opens,
    |token: &Token| {
        let root = key_wrap(token);
        let handle = root.create_version("key-h", 1).unwrap();

        // Another context in the same process shares the root's login.
        let ctx = Pkcs11::new(softhsm::MODULE).unwrap();
        let _already = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
        let slot = ctx.get_slots_with_token().unwrap()[0];
        let session = ctx.open_ro_session(slot).unwrap();
        let id = Attribute::Id(handle[4..].to_vec());
        let master = session.find_objects(&[id]).unwrap()[0];
        let content = [0x42u8; 32];
        let object = session
            .create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::Extractable(true),
                Attribute::Sensitive(false),
                Attribute::Value(content.to_vec()),
            ])
            .unwrap();
        let wrapped = session
            .wrap_key(&Mechanism::AesKeyWrap, master, object)
            .unwrap();
        session.destroy_object(object).unwrap();

        // The documented layout: mechanism 2, the header bound in the associated data.
        let header = [&[2u8, 2, 0, wrapped.len() as u8][..], &wrapped].concat();
        let nonce = [7u8; NONCE_LEN];
        let mut body = b"by hand".to_vec();
        let aad = [&header[..], b"ctx"].concat();
        Key::new(&content)
            .unwrap()
            .seal_in_place_append_tag(&nonce, &aad, &mut body)
            .unwrap();
        let sealed = [&header[..], &nonce, &body].concat();
        assert_eq!(
            root.open(&handle, b"ctx", &sealed).unwrap().as_bytes(),
            b"by hand"
        );
        assert!(invalid(root.open(&handle, b"", &sealed)));
        let mut as_pad = sealed.clone();
        as_pad[1] = 1;
        assert!(invalid(root.open(&handle, b"ctx", &as_pad)));
    }
);

softhsm_test!(
    key_wrap_versions_stay_sensitive_and_leave_no_objects,
    |token: &Token| {
        let root = key_wrap(token);
        let gcm = token.root_with(SealMechanism::Gcm);
        let wrapping = root.create_version("key-s", 1).unwrap();
        let plain = gcm.create_version("key-s", 2).unwrap();
        for _ in 0..5 {
            let sealed = root.seal(&wrapping, b"", b"x").unwrap();
            root.open(&wrapping, b"", &sealed).unwrap();
            gcm.open(&wrapping, b"", &sealed).unwrap();
        }

        // Content keys were session objects, destroyed at once: only the versions remain.
        let objects = root.key_objects().unwrap();
        assert_eq!(objects.len(), 2, "{objects:?}");
        for (handle, wraps) in [(&wrapping, true), (&plain, false)] {
            let object = objects.iter().find(|o| o.id == handle[4..]).unwrap();
            assert!(object.sensitive, "{object:?}");
            assert!(!object.extractable, "{object:?}");
            assert!(!object.value_readable, "{object:?}");
            assert_eq!((object.wrap, object.unwrap), (wraps, wraps), "{object:?}");
        }
    }
);

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into())])
}

softhsm_test!(a_kms_lives_in_key_wrap_mode, |token: &Token| {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(dir.path(), Arc::new(key_wrap(token))).unwrap();
    let id = kms.create_key(CreateKey::default()).unwrap().key_id;

    let first = kms.generate_data_key(&id, &ctx()).unwrap();
    let opened = kms.decrypt(&first.ciphertext_blob, &ctx()).unwrap();
    assert_eq!(opened.into_data_key().unwrap(), first.plaintext);
    let wrong = kms.decrypt(&first.ciphertext_blob, &EncryptionContext::new());
    assert!(matches!(wrong, Err(Error::InvalidCiphertext)), "{wrong:?}");

    kms.rotate_key_on_demand(&id).unwrap();
    let second = kms.generate_data_key(&id, &ctx()).unwrap();
    assert_eq!((first.key_version, second.key_version), (1, 2));
    assert!(kms.decrypt(&first.ciphertext_blob, &ctx()).is_ok());
    let opened = kms.decrypt(&second.ciphertext_blob, &ctx()).unwrap();
    assert_eq!(opened.into_data_key().unwrap(), second.plaintext);

    // The store reopens on a key-wrap root and on a GCM root alike.
    drop(kms);
    for mechanism in [SealMechanism::KeyWrap, SealMechanism::Auto] {
        let kms = Kms::open(dir.path(), Arc::new(token.root_with(mechanism))).unwrap();
        for blob in [&first.ciphertext_blob, &second.ciphertext_blob] {
            assert!(kms.decrypt(blob, &ctx()).is_ok(), "{mechanism:?}");
        }
    }

    let kms = Kms::open(dir.path(), Arc::new(key_wrap(token))).unwrap();
    kms.disable_key(&id).unwrap();
    kms.schedule_key_deletion(&id, Some(7)).unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::days(8);
    assert_eq!(kms.delete_due(later).unwrap(), vec![id.clone()]);
    let err = kms.decrypt(&first.ciphertext_blob, &ctx()).unwrap_err();
    assert!(matches!(err, Error::InvalidCiphertext), "{err:?}");
});
