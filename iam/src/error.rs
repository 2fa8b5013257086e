//! The one error type of the crate, and the one place it becomes an IAM wire error.
//!
//! Every fallible function returns [`Error`]; [`Iam::call`](crate::Iam::call) turns it into an
//! [`IamError`] (code, HTTP status, message) with the exhaustive match in [`Error::wire`].
//! Store, root-of-trust and record faults all become `ServiceFailure` with a fixed message: their
//! detail stays in the [`Error`] for the caller's log.

use crate::xml;

/// Errors of the IAM store and API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No user, group, inline policy or managed policy of this name.
    #[error("The {entity} with name {name} cannot be found.")]
    NoSuchEntity {
        /// What was looked for (`user`, `group`, `user policy`, `group policy`).
        entity: &'static str,
        /// The name asked for.
        name: String,
    },

    /// No managed policy has this ARN.
    #[error("Policy {arn} does not exist or is not attachable.")]
    NoSuchPolicy {
        /// The policy ARN asked for.
        arn: String,
    },

    /// No access key has this id (for this user).
    #[error("The Access Key with id {access_key_id} cannot be found.")]
    NoSuchAccessKey {
        /// The access key id asked for.
        access_key_id: String,
    },

    /// A user, group or managed policy of this name already exists (names ignore case).
    #[error("{entity} with name {name} already exists.")]
    AlreadyExists {
        /// `User`, `Group` or `A policy`.
        entity: &'static str,
        /// The name asked for.
        name: String,
    },

    /// The entity still has something that must be removed first.
    #[error("Cannot delete {entity} {name}, must {what} first.")]
    DeleteConflict {
        /// `user`, `group` or `policy`.
        entity: &'static str,
        /// Its name or ARN.
        name: String,
        /// What to do first (`delete access keys`, `remove users from group`, ...).
        what: &'static str,
    },

    /// A quota was reached (keys per user, policy size, attachments).
    #[error("{limit}")]
    LimitExceeded {
        /// Which quota, as a sentence.
        limit: String,
    },

    /// `policy::Policy::parse` refused a document.
    #[error("{reason}")]
    MalformedPolicyDocument {
        /// The parser's message.
        reason: String,
    },

    /// A parameter does not satisfy its constraints (pattern, length).
    #[error(
        "1 validation error detected: Value at '{field}' failed to satisfy constraint: {reason}"
    )]
    Validation {
        /// The parameter, as the IAM API names it.
        field: &'static str,
        /// The violated constraint.
        reason: &'static str,
    },

    /// A well-formed request the store cannot honour (such as keys for the root user).
    #[error("{reason}")]
    InvalidInput {
        /// Why.
        reason: &'static str,
    },

    /// The `Action` is not one this crate answers.
    #[error("Could not find operation {action} for version 2010-05-08")]
    InvalidAction {
        /// The action asked for.
        action: String,
    },

    /// A required parameter is absent.
    #[error("The request must contain the parameter {name}.")]
    MissingParameter {
        /// The parameter, as the IAM API names it.
        name: &'static str,
    },

    /// The redb database failed.
    #[error("IAM store")]
    Store {
        /// The underlying redb error.
        #[source]
        source: Box<redb::Error>,
    },

    /// A record of the database does not parse, or could not be written.
    #[error("IAM store record {table}/{key} is corrupt")]
    CorruptRecord {
        /// The table's name.
        table: &'static str,
        /// The record's key.
        key: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// An entry of the store's meta table is missing or malformed.
    #[error("IAM store meta entry {entry} is corrupt: {reason}")]
    CorruptMeta {
        /// The entry (`secrets-key-handle`, ...).
        entry: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// The root of trust failed to make the secrets key, or to seal or open a secret.
    #[error("root of trust")]
    RootOfTrust {
        /// The underlying error.
        #[source]
        source: kms_core::Error,
    },

    /// The store's folder could not be created.
    #[error("I/O on {path}")]
    Io {
        /// The folder.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The message of every internal fault: nothing about the store reaches the client.
const SERVICE_FAILURE: &str = "An internal error occurred";

impl Error {
    /// The IAM error code and HTTP status of this error.
    fn wire(&self) -> (&'static str, u16) {
        match self {
            Error::NoSuchEntity { .. }
            | Error::NoSuchPolicy { .. }
            | Error::NoSuchAccessKey { .. } => ("NoSuchEntity", 404),
            Error::AlreadyExists { .. } => ("EntityAlreadyExists", 409),
            Error::DeleteConflict { .. } => ("DeleteConflict", 409),
            Error::LimitExceeded { .. } => ("LimitExceeded", 409),
            Error::MalformedPolicyDocument { .. } => ("MalformedPolicyDocument", 400),
            Error::Validation { .. } => ("ValidationError", 400),
            Error::InvalidInput { .. } => ("InvalidInput", 400),
            Error::InvalidAction { .. } => ("InvalidAction", 400),
            Error::MissingParameter { .. } => ("MissingParameter", 400),
            Error::Store { .. }
            | Error::CorruptRecord { .. }
            | Error::CorruptMeta { .. }
            | Error::RootOfTrust { .. }
            | Error::Io { .. } => ("ServiceFailure", 500),
        }
    }
}

/// An IAM error as it goes on the wire: code, HTTP status and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IamError {
    /// The IAM error code (`NoSuchEntity`, `DeleteConflict`, ...).
    pub code: &'static str,
    /// The HTTP status to answer with.
    pub status: u16,
    /// The message for the client; fixed for internal faults.
    pub message: String,
}

impl From<&Error> for IamError {
    fn from(err: &Error) -> IamError {
        let (code, status) = err.wire();
        let message = match status {
            500 => SERVICE_FAILURE.to_owned(),
            _ => err.to_string(),
        };
        IamError {
            code,
            status,
            message,
        }
    }
}

impl From<Error> for IamError {
    fn from(err: Error) -> IamError {
        IamError::from(&err)
    }
}

impl IamError {
    /// The `ErrorResponse` XML body of this error.
    ///
    /// ```
    /// let err = iam::IamError { code: "NoSuchEntity", status: 404, message: "gone".into() };
    /// assert!(err.to_xml("r1").contains("<Code>NoSuchEntity</Code>"));
    /// ```
    pub fn to_xml(&self, request_id: &str) -> String {
        let kind = if self.status >= 500 {
            "Receiver"
        } else {
            "Sender"
        };
        let mut out = xml::Xml::new();
        out.open(&format!(r#"ErrorResponse xmlns="{}""#, xml::NAMESPACE));
        out.nest("Error", |e| {
            e.text("Type", kind)
                .text("Code", self.code)
                .text("Message", &self.message);
        });
        out.text("RequestId", request_id).close("ErrorResponse");
        out.finish()
    }
}

impl std::fmt::Display for IamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for IamError {}

impl From<kms_core::Error> for Error {
    fn from(source: kms_core::Error) -> Error {
        Error::RootOfTrust { source }
    }
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
