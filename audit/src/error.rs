//! The one error type of `sealgate-audit`.
//!
//! Every fallible function of the crate returns [`Error`]. A tampered log is not an error: it is
//! a [`Report`](crate::Report) with a [`Break`](crate::Break). Errors are for what stops the crate
//! from doing its job at all: the disk, an undecodable line where one is needed, a second writer.

use std::path::PathBuf;

/// Errors of the audit trail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed (create, write, sync, read, list, lock). When `append`
    /// returns this, the event was not recorded and the caller should refuse the request.
    #[error("audit {op} failed on {}", path.display())]
    Io {
        /// What was being done: "write", "sync", "create", "read", ...
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// An event could not be encoded as JSON.
    #[error("audit event could not be encoded")]
    Encode {
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// A complete line of an audit file did not decode (query).
    #[error("audit file {file} line {line} does not decode")]
    Parse {
        /// The audit file's name.
        file: String,
        /// The 1-based line number in that file.
        line: u64,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },

    /// Reopening found a file it cannot safely continue from; run `verify` on the directory.
    #[error("audit file {file} line {line} is corrupt: {reason}")]
    Corrupt {
        /// The audit file's name.
        file: String,
        /// The 1-based line number in that file.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// Another [`AuditLog`](crate::AuditLog) already writes to this directory.
    #[error("audit directory {} is in use by another writer", dir.display())]
    Locked {
        /// The audit directory.
        dir: PathBuf,
    },

    /// The log was closed; it takes no more events.
    #[error("audit log is closed")]
    Closed,
}

impl Error {
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}
