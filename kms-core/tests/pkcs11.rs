//! The PKCS#11 root against a real SoftHSM2 token: sealing, the key objects' attributes,
//! destruction, parallel use, and recovery from lost sessions and a lost token.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

mod softhsm;

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::slot::Slot;
use kms_core::{
    Error, PKCS11_SEALED_FORMAT, Pin, Pkcs11Config, Pkcs11Root, RootOfTrust, TokenSelector,
    is_pkcs11_handle,
};
use softhsm::Token;

fn invalid(result: Result<kms_core::Plaintext, Error>) -> bool {
    matches!(result, Err(Error::InvalidCiphertext))
}

softhsm_test!(
    seal_open_binds_aad_and_detects_tampering,
    |token: &Token| {
        let root = token.root();
        assert_eq!(root.kind(), "pkcs11");
        let handle = root.create_version("key-a", 1).unwrap();
        assert_eq!(handle.len(), 20);
        assert_eq!(&handle[..4], b"p11\x01");
        assert!(is_pkcs11_handle(&handle) && root.owns_handle(&handle));

        let sealed = root.seal(&handle, b"context", b"a data key").unwrap();
        assert_eq!(sealed[0], PKCS11_SEALED_FORMAT);
        assert_eq!(sealed.len(), 1 + 12 + 10 + 16);
        let opened = root.open(&handle, b"context", &sealed).unwrap();
        assert_eq!(opened.as_bytes(), b"a data key");
        assert_ne!(
            sealed,
            root.seal(&handle, b"context", b"a data key").unwrap()
        );

        assert!(invalid(root.open(&handle, b"other", &sealed)));
        assert!(invalid(root.open(&handle, b"", &sealed)));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                invalid(root.open(&handle, b"context", &tampered)),
                "byte {i}"
            );
        }
        assert!(invalid(root.open(&handle, b"context", &sealed[..28])));
        let other = root.create_version("key-a", 2).unwrap();
        assert!(invalid(root.open(&other, b"context", &sealed)));
    }
);

softhsm_test!(destroy_is_final_and_repeatable, |token: &Token| {
    let root = token.root();
    let handle = root.create_version("key-d", 1).unwrap();
    let sealed = root.seal(&handle, b"", b"x").unwrap();
    root.destroy(&handle).unwrap();

    let err = root.open(&handle, b"", &sealed).unwrap_err();
    assert!(
        matches!(err, Error::RootOfTrust { kind: "pkcs11", .. }),
        "{err:?}"
    );
    root.destroy(&handle).unwrap();
    assert!(labels(&root).iter().all(|l| l != "sealgate:key-d:v1"));

    // A root that never saw the object (no cache) destroys it as well.
    let handle = root.create_version("key-d", 2).unwrap();
    token.root().destroy(&handle).unwrap();
    assert!(root.seal(&handle, b"", b"x").is_err());
});

softhsm_test!(
    key_objects_are_sensitive_and_never_readable,
    |token: &Token| {
        let root = token.root();
        let handles = [
            root.create_version("key-s", 1).unwrap(),
            root.create_version("key-s", 2).unwrap(),
        ];
        let objects = root.key_objects().unwrap();
        assert_eq!(objects.len(), 2, "{objects:?}");
        for (i, handle) in handles.iter().enumerate() {
            let label = format!("sealgate:key-s:v{}", i + 1);
            let object = objects.iter().find(|o| o.label == label).unwrap();
            assert_eq!(object.id, handle[4..]);
            assert!(object.sensitive, "{object:?}");
            assert!(!object.extractable, "{object:?}");
            assert!(!object.value_readable, "{object:?}");
            assert!(!object.wrap && !object.unwrap, "{object:?}");
        }
    }
);

softhsm_test!(eight_threads_seal_and_open_in_parallel, |token: &Token| {
    let root = token.root();
    let handle = root.create_version("key-p", 1).unwrap();
    std::thread::scope(|scope| {
        for t in 0..8u8 {
            let (root, handle) = (&root, &handle);
            scope.spawn(move || {
                for i in 0..100u8 {
                    let plain = [t, i, 7, 7];
                    let sealed = root.seal(handle, &[t], &plain).unwrap();
                    let opened = root.open(handle, &[t], &sealed).unwrap();
                    assert_eq!(opened.as_bytes(), plain);
                }
            });
        }
    });
});

softhsm_test!(a_logout_is_recovered_on_the_next_call, |token: &Token| {
    let root = token.root();
    let handle = root.create_version("key-l", 1).unwrap();
    let sealed = root.seal(&handle, b"a", b"before").unwrap();

    // C_Logout on any session logs every session of the application out.
    let (ctx, slot) = other_context();
    ctx.open_ro_session(slot).unwrap().logout().unwrap();

    assert_eq!(
        root.open(&handle, b"a", &sealed).unwrap().as_bytes(),
        b"before"
    );
    ctx.open_ro_session(slot).unwrap().logout().unwrap();
    let again = root.seal(&handle, b"a", b"after").unwrap();
    assert_eq!(
        root.open(&handle, b"a", &again).unwrap().as_bytes(),
        b"after"
    );
});

