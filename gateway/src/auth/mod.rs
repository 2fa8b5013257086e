//! Authentication: the second step of the request path, after `server` and before policy.
//!
//! Takes the request head and the credential store and hands on an [`Authenticated`] identity
//! (access key id, principal, the service of the credential scope, the payload mode), after
//! recomputing the AWS Signature Version 4 (Authorization header or presigned URL) and comparing
//! it in constant time. [`verify_body`] then wraps the body in a stream that checks everything
//! the signature covers or the client announced: signed payload hash, aws-chunked framing with
//! chained chunk signatures, trailing checksums, Content-MD5 and the declared lengths; a failure
//! is an `Err` item before the stream's end. Every error is an [`AuthError`]; `crate::error`
//! maps them to S3 codes.
//!
//! ```text
//! parse (find the signature) → check scope and time → look up the secret
//!   → sigv4 (aws-sigv4, or canonical for what it cannot reproduce) → compare
//! verify (length, hashes, checksums) ∘ chunked (aws-chunked framing, chunk signatures)
//! ```

mod canonical;
mod checksum;
mod chunked;
mod credentials;
mod error;
mod parse;
mod secret;
mod sigv4;
mod verify;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_chunked;
#[cfg(test)]
mod tests_clients;

use std::time::{Duration, SystemTime};

use http::request::Parts;
use sha2::{Digest, Sha256};

pub use credentials::{
    Credential, CredentialStore, IdentityCredentials, Principal, StaticCredentials,
};
pub use error::AuthError;
pub use secret::{SecretKey, SigningKey};
pub use verify::{VerifiedBody, verify_body};

use chunked::ChainSeed;
use parse::{Location, SignedParts, format_amz_date, plus_secs};

/// The default allowed clock skew: 15 minutes, as S3 allows.
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// What authentication checks against.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// The region of the credential scope (`us-east-1` unless configured).
    pub region: String,
    /// The largest allowed difference between request time and `now` (default 15 minutes).
    pub max_skew: Duration,
    /// The server's current time.
    pub now: SystemTime,
}

impl AuthSettings {
    /// Settings for `region` with the default skew, at the current time.
    pub fn new(region: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            max_skew: DEFAULT_MAX_SKEW,
            now: SystemTime::now(),
        }
    }
}

/// How the body is covered, from `x-amz-content-sha256` (presigned URLs: UNSIGNED-PAYLOAD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// A hex SHA-256 the body must hash to.
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: aws-chunked, every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and a signed trailer.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: aws-chunked, unsigned, with a trailer.
    StreamingUnsignedTrailer,
}

impl Payload {
    /// Parses an `x-amz-content-sha256` value.
    fn parse(text: &str) -> Result<Self, AuthError> {
        match text {
            "UNSIGNED-PAYLOAD" => Ok(Self::Unsigned),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" => Ok(Self::StreamingSigned),
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => Ok(Self::StreamingSignedTrailer),
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(Self::StreamingUnsignedTrailer),
            t if t.starts_with("STREAMING-AWS4-ECDSA") => Err(AuthError::UnsupportedMechanism {
                what: "AWS Signature Version 4A",
            }),
            t => hex_sha256(t)
                .map(Self::Sha256)
                .ok_or(AuthError::InvalidContentSha256),
        }
    }

    /// Whether the body is aws-chunked.
    pub fn is_chunked(self) -> bool {
        !matches!(self, Self::Unsigned | Self::Sha256(_))
    }

