//! The one error type of the authentication step.
//!
//! Every failure of [`crate::auth`] is an [`AuthError`], whether it is returned by
//! [`crate::auth::authenticate`] or travels, boxed, inside the verified body stream. The variants
//! are precise so that `crate::error` can pick the S3 error code with one `match`; their messages
//! are for the log, never for the client.

use crate::body::BoxError;

/// Why a request could not be authenticated or its body could not be verified.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Neither an Authorization header nor presigned query parameters: an anonymous request.
    #[error("anonymous request")]
    Anonymous,
    /// A mechanism Sealgate does not support (SigV2, POST policy, SigV4A, ...).
    #[error("unsupported authentication mechanism: {what}")]
    UnsupportedMechanism {
        /// The mechanism, named for the client.
        what: &'static str,
    },
    /// The Authorization header could not be parsed.
    #[error("malformed Authorization header: {reason}")]
    MalformedAuthorization {
        /// What is wrong with it.
        reason: String,
    },
    /// The presigned-URL query parameters could not be parsed.
    #[error("malformed presigned URL: {reason}")]
    MalformedPresigned {
        /// What is wrong with them.
        reason: String,
    },
    /// The credential scope names another region than ours.
    #[error("credential scope region {got:?}, expected {expected:?}")]
    WrongRegion {
        /// The region the client signed for.
        got: String,
        /// The region this gateway serves.
        expected: String,
    },
    /// No credential has this access key id.
    #[error("unknown access key id {access_key_id:?}")]
    InvalidAccessKeyId {
        /// The access key id the client sent.
        access_key_id: String,
    },
    /// The recomputed signature differs from the one sent (request, chunk or trailer).
    #[error("signature does not match ({what})")]
    SignatureDoesNotMatch {
        /// Which signature: "request", "chunk N", "trailer".
        what: String,
    },
    /// The request time is further than the allowed skew from our clock.
    #[error("request time {request_time} is more than {max_skew_secs} s from server time")]
    RequestTimeTooSkewed {
        /// The request's X-Amz-Date, as sent.
        request_time: String,
        /// The allowed skew in seconds.
        max_skew_secs: u64,
    },
    /// A presigned URL whose validity period is over.
    #[error("presigned URL expired at {expired_at}")]
    Expired {
        /// When it expired (X-Amz-Date plus X-Amz-Expires), as an X-Amz-Date string.
        expired_at: String,
    },
    /// An `x-amz-*` header the signature does not cover.
    #[error("header {name} is not signed")]
    UnsignedHeader {
        /// The header's name.
        name: String,
    },
    /// The header-authenticated request carries no x-amz-content-sha256 header.
    #[error("missing x-amz-content-sha256 header")]
    MissingContentSha256,
    /// x-amz-content-sha256 is neither a hex SHA-256 nor a known payload mode.
    #[error("invalid x-amz-content-sha256 value")]
    InvalidContentSha256,
    /// The body's SHA-256 differs from x-amz-content-sha256.
    #[error("body SHA-256 differs from x-amz-content-sha256")]
    ContentSha256Mismatch,
    /// Content-MD5 is not base64 of 16 bytes.
    #[error("malformed Content-MD5")]
    InvalidDigest,
    /// The body's MD5 differs from Content-MD5.
    #[error("body MD5 differs from Content-MD5")]
    BadDigest,
    /// The body's checksum differs from the one sent in a header or trailer.
    #[error("body {algorithm} checksum differs from the one sent")]
    ChecksumMismatch {
        /// The algorithm: "crc32", "crc32c", "sha1", "sha256".
        algorithm: &'static str,
    },
    /// Checksum headers or trailers that are malformed, unknown or contradictory.
    #[error("invalid checksum: {reason}")]
    InvalidChecksum {
        /// What is wrong with them.
        reason: String,
    },
    /// The body ended before the declared length (or before the aws-chunked framing ended).
    #[error("body ended after {received} of {expected} bytes")]
    IncompleteBody {
        /// Bytes expected.
        expected: u64,
        /// Bytes received.
        received: u64,
    },
    /// The body is longer than its declared length.
    #[error("body longer than the declared {expected} bytes")]
    BodyTooLong {
        /// Bytes expected.
        expected: u64,
    },
    /// aws-chunked framing that breaks the format.
    #[error("malformed aws-chunked body: {reason}")]
    MalformedChunk {
        /// What is wrong with it.
        reason: String,
    },
    /// An aws-chunked body without x-amz-decoded-content-length.
    #[error("missing x-amz-decoded-content-length")]
    MissingContentLength,
    /// A header needed for verification is not valid (not a number, not ASCII, ...).
    #[error("invalid header {name}")]
    InvalidHeader {
        /// The header's name.
        name: &'static str,
    },
    /// The credential store failed.
    #[error("credential store failed")]
    Store {
        /// Its error.
        #[source]
        source: BoxError,
    },
    /// The transport failed while the body was read.
    #[error("reading the request body failed")]
    Body {
        /// The transport's error.
        #[source]
        source: BoxError,
    },
}

impl AuthError {
    pub(crate) fn malformed_auth(reason: impl Into<String>) -> Self {
        Self::MalformedAuthorization {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed_presigned(reason: impl Into<String>) -> Self {
        Self::MalformedPresigned {
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed_chunk(reason: impl Into<String>) -> Self {
        Self::MalformedChunk {
            reason: reason.into(),
        }
    }

    pub(crate) fn invalid_checksum(reason: impl Into<String>) -> Self {
        Self::InvalidChecksum {
            reason: reason.into(),
        }
    }

    pub(crate) fn mismatch(what: impl Into<String>) -> Self {
        Self::SignatureDoesNotMatch { what: what.into() }
    }
}
