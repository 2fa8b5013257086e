//! Sealgate's key management core: master keys and their versions, the root of trust, the
//! embedded key store, data keys, and the AES-256-GCM seam of the whole product.
//!
//! The gateway's `keys` step asks [`Kms`] for a fresh data key per object (PUT) or unwraps the
//! stored one (GET); its `seal` step encrypts segments with [`aead::Key`]; its KMS endpoint maps
//! AWS KMS operations onto [`Kms`] one to one. This crate does no I/O beyond its key store, its
//! root key file and its PKCS#11 token, and no logging: everything is reported through return
//! values.
//!
//! Where things are: [`aead`] is the AES-256-GCM seam; `kms` holds [`Kms`] and the
//! cryptographic operations, `lifecycle`, `aliases` and `rotation` the rest of the key's life;
//! `root` the [`RootOfTrust`] seam and [`SoftwareRoot`], `pkcs11` the HSM root [`Pkcs11Root`],
//! `migrating` the [`MigratingRoot`] that layers them and `migration` the move of an
//! installation from one root to the other; `store` and `catalog` the redb key store
//! and its in-memory view; `blob` the ciphertext blob format; `secret` the secret types. The
//! frozen byte formats are described in `docs/format-kms.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aead;
mod aliases;
mod blob;
mod catalog;
mod error;
#[cfg(test)]
mod frozen;
mod kms;
mod lifecycle;
mod migrating;
mod migration;
mod pkcs11;
mod root;
mod rotation;
mod secret;
mod store;
mod types;

pub use blob::{BLOB_FORMAT_V1, MAX_BLOB_LEN};
pub use error::Error;
pub use kms::{DEFAULT_ALIAS, Kms, MAX_PLAINTEXT_LEN};
pub use lifecycle::DEFAULT_PENDING_WINDOW_DAYS;
pub use migrating::MigratingRoot;
pub use pkcs11::{
    DEFAULT_PKCS11_SESSIONS, KeyObjectInfo, PKCS11_SEALED_FORMAT, PKCS11_WRAPPED_FORMAT,
    Pkcs11Config, Pkcs11Root, SealMechanism, TokenSelector, is_pkcs11_handle,
};
pub use root::{RootOfTrust, SoftwareRoot};
pub use rotation::{DEFAULT_ROTATION_PERIOD_DAYS, MAX_ON_DEMAND_ROTATIONS};
pub use secret::{DataKey, Pin, Plaintext, RootKey};
pub use types::{
    AliasEntry, CreateKey, DataKeySpec, Decrypted, EncryptionContext, GeneratedData,
    GeneratedDataKey, KeyListEntry, KeyMetadata, KeyRotation, KeySpec, KeyState, KeyUsage,
    KmsOptions, Origin, RootMigration, RotationStatus, RotationType, Tag,
};
