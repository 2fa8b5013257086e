//! Errors of the gateway, and the one place they become S3 error responses.
//!
//! Every step returns its own error type; [`Error`] gathers them, and [`Error::to_s3`] is the
//! single exhaustive mapping from internal errors to S3 codes and statuses. Streams carry their
//! step's error boxed ([`crate::body::BoxError`]); [`from_boxed`] downcasts it, so the client sees
//! the error that first went wrong wherever it surfaced. Messages to clients are fixed for denied,
//! unauthenticated, corrupt and internal errors: the detail goes to the log only.

use http::{HeaderValue, Response, header};

use crate::auth::AuthError;
use crate::backend::BackendError;
use crate::body::BoxError;
use crate::s3::errors::{S3Error, S3ErrorCode as Code};
use crate::seal::SealError;
use crate::server::{ResponseBody, empty, full};

/// Anything that can go wrong while answering an S3 request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A protocol error decided while reading the request.
    #[error("{0}")]
    S3(#[from] S3Error),
    #[error("authentication: {0}")]
    Auth(#[from] AuthError),
    /// The authorizer refused; the reason is for the log and the audit trail only.
    #[error("authorization: {0}")]
    AccessDenied(#[from] crate::authz::Denied),
    /// The authorizer could not decide (a store or a stored policy failed).
    #[error("authorization: {0}")]
    Authz(#[from] crate::authz::AuthzError),
    /// The audit trail cannot be written: nothing is served unrecorded.
    #[error("the audit trail cannot be written")]
    AuditUnavailable,
    #[error("backend: {0}")]
    Backend(#[from] BackendError),
    #[error("key management: {0}")]
    Kms(#[from] kms_core::Error),
    #[error("sealing: {0}")]
    Seal(#[from] SealError),
    /// A body stream broke; the boxed error says where.
    #[error("stream: {0}")]
    Stream(BoxError),
    /// Stored bytes or metadata that do not open: tampering, corruption, or not ours.
    #[error("object {bucket}/{key} cannot be opened: {reason}")]
    Corrupt {
        bucket: String,
        key: String,
        reason: String,
    },
    /// The object changed between two reads of one request.
    #[error("object changed while being read")]
    ConcurrentOverwrite,
    #[error("the request has no length")]
    MissingContentLength,
    #[error("body of {size} bytes is larger than allowed")]
    EntityTooLarge { size: u64 },
    #[error("the body ended early or ran long")]
    IncompleteBody,
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("range not satisfiable for an object of {size} bytes")]
    InvalidRange { size: u64 },
    #[error("{operation} is not implemented")]
    NotImplemented { operation: &'static str },
    #[error("unsupported server-side encryption algorithm")]
    InvalidEncryptionAlgorithm,
    #[error("bucket {bucket} is already owned by you")]
    BucketAlreadyOwnedByYou { bucket: String },
    #[error("location constraint {region} is not this region")]
    InvalidLocationConstraint { region: String },
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument {
        name: &'static str,
        reason: &'static str,
    },
    #[error("malformed XML: {reason}")]
    MalformedXml { reason: String },
    /// A fault of ours; the reason is for the log only.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl Error {
    /// Stored data that does not open; the reason is for the log only.
    pub fn corrupt(bucket: &str, key: &str, reason: impl std::fmt::Display) -> Error {
        Error::Corrupt {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// A failure to unwrap an object's data key: a key state the client may act on, or else
    /// the object does not open.
    pub fn from_unwrap(bucket: &str, key: &str, error: kms_core::Error) -> Error {
        match error {
            kms_core::Error::InvalidCiphertext => Error::corrupt(bucket, key, "data key unwrap"),
            other => Error::Kms(other),
        }
    }

    /// The S3 error a client is answered with.
    pub fn to_s3(&self) -> S3Error {
        match self {
            Error::S3(error) => error.clone(),
            Error::Auth(error) => auth_to_s3(error),
            Error::AccessDenied(_) => S3Error::new(Code::AccessDenied),
            Error::Authz(_) => S3Error::new(Code::InternalError),
            Error::AuditUnavailable => S3Error::new(Code::ServiceUnavailable),
            Error::Backend(error) => backend_to_s3(error),
            Error::Kms(error) => kms_to_s3(error),
            Error::Seal(error) => seal_to_s3(error),
            Error::Stream(error) => from_boxed(error),
            Error::Corrupt { .. } | Error::ConcurrentOverwrite => S3Error::new(Code::InternalError),
            Error::MissingContentLength => S3Error::new(Code::MissingContentLength),
            Error::EntityTooLarge { .. } => S3Error::new(Code::EntityTooLarge),
            Error::IncompleteBody => S3Error::new(Code::IncompleteBody),
            Error::PreconditionFailed => S3Error::new(Code::PreconditionFailed),
            Error::InvalidRange { size } => {
                S3Error::new(Code::InvalidRange).with("ActualObjectSize", size.to_string())
            }
            Error::NotImplemented { operation } => S3Error::not_implemented(operation),
            Error::Internal { .. } => S3Error::new(Code::InternalError),
            Error::InvalidEncryptionAlgorithm => {
                S3Error::new(Code::InvalidEncryptionAlgorithmError)
            }
            Error::BucketAlreadyOwnedByYou { bucket } => {
                S3Error::new(Code::BucketAlreadyOwnedByYou).with("BucketName", bucket.clone())
            }
            Error::InvalidLocationConstraint { .. } => {
                S3Error::new(Code::InvalidLocationConstraint)
            }
            Error::InvalidArgument { name, reason } => {
                S3Error::with_message(Code::InvalidArgument, *reason).with("ArgumentName", *name)
            }
            Error::MalformedXml { .. } => S3Error::new(Code::MalformedXML),
        }
    }

    /// Whether this is a fault someone must fix, rather than the client's doing.
    fn is_fault(&self) -> bool {
        self.to_s3().code.status().is_server_error()
    }
}

/// The S3 error for a stream's boxed error, by the step that raised it.
pub fn from_boxed(error: &BoxError) -> S3Error {
    if let Some(error) = error.downcast_ref::<AuthError>() {
        auth_to_s3(error)
    } else if let Some(error) = error.downcast_ref::<SealError>() {
        seal_to_s3(error)
    } else if let Some(error) = error.downcast_ref::<BackendError>() {
        backend_to_s3(error)
    } else if let Some(error) = error.downcast_ref::<S3Error>() {
        error.clone()
    } else {
        S3Error::new(Code::InternalError)
    }
}

fn auth_to_s3(error: &AuthError) -> S3Error {
    let code = match error {
        AuthError::Anonymous | AuthError::Expired { .. } | AuthError::UnsignedHeader { .. } => {
            Code::AccessDenied
        }
        AuthError::UnsupportedMechanism { .. } => Code::InvalidRequest,
        AuthError::MalformedAuthorization { .. } | AuthError::WrongRegion { .. } => {
            Code::AuthorizationHeaderMalformed
        }
        AuthError::MalformedPresigned { .. } => Code::AuthorizationQueryParametersError,
        AuthError::InvalidAccessKeyId { .. } => Code::InvalidAccessKeyId,
        AuthError::SignatureDoesNotMatch { .. } => Code::SignatureDoesNotMatch,
        AuthError::RequestTimeTooSkewed { .. } => Code::RequestTimeTooSkewed,
        AuthError::MissingContentSha256 | AuthError::InvalidContentSha256 => Code::InvalidRequest,
        AuthError::ContentSha256Mismatch => Code::XAmzContentSHA256Mismatch,
        AuthError::InvalidDigest => Code::InvalidDigest,
        AuthError::BadDigest | AuthError::ChecksumMismatch { .. } => Code::BadDigest,
        AuthError::InvalidChecksum { .. }
        | AuthError::MalformedChunk { .. }
        | AuthError::InvalidHeader { .. } => Code::InvalidRequest,
        AuthError::IncompleteBody { .. } | AuthError::Body { .. } => Code::IncompleteBody,
        AuthError::BodyTooLong { .. } => Code::InvalidRequest,
        AuthError::MissingContentLength => Code::MissingContentLength,
        AuthError::Store { .. } => Code::InternalError,
    };
    match error {
        AuthError::Expired { .. } => S3Error::with_message(code, "Request has expired"),
        AuthError::UnsignedHeader { .. } => S3Error::with_message(
            code,
            "There were headers present in the request which were not signed",
        ),
        AuthError::UnsupportedMechanism { .. } => S3Error::with_message(
            code,
            "The authorization mechanism you have provided is not supported. \
             Please use AWS4-HMAC-SHA256.",
        ),
        AuthError::ChecksumMismatch { algorithm } => S3Error::with_message(
            code,
            format!("The {algorithm} you specified did not match the calculated checksum."),
        ),
        _ => S3Error::new(code),
    }
}

fn backend_to_s3(error: &BackendError) -> S3Error {
    match error {
        BackendError::NoSuchBucket { bucket } => S3Error::no_such_bucket(bucket),
        BackendError::NoSuchKey { key, .. } => S3Error::no_such_key(key),
        BackendError::BucketAlreadyExists { bucket } => {
            S3Error::new(Code::BucketAlreadyOwnedByYou).with("BucketName", bucket.clone())
        }
        BackendError::BucketNotEmpty { bucket } => {
            S3Error::new(Code::BucketNotEmpty).with("BucketName", bucket.clone())
        }
        BackendError::PreconditionFailed { .. } => S3Error::new(Code::PreconditionFailed),
        BackendError::Body { source, .. } => from_boxed(source),
        BackendError::Unavailable { .. } => S3Error::new(Code::ServiceUnavailable),
        _ => S3Error::new(Code::InternalError),
    }
}

fn kms_to_s3(error: &kms_core::Error) -> S3Error {
    match error {
        kms_core::Error::Disabled { .. } => S3Error::new(Code::KmsDisabled),
        kms_core::Error::NotFound { .. } => S3Error::new(Code::KmsNotFound),
        // The HSM went away: retryable, nothing lost.
        kms_core::Error::RootUnavailable { .. } => S3Error::new(Code::ServiceUnavailable),
        _ => S3Error::new(Code::InternalError),
    }
}

fn seal_to_s3(error: &SealError) -> S3Error {
    match error {
        SealError::LengthMismatch { .. } => S3Error::new(Code::IncompleteBody),
        SealError::InvalidRange { .. } => S3Error::new(Code::InvalidRange),
        SealError::Corrupt { .. } | SealError::Seal { .. } | SealError::DigestLost => {
            S3Error::new(Code::InternalError)
        }
    }
}

/// The response for `error`, logged at the level it deserves.
pub fn response(error: &Error, request_id: &str, with_body: bool) -> Response<ResponseBody> {
    if error.is_fault() {
        tracing::error!(error = %error, "request failed");
    } else {
        tracing::debug!(error = %error, "request refused");
    }
    s3_response(&error.to_s3(), request_id, with_body)
}

/// The response for an S3 error: the XML document, or headers only (HEAD, 304).
pub fn s3_response(error: &S3Error, request_id: &str, with_body: bool) -> Response<ResponseBody> {
    let status = error.code.status();
    let mut response = if !with_body || status == http::StatusCode::NOT_MODIFIED {
        empty(status)
    } else {
        let mut response = full(status, error.to_xml(request_id));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/xml"),
        );
        response
    };
    let code = crate::trail::ErrorCode(error.code.as_str().to_owned());
    response.extensions_mut().insert(code);
    response
}
