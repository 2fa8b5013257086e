//! The S3 backend (work in progress).

use super::{BackendConfig, BackendError};

/// Buckets of an S3 server.
#[derive(Debug)]
pub struct S3Backend;

impl S3Backend {
    /// Builds the backend from its configuration.
    pub fn open(_config: &BackendConfig) -> Result<Self, BackendError> {
        Err(BackendError::Config { reason: "not yet", source: None })
    }
}
