//! The one error type of `kms-core`.
//!
//! Every fallible function of the crate returns [`Error`]. Variants carry the context a caller
//! needs to log (key id, key version, path, source); the gateway maps them to wire errors in one
//! place. Decryption failures of any kind are the single variant [`Error::InvalidCiphertext`],
//! which carries nothing, so no caller can build an oracle from it.

use std::path::PathBuf;

use crate::KeyState;

/// Errors of the key management core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An AEAD seal or open failed in the [`aead`](crate::aead) seam (bad tag, wrong key, nonce
    /// or associated data, or an input too long). Deliberately without detail.
    #[error("AEAD operation failed")]
    Aead,

    /// A ciphertext blob did not decrypt: wrong encryption context, wrong or unknown key or key
    /// version, truncated or tampered bytes. Deliberately without detail.
    #[error("invalid ciphertext")]
    InvalidCiphertext,

    /// No master key or alias answers to this reference.
    #[error("no master key found for {key_ref:?}")]
    NotFound {
        /// The key id, key ARN, alias name or alias ARN that was asked for.
        key_ref: String,
    },

    /// The master key is disabled, so it encrypts and decrypts nothing.
    #[error("master key {key_id} is disabled")]
    Disabled {
        /// The master key's id.
        key_id: String,
    },

    /// The master key's state does not allow this operation.
    #[error("master key {key_id} is {state:?}, which does not allow {operation}")]
    InvalidState {
        /// The master key's id.
        key_id: String,
        /// Its current state.
        state: KeyState,
        /// The refused operation, as AWS names it (`ScheduleKeyDeletion`, ...).
        operation: &'static str,
    },

    /// An alias of this name already exists.
    #[error("alias {alias} already exists")]
    AlreadyExists {
        /// The alias name (`alias/NAME`).
        alias: String,
    },

    /// A request parameter is out of range or malformed.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The parameter, as AWS names it (`Plaintext`, `PendingWindowInDays`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// A per-key limit was reached.
    #[error("limit exceeded for master key {key_id}: {limit}")]
    LimitExceeded {
        /// The master key's id.
        key_id: String,
        /// Which limit.
        limit: &'static str,
    },

    /// The root key file is unusable (wrong length, readable by group or others).
    #[error("root key file {path}: {reason}")]
    RootKeyFile {
        /// The file.
        path: PathBuf,
        /// Why it is refused.
        reason: &'static str,
    },

    /// Reading or writing a file failed.
    #[error("I/O on {path}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The embedded key store failed.
    #[error("key store")]
    Store {
        /// The underlying redb error.
        #[source]
        source: Box<redb::Error>,
    },

    /// A record in the key store does not parse.
    #[error("key store record {record} is corrupt")]
    CorruptRecord {
        /// The record's key (a master key id or an alias).
        record: String,
        /// The underlying error (JSON or key id parsing).
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The root of trust could not make, open or destroy the material of a key version
    /// (for the software root: a handle that the root key does not open).
    #[error("root of trust {kind}: {reason}")]
    RootOfTrust {
        /// [`RootOfTrust::kind`](crate::RootOfTrust::kind) of the failing root.
        kind: &'static str,
        /// What failed.
        reason: &'static str,
    },

    /// A [`Pkcs11Root`](crate::Pkcs11Root) could not be opened: the module did not load or
    /// initialize, no slot holds the token, or the session or login failed. A start-up error.
    #[error("PKCS#11 module {module}: {reason}")]
    Pkcs11Open {
        /// The module (shared library) of the configuration.
        module: PathBuf,
        /// The step that failed (`load the PKCS#11 module`, `find the token`, `C_Login`, ...).
        reason: &'static str,
        /// The library's or token's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The root of trust cannot be reached right now: the token was removed, its sessions were
    /// lost or the PKCS#11 library was finalized, and one re-open, re-login and retry did not
    /// help. Nothing is lost (the token holds all the state); the caller may retry later, and
    /// the gateway answers 503. Never returned by the software root.
    #[error("root of trust {kind} unavailable: {reason}")]
    RootUnavailable {
        /// [`RootOfTrust::kind`](crate::RootOfTrust::kind) of the failing root.
        kind: &'static str,
        /// The step that failed (`C_Encrypt`, `C_Login`, ...).
        reason: &'static str,
        /// The token's error (its return code), for the log only.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// Converts redb's per-operation errors into [`Error::Store`].
macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(err: $ty) -> Self {
                Error::Store { source: Box::new(err.into()) }
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