    /// Whether an aws-chunked trailer follows the last chunk.
    pub fn has_trailer(self) -> bool {
        matches!(
            self,
            Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

fn hex_sha256(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A request whose signature was verified.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The access key id that signed.
    pub access_key_id: String,
    /// Who that key belongs to.
    pub principal: Principal,
    /// The service of the credential scope (`s3`, `kms`, `iam`): the caller checks it.
    pub service: String,
    /// How the body is covered.
    pub payload: Payload,
    /// Signing key, timestamp, scope and seed signature, for chunk and trailer signatures.
    pub(crate) chain: ChainSeed,
}

#[cfg(test)]
impl Authenticated {
    /// An identity for other modules' unit tests, as if the root had signed an
    /// UNSIGNED-PAYLOAD request with access key `AKIDTEST`.
    pub(crate) fn for_tests() -> Self {
        let secret = SecretKey::new("test-secret");
        let chain = ChainSeed {
            key: SigningKey::derive(&secret, "20260101", "us-east-1", "s3"),
            amz_date: "20260101T000000Z".into(),
            scope: "20260101/us-east-1/s3/aws4_request".into(),
            seed_signature: "0".repeat(64),
        };
        Self {
            access_key_id: "AKIDTEST".into(),
            principal: Principal::Root,
            service: "s3".into(),
            payload: Payload::Unsigned,
            chain,
        }
    }
}

/// Verifies the SigV4 signature of a request head against `store`.
///
/// Header-signed requests must carry `x-amz-content-sha256` (as S3 requires); the body is then
/// checked by [`verify_body`]. For services whose clients sign the body's hash without that
/// header (KMS, IAM), use [`authenticate_buffered`].
pub async fn authenticate(
    parts: &Parts,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
) -> Result<Authenticated, AuthError> {
    authenticate_with(parts, None, store, settings).await
}

/// Verifies a request whose whole (small) body is already read, such as a KMS or IAM JSON call
/// signed over the body's SHA-256 without an `x-amz-content-sha256` header.
pub async fn authenticate_buffered(
    parts: &Parts,
    body: &[u8],
    store: &dyn CredentialStore,
    settings: &AuthSettings,
) -> Result<Authenticated, AuthError> {
    authenticate_with(parts, Some(body), store, settings).await
}

async fn authenticate_with(
    parts: &Parts,
    body: Option<&[u8]>,
    store: &dyn CredentialStore,
    settings: &AuthSettings,
) -> Result<Authenticated, AuthError> {
    let signed = parse::signed_parts(parts)?;
    check_scope(&signed, settings)?;
    check_time(&signed, settings)?;
    check_all_amz_headers_signed(parts, &signed)?;
    let (payload, payload_hash) = payload_of(parts, &signed, body)?;

    let credential = store.lookup(&signed.access_key_id).await?.ok_or_else(|| {
        AuthError::InvalidAccessKeyId {
            access_key_id: signed.access_key_id.clone(),
        }
    })?;

    let secret = &credential.secret;
    let (expected, builder) = sigv4::expected_signature(parts, &signed, secret, &payload_hash);
    if !secret::signatures_match(&expected, &signed.signature) {
        tracing::debug!(access_key_id = %signed.access_key_id, ?builder, "signature mismatch");
        return Err(AuthError::mismatch("request"));
    }
    tracing::debug!(access_key_id = %signed.access_key_id, ?builder, "request authenticated");
    Ok(authenticated(credential, signed, payload))
}

/// S3 refuses header-signed requests with `x-amz-*` headers the signature does not cover.
fn check_all_amz_headers_signed(parts: &Parts, signed: &SignedParts) -> Result<(), AuthError> {
    if signed.location != Location::Header {
        return Ok(());
    }
    let unsigned = parts
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| {
            name.starts_with("x-amz-") && !signed.signed_headers.iter().any(|s| s == name)
        });
    match unsigned {
        Some(name) => Err(AuthError::UnsignedHeader {
            name: name.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The identity handed on, with what chunk verification needs.
fn authenticated(credential: Credential, signed: SignedParts, payload: Payload) -> Authenticated {
    let scope = &signed.scope;
    let key = SigningKey::derive(
        &credential.secret,
        &scope.date,
        &scope.region,
        &scope.service,
    );
    let chain = ChainSeed {
        key,
        amz_date: signed.amz_date,
        scope: scope.to_scope_string(),
        seed_signature: signed.signature,
    };
    Authenticated {
        access_key_id: credential.access_key_id,
        principal: credential.principal,
        service: signed.scope.service,
        payload,
        chain,
    }
}

/// The payload mode and the payload hash that goes into the canonical request.
fn payload_of(
    parts: &Parts,
    signed: &SignedParts,
    body: Option<&[u8]>,
) -> Result<(Payload, String), AuthError> {
    let header = parts.headers.get("x-amz-content-sha256");
    let header = header
        .map(|v| parse::header_str(v, "x-amz-content-sha256"))
        .transpose()?;
    let (payload, hash) = match (&signed.location, header, body) {
        (Location::Header, Some(text), _) => (Payload::parse(text)?, text.to_owned()),
        (Location::Header, None, Some(body)) => {
            let digest: [u8; 32] = Sha256::digest(body).into();
            (Payload::Sha256(digest), hex::encode(digest))
        }
        (Location::Header, None, None) => return Err(AuthError::MissingContentSha256),
        (Location::Query { .. }, header, _) => {
            let query = parse::query_pairs(parts.uri.query().unwrap_or(""));
            let signed_hash = query.into_iter().find(|(k, _)| k == "X-Amz-Content-Sha256");
            let hash = signed_hash.map_or_else(|| "UNSIGNED-PAYLOAD".to_owned(), |(_, v)| v);
            (Payload::parse(header.unwrap_or(&hash))?, hash)
        }
    };
    check_buffered_hash(payload, body)?;
    Ok((payload, hash))
}

/// A buffered body must already match a signed payload hash.
fn check_buffered_hash(payload: Payload, body: Option<&[u8]>) -> Result<(), AuthError> {
    match (payload, body) {
        (Payload::Sha256(digest), Some(body)) if Sha256::digest(body)[..] != digest[..] => {
            Err(AuthError::ContentSha256Mismatch)
        }
        _ => Ok(()),
    }
}

/// The credential scope must be for our region and for the day of the request time.
fn check_scope(signed: &SignedParts, settings: &AuthSettings) -> Result<(), AuthError> {
    let scope = &signed.scope;
    if scope.region != settings.region {
        return Err(AuthError::WrongRegion {
            got: scope.region.clone(),
            expected: settings.region.clone(),
        });
    }
    if signed.amz_date.get(..8) == Some(scope.date.as_str()) {
        return Ok(());
    }
    let reason = "credential scope date is not the request date";
    match signed.location {
        Location::Header => Err(AuthError::malformed_auth(reason)),
        Location::Query { .. } => Err(AuthError::malformed_presigned(reason)),
    }
}

/// The request time must be within the skew of `now`; a presigned URL must not have expired.
fn check_time(signed: &SignedParts, settings: &AuthSettings) -> Result<(), AuthError> {
    let (time, now) = (signed.time, settings.now);
    let ahead = time.duration_since(now).unwrap_or_default();
    let behind = now.duration_since(time).unwrap_or_default();
    let skewed = |d: Duration| d > settings.max_skew;
    let too_skewed = AuthError::RequestTimeTooSkewed {
        request_time: signed.amz_date.clone(),
        max_skew_secs: settings.max_skew.as_secs(),
    };
    match signed.location {
        Location::Header if skewed(ahead) || skewed(behind) => Err(too_skewed),
        Location::Query { .. } if skewed(ahead) => Err(too_skewed),
        Location::Query { expires } if now > plus_secs(time, expires) => Err(AuthError::Expired {
            expired_at: format_amz_date(plus_secs(time, expires)),
        }),
        _ => Ok(()),
    }
}