softhsm_test!(
    a_finalized_library_is_recovered_on_the_next_call,
    |token: &Token| {
        let root = token.root();
        let handle = root.create_version("key-f", 1).unwrap();
        let sealed = root.seal(&handle, b"a", b"before").unwrap();

        // Every session is gone and the library uninitialized: as if the HSM client restarted.
        finalize_library();
        assert_eq!(
            root.open(&handle, b"a", &sealed).unwrap().as_bytes(),
            b"before"
        );

        finalize_library();
        let new = root.create_version("key-f", 2).unwrap();
        let sealed = root.seal(&new, b"a", b"new").unwrap();
        assert_eq!(root.open(&new, b"a", &sealed).unwrap().as_bytes(), b"new");
    }
);

softhsm_test!(
    a_missing_token_is_unavailable_and_loses_nothing,
    |token: &Token| {
        let root = token.root();
        let handle = root.create_version("key-u", 1).unwrap();
        let sealed = root.seal(&handle, b"a", b"kept").unwrap();

        // Pull the token out: finalize, and move its folder away.
        finalize_library();
        let (inside, outside) = token_folder(&token.tokens);
        std::fs::rename(&inside, &outside).unwrap();
        let err = root.open(&handle, b"a", &sealed).unwrap_err();
        assert!(
            matches!(err, Error::RootUnavailable { kind: "pkcs11", .. }),
            "{err:?}"
        );
        assert!(matches!(
            root.create_version("key-u", 2),
            Err(Error::RootUnavailable { .. })
        ));

        // Put it back: the next call reconnects and the key is still there.
        std::fs::rename(&outside, &inside).unwrap();
        finalize_library();
        assert_eq!(
            root.open(&handle, b"a", &sealed).unwrap().as_bytes(),
            b"kept"
        );
    }
);

softhsm_test!(open_reports_a_wrong_pin_or_label, |_token: &Token| {
    let config = |token, pin: &str| Pkcs11Config::new(softhsm::MODULE, token, Pin::new(pin.into()));
    let label = || TokenSelector::Label(softhsm::LABEL.into());
    let err = Pkcs11Root::open(&config(label(), "0000")).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pkcs11Open {
                reason: "C_Login",
                ..
            }
        ),
        "{err:?}"
    );
    let err = Pkcs11Root::open(&config(TokenSelector::Label("nope".into()), softhsm::PIN));
    let err = err.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pkcs11Open {
                reason: "find the token",
                ..
            }
        ),
        "{err:?}"
    );

    let root = Pkcs11Root::open(&config(label(), softhsm::PIN)).unwrap();
    let text = format!("{root:?} {err:?} {err}");
    assert!(text.contains("redacted"), "{text}");
    assert!(!text.contains(softhsm::PIN), "{text}");
});

softhsm_test!(a_token_is_found_by_slot_id, |_token: &Token| {
    let (_, slot) = other_context();
    let mut config = Pkcs11Config::new(
        softhsm::MODULE,
        TokenSelector::Slot(slot.id()),
        Pin::new(softhsm::PIN.into()),
    );
    config.sessions = 1;
    let root = Pkcs11Root::open(&config).unwrap();
    let handle = root.create_version("key-i", 1).unwrap();
    let sealed = root.seal(&handle, b"", b"x").unwrap();
    assert_eq!(root.open(&handle, b"", &sealed).unwrap().as_bytes(), b"x");
});

fn labels(root: &Pkcs11Root) -> Vec<String> {
    root.key_objects()
        .unwrap()
        .into_iter()
        .map(|o| o.label)
        .collect()
}

/// A second handle on the same (process-wide) library, and the test token's slot.
fn other_context() -> (Pkcs11, Slot) {
    let ctx = Pkcs11::new(softhsm::MODULE).unwrap();
    let _already = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slots = ctx.get_slots_with_token().unwrap();
    let slot = slots
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == softhsm::LABEL)
        .unwrap();
    (ctx, slot)
}

/// `C_Finalize` of the process-wide library: every session is closed, every login ends.
fn finalize_library() {
    let ctx = Pkcs11::new(softhsm::MODULE).unwrap();
    let _already = ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    ctx.finalize().unwrap();
}

/// The token's own folder inside the token folder, and a place beside it.
fn token_folder(tokens: &Path) -> (PathBuf, PathBuf) {
    let mut entries = std::fs::read_dir(tokens).unwrap();
    let inside = entries.next().unwrap().unwrap().path();
    (inside, tokens.with_file_name("token-pulled-out"))
}
