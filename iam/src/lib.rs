//! Sealgate's identities, and the subset of the AWS IAM API that manages them.
//!
//! The gateway authenticates an IAM request (SigV4, service `iam`), authorizes it with
//! [`action_and_resource`], decodes its form body into pairs and hands them to [`Iam::call`],
//! which answers with IAM's XML. The same [`Iam`] serves the rest of the gateway:
//! [`Iam::access_key`] gives SigV4 a key's secret and owner, [`Iam::policies_of`] gives
//! authorization a user's identity policies. The crate knows nothing of HTTP and does not log.
//!
//! Where things are: `ops` holds one module per entity kind with its handlers; `store` the redb
//! database and `records` what is in it; `params` reads and checks parameters; `render` and
//! `xml` write responses; `secret` the secret access key; `migration` the move of the key that
//! seals secrets to another root of trust; `error` the one error type and its mapping to wire
//! errors.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use kms_core::RootOfTrust;

mod action;
mod error;
mod identity;
mod ids;
mod migration;
mod ops;
mod params;
mod records;
mod render;
mod secret;
mod store;
#[cfg(test)]
mod test_support;
mod xml;

pub use action::action_and_resource;
pub use error::{Error, IamError};
pub use secret::Secret;

use params::{Params, Request};
use store::Store;

/// The largest policy document, inline or managed, in characters other than white space (IAM's
/// count). Larger documents are refused with `LimitExceeded`, as AWS does for managed policies.
pub const MAX_POLICY_CHARS: usize = 6144;

/// Who signed a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The account's root: the gateway's own administrative credentials.
    Root,
    /// An IAM user of this store.
    User {
        /// The user's name.
        name: String,
    },
}

/// An access key as SigV4 needs it.
#[derive(Clone, Debug)]
pub struct AccessKey {
    /// The key's id (`AKIA...`).
    pub access_key_id: String,
    /// The owning user's name.
    pub user_name: String,
    /// The owning user's id (`AIDA...`).
    pub user_id: String,
    /// The owning user's ARN.
    pub user_arn: String,
    /// Whether the key may sign requests (`Status` `Active`).
    pub active: bool,
    /// The secret access key.
    pub secret: Secret,
}

/// An identity policy that applies to a user, with a name saying where it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedPolicy {
    /// `user/<user>/<policy>` or `group/<group>/<policy>` for inline policies, the policy ARN
    /// for managed ones.
    pub name: String,
    /// The policy document (JSON), as stored.
    pub document: String,
}

/// The identity store of one account and its IAM API.
pub struct Iam {
    store: Store,
    root: Arc<dyn RootOfTrust>,
    account_id: String,
    /// When the store was created: the root user's `CreateDate`.
    created: i64,
}

/// The gateway shares one `Iam` across threads (`Arc<Iam>` in `spawn_blocking`).
const _: () = {
    const fn shared<T: Send + Sync + 'static>() {}
    shared::<Iam>();
};

impl fmt::Debug for Iam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iam")
            .field("account_id", &self.account_id)
            .field("root", &self.root.kind())
            .finish_non_exhaustive()
    }
}

impl Iam {
    /// Opens or creates the store in `<dir>/iam.redb`. On first open, `root` makes the key that
    /// seals secret access keys (`sealgate-iam-secrets`, version 1); its handle stays in the
    /// store. One process at a time: a second one fails to open the file.
    ///
    /// # Errors
    /// [`Error::Validation`] for an account id that is empty or has `:` or `/`,
    /// [`Error::Io`] and [`Error::Store`] if the folder or database cannot be opened,
    /// [`Error::RootOfTrust`] if the root cannot make the key.
    pub fn open(dir: &Path, root: Arc<dyn RootOfTrust>, account_id: &str) -> Result<Iam, Error> {
        if account_id.is_empty() || account_id.contains([':', '/']) {
            return Err(Error::Validation {
                field: "account_id",
                reason: "Member must be non-empty and without ':' or '/'",
            });
        }
        let make_key = || Ok(root.create_version(store::SECRETS_KEY_ID, 1)?);
        let (store, meta) = Store::open(dir, make_key)?;
        Ok(Iam {
            store,
            root,
            account_id: account_id.to_owned(),
            created: meta.created,
        })
    }

