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
    /// The principal (user or role) the key belongs to.
    pub principal: String,
    /// The secret access key.
    pub secret: SecretKey,
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
