//! Server-side encryption as S3 speaks of it: which master key wraps an object's data key, and
//! the headers that ask for it and report it.
//!
//! Every object is encrypted. `AES256` (or no header) means the default master key, reported as
//! SSE-S3; `aws:kms` means SSE-KMS under the key named by
//! `x-amz-server-side-encryption-aws-kms-key-id` (the default master key when absent), with the
//! client's `x-amz-server-side-encryption-context` bound into the wrapping beside the object's
//! ARN, as AWS binds it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderValue};
use kms_core::EncryptionContext;

use super::errors::S3Error;
use crate::error::Error;

/// The header that asks for and reports the encryption.
pub const SSE_HEADER: &str = "x-amz-server-side-encryption";
/// The header that names the master key of an SSE-KMS object.
pub const KMS_KEY_HEADER: &str = "x-amz-server-side-encryption-aws-kms-key-id";
/// The header that carries an SSE-KMS object's encryption context (base64 of JSON).
pub const CONTEXT_HEADER: &str = "x-amz-server-side-encryption-context";
/// The context entry AWS binds every S3 object's data key to; the client may not set it.
const ARN_ENTRY: &str = "aws:s3:arn";

/// How an object is encrypted, as S3 reports it and as its metadata keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Sse {
    /// The default master key, reported as SSE-S3 (`AES256`).
    #[default]
    S3,
    /// SSE-KMS (`aws:kms`), with the client's encryption context as it sent it (base64 JSON).
    Kms {
        /// The `x-amz-server-side-encryption-context` value, if the client sent one.
        context: Option<String>,
    },
}

/// What a request asks for: the encryption, and for SSE-KMS which master key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseRequest {
    /// The encryption.
    pub sse: Sse,
    /// The master key (id, ARN, alias or alias ARN); `None` for the default master key.
    pub key_ref: Option<String>,
}

impl SseRequest {
    /// Reads the SSE headers of a PUT, copy or CreateMultipartUpload; `None` when there are
    /// none, so the bucket's default applies.
    pub fn requested(headers: &HeaderMap) -> Result<Option<SseRequest>, Error> {
        let asked = [SSE_HEADER, KMS_KEY_HEADER, CONTEXT_HEADER]
            .iter()
            .any(|name| headers.contains_key(*name));
        match asked {
            true => Self::from_headers(headers).map(Some),
            false => Self::from_headers(headers).map(|_| None),
        }
    }

    /// Reads the SSE headers of a PUT, copy or CreateMultipartUpload; refuses what this build
    /// cannot honour rather than storing differently.
    pub fn from_headers(headers: &HeaderMap) -> Result<SseRequest, Error> {
        if headers.contains_key("x-amz-server-side-encryption-customer-algorithm") {
            return Err(Error::NotImplemented { operation: "SSE-C" });
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let key_ref = text(KMS_KEY_HEADER).map(str::to_owned);
        let context = text(CONTEXT_HEADER).map(str::to_owned);
        match headers.get(SSE_HEADER).map(HeaderValue::as_bytes) {
            None | Some(b"AES256") if key_ref.is_none() && context.is_none() => {
                Ok(SseRequest::default())
            }
            None | Some(b"AES256") => {
                let msg = "Server Side Encryption with AWS KMS managed key requires HTTP header \
                           x-amz-server-side-encryption : aws:kms";
                Err(S3Error::invalid_argument(msg, SSE_HEADER, "").into())
            }
            Some(b"aws:kms") => {
                if let Some(context) = &context {
                    extra_context(Some(context))?;
                }
                Ok(SseRequest {
                    sse: Sse::Kms { context },
                    key_ref,
                })
            }
            Some(b"aws:kms:dsse") => Err(Error::NotImplemented {
                operation: "aws:kms:dsse",
            }),
            Some(_) => Err(Error::InvalidEncryptionAlgorithm),
        }
    }
}

impl Sse {
    /// The client's encryption context, to bind beside the object's ARN.
    pub fn context(&self) -> Result<EncryptionContext, Error> {
        match self {
            Sse::S3 => Ok(EncryptionContext::new()),
            Sse::Kms { context } => extra_context(context.as_deref()),
        }
    }

    /// Sets the SSE headers S3 answers with; `key_arn` names the master key of SSE-KMS.
    pub fn apply(&self, headers: &mut HeaderMap, key_arn: &str) {
        let mut set = |name: &'static str, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        match self {
            Sse::S3 => set(SSE_HEADER, "AES256"),
            Sse::Kms { context } => {
                set(SSE_HEADER, "aws:kms");
                set(KMS_KEY_HEADER, key_arn);
                if let Some(context) = context {
                    set(CONTEXT_HEADER, context);
                }
            }
        }
    }
}

/// Parses a client's encryption context: base64 of a JSON object of strings.
fn extra_context(value: Option<&str>) -> Result<EncryptionContext, Error> {
    let Some(value) = value else {
        return Ok(EncryptionContext::new());
    };
    let invalid = || {
        let msg = "The encryption context is not valid base64 of a JSON object of strings";
        Error::from(S3Error::invalid_argument(msg, CONTEXT_HEADER, value))
    };
    let json = BASE64.decode(value).map_err(|_| invalid())?;
    let context: EncryptionContext = serde_json::from_slice(&json).map_err(|_| invalid())?;
    if context.contains_key(ARN_ENTRY) {
        return Err(invalid());
    }
    Ok(context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::headers::header_map as headers;

    #[test]
    fn requests_read_as_s3_reads_them() {
        let read = |pairs: &[(&'static str, &str)]| SseRequest::from_headers(&headers(pairs));
        assert_eq!(read(&[]).unwrap(), SseRequest::default());
        assert_eq!(
            read(&[(SSE_HEADER, "AES256")]).unwrap(),
            SseRequest::default()
        );
        let context = BASE64.encode(br#"{"app":"x"}"#);
        let kms = read(&[
            (SSE_HEADER, "aws:kms"),
            (KMS_KEY_HEADER, "alias/app"),
            (CONTEXT_HEADER, &context),
        ])
        .unwrap();
        assert_eq!(kms.key_ref.as_deref(), Some("alias/app"));
        assert_eq!(
            kms.sse.context().unwrap().get("app").map(String::as_str),
            Some("x")
        );
        assert!(read(&[(KMS_KEY_HEADER, "alias/app")]).is_err());
        assert!(read(&[(SSE_HEADER, "aws:kms"), (CONTEXT_HEADER, "bm90IGpzb24=")]).is_err());
        let arn = BASE64.encode(br#"{"aws:s3:arn":"x"}"#);
        assert!(read(&[(SSE_HEADER, "aws:kms"), (CONTEXT_HEADER, &arn)]).is_err());
        assert!(read(&[(SSE_HEADER, "DES")]).is_err());
    }
}
