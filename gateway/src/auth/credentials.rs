//! Where the authentication step finds secrets: the [`CredentialStore`] seam.
//!
//! [`crate::auth::authenticate`] takes the access key id from the request's credential scope and
//! asks a store for the matching [`Credential`]; [`StaticCredentials`] is the in-memory store of
//! the root credentials. A store only answers; all checks happen in [`crate::auth`].

use std::collections::HashMap;

use super::{AuthError, SecretKey};

/// One access key: its id, the principal it belongs to, and its secret.
#[derive(Clone, Debug)]
pub struct Credential {
    /// The access key id, as clients send it.
    pub access_key_id: String,
    /// Who the key belongs to.
    pub principal: Principal,
    /// The secret access key.
    pub secret: SecretKey,
}

/// Who signs with a key: the root credentials, or an IAM user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The root credentials: allowed everything.
    Root,
    /// A user of the identity store.
    User {
        /// The user name (`aws:username`).
        name: String,
        /// The user's unique id (`aws:userid`).
        id: String,
        /// The user's ARN, as policies name it.
        arn: String,
    },
}

impl Principal {
    /// The name shown as owner in listings and in logs: `root` or the user name.
    pub fn name(&self) -> &str {
        match self {
            Principal::Root => "root",
            Principal::User { name, .. } => name,
        }
    }
}

/// Finds credentials by access key id.
#[async_trait::async_trait]
pub trait CredentialStore: Send + Sync {
    /// The credential with this access key id, or `None` when there is none.
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Credential>, AuthError>;
}

/// A fixed, in-memory set of credentials (the root credentials).
#[derive(Clone, Debug, Default)]
pub struct StaticCredentials {
    by_id: HashMap<String, Credential>,
}

impl StaticCredentials {
    /// A store holding `credentials`; a later duplicate access key id replaces an earlier one.
    pub fn new(credentials: impl IntoIterator<Item = Credential>) -> Self {
        let by_id = credentials
            .into_iter()
            .map(|c| (c.access_key_id.clone(), c))
            .collect();
        Self { by_id }
    }
}

#[async_trait::async_trait]
impl CredentialStore for StaticCredentials {
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Credential>, AuthError> {
        Ok(self.by_id.get(access_key_id).cloned())
    }
}

/// The root credentials and the access keys of the identity store's users. An inactive key is
/// as unknown as a missing one (IAM answers `InvalidAccessKeyId` for both), and a deleted or
/// deactivated key stops working with the next request: nothing is cached.
pub struct IdentityCredentials {
    root: StaticCredentials,
    users: std::sync::Arc<iam::Iam>,
}

impl IdentityCredentials {
    /// A store of `root` and the access keys in `users`.
    pub fn new(root: Credential, users: std::sync::Arc<iam::Iam>) -> Self {
        Self {
            root: StaticCredentials::new([root]),
            users,
        }
    }
}

#[async_trait::async_trait]
impl CredentialStore for IdentityCredentials {
    async fn lookup(&self, access_key_id: &str) -> Result<Option<Credential>, AuthError> {
        if let Some(root) = self.root.by_id.get(access_key_id) {
            return Ok(Some(root.clone()));
        }
        let key = self
            .users
            .access_key(access_key_id)
            .map_err(|e| AuthError::Store { source: e.into() })?;
        Ok(key.filter(|k| k.active).map(|k| Credential {
            access_key_id: k.access_key_id,
            principal: Principal::User {
                name: k.user_name,
                id: k.user_id,
                arn: k.user_arn,
            },
            secret: SecretKey::new(k.secret.expose()),
        }))
    }
}