    /// Moves the key that seals secret access keys into the root of trust's primary (see
    /// [`RootOfTrust::is_primary`]), when it is not there: the primary makes a new one
    /// (`sealgate-iam-secrets`, the next version), every secret is sealed again under it and
    /// the store switches to it, all in one transaction, so a crash leaves the old key and
    /// secrets or the new ones (and at most an unused key in the primary). Returns whether
    /// anything moved; a second call moves nothing. Meant to run with the gateway stopped,
    /// through a [`MigratingRoot`](kms_core::MigratingRoot).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let root = kms_core::SoftwareRoot::new(&kms_core::RootKey::from_bytes([1; 32]))?;
    /// let iam = iam::Iam::open(dir.path(), std::sync::Arc::new(root), "123456789012")?;
    /// // A single root made the secrets key: nothing to move.
    /// assert!(!iam.migrate_root()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::RootOfTrust`] if either root fails to make the key or to open or seal a
    /// secret, [`Error::Store`] or [`Error::CorruptRecord`] if the store fails; nothing moved.
    pub fn migrate_root(&self) -> Result<bool, Error> {
        self.store
            .write(|txn| migration::migrate(txn, self.root.as_ref()))
    }

    /// The account id in every ARN.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// For SigV4: the key, its user, and whether it is active. `None` if no such key.
    ///
    /// # Errors
    /// [`Error::Store`] or [`Error::CorruptRecord`] if the store fails, [`Error::RootOfTrust`]
    /// if the secret does not open.
    pub fn access_key(&self, access_key_id: &str) -> Result<Option<AccessKey>, Error> {
        identity::access_key(self, access_key_id)
    }

    /// All identity policies that apply to a user: inline user policies, policies attached to
    /// the user, and inline + attached policies of each group it belongs to. A managed policy
    /// reached twice is listed once.
    ///
    /// # Errors
    /// [`Error::NoSuchEntity`] if there is no such user; store errors.
    pub fn policies_of(&self, user_name: &str) -> Result<Vec<NamedPolicy>, Error> {
        identity::policies_of(self, user_name)
    }

    /// Runs one IAM query-protocol call. `params` are the decoded form pairs (`Action=...`,
    /// `Version=...`, `UserName=...`, ...). `caller` is who signed. Returns the XML response
    /// body (200) or an error to answer with [`IamError::to_xml`] and its status.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let root = kms_core::SoftwareRoot::new(&kms_core::RootKey::from_bytes([1; 32]))?;
    /// let iam = iam::Iam::open(dir.path(), std::sync::Arc::new(root), "123456789012")?;
    /// let params = [("Action", "CreateUser"), ("UserName", "alice")]
    ///     .map(|(k, v)| (k.to_owned(), v.to_owned()));
    /// let xml = iam.call(&iam::Caller::Root, &params, "req-1").unwrap();
    /// assert!(xml.contains("<Arn>arn:aws:iam::123456789012:user/alice</Arn>"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The IAM error of the call; internal faults are `ServiceFailure` with a fixed message.
    /// [`Iam::call_detailed`] keeps the detail for the log.
    pub fn call(
        &self,
        caller: &Caller,
        params: &[(String, String)],
        request_id: &str,
    ) -> Result<String, IamError> {
        self.call_detailed(caller, params, request_id)
            .map_err(IamError::from)
    }

    /// [`Iam::call`] with the crate's [`Error`], whose detail (store or root-of-trust source) is
    /// for the log; `IamError::from(&err)` is what goes on the wire.
    ///
    /// # Errors
    /// As [`Iam::call`], before mapping.
    pub fn call_detailed(
        &self,
        caller: &Caller,
        params: &[(String, String)],
        request_id: &str,
    ) -> Result<String, Error> {
        let request = Request {
            caller,
            params: Params(params),
        };
        ops::run(self, &request, request_id)
    }
}
