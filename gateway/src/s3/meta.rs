//! The `sealgate-*` metadata every stored object carries, and its records sealed under the
//! object's data key.
//!
//! Written by PUT before the body streams, read by GET, HEAD and LIST. Frozen names and meanings
//! (docs/format.md, "Backend metadata"): objects already written depend on them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::sse::Sse;
use crate::backend::StoredMeta;
use crate::seal;

/// Metadata name of the format version. Do not change.
pub const FORMAT: &str = "sealgate-format";
/// Metadata name of the wrapped data key (base64 of kms-core's blob). Do not change.
pub const WRAPPED_KEY: &str = "sealgate-key";
/// Metadata name of the plaintext length (decimal). Do not change.
pub const SIZE: &str = "sealgate-size";
/// Metadata name of the sealed client headers (base64). Do not change.
pub const HEADERS: &str = "sealgate-headers";
/// Metadata name of the sealed ETag record, when known before the upload (base64). Do not change.
pub const ETAG: &str = "sealgate-etag";
/// Metadata name of a multipart object's upload: `<upload id>/<completion id>` (hex). Its
/// presence says the body is a sealed part table. Do not change.
pub const UPLOAD: &str = "sealgate-upload";
/// Metadata name of a multipart object's part count (decimal). Do not change.
pub const PARTS: &str = "sealgate-parts";
/// Metadata name of the salt (hex) of the key that sealed replaced headers (a copy with
/// `x-amz-metadata-directive: REPLACE`); without it the headers are sealed under the data key.
/// Do not change.
pub const HEADERS_KEY: &str = "sealgate-headers-key";
/// Metadata name of the encryption an object was asked for: `aws:kms` for SSE-KMS, absent for
/// SSE-S3. Do not change.
pub const SSE: &str = "sealgate-sse";
/// Metadata name of an SSE-KMS object's client encryption context (base64 JSON, as the client
/// sent it); bound into the wrapped data key, so it is needed to unwrap it. Do not change.
pub const CONTEXT: &str = "sealgate-context";

/// The only format version this build writes; it reads every version listed in format.md.
pub const FORMAT_VERSION: &str = "1";

/// What the metadata of a stored object says, still sealed where it was sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// kms-core's blob: the data key wrapped under a master-key version.
    pub wrapped_key: Vec<u8>,
    /// The plaintext length.
    pub size: u64,
    /// The client headers, sealed (see [`seal::seal_headers`]).
    pub sealed_headers: Vec<u8>,
    /// Salt of the key the headers are sealed under, when that is not the data key itself.
    pub headers_salt: Option<[u8; 16]>,
    /// The plaintext MD5, sealed, when it was known before the body was written; for a multipart
    /// object, the MD5 of its parts' MD5s, sealed under the completion key.
    pub sealed_etag: Option<Vec<u8>>,
    /// Set for an object completed from a multipart upload, whose body is its part table.
    pub multipart: Option<Multipart>,
    /// The encryption the object was asked for.
    pub sse: Sse,
}

/// What the metadata of a multipart object says of its upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart {
    /// The upload the parts were sent to; their records are named after it.
    pub upload_id: String,
    /// Salt of the completion key, which seals the part table and the ETag record.
    pub completion: [u8; 16],
    /// How many parts the object has.
    pub parts: u32,
}

/// Metadata that Sealgate did not write or cannot read.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("object metadata unusable: {reason}")]
pub struct MetaError {
    /// What is wrong, for the log only.
    pub reason: &'static str,
}

impl ObjectMeta {
    /// The metadata as the backend stores it.
    pub fn to_stored(&self) -> StoredMeta {
        let mut stored = StoredMeta::new();
        stored.insert(FORMAT.to_owned(), FORMAT_VERSION.to_owned());
        stored.insert(WRAPPED_KEY.to_owned(), BASE64.encode(&self.wrapped_key));
        stored.insert(SIZE.to_owned(), self.size.to_string());
        stored.insert(HEADERS.to_owned(), BASE64.encode(&self.sealed_headers));
        if let Some(etag) = &self.sealed_etag {
            stored.insert(ETAG.to_owned(), BASE64.encode(etag));
        }
        if let Some(salt) = &self.headers_salt {
            stored.insert(HEADERS_KEY.to_owned(), hex::encode(salt));
        }
        if let Sse::Kms { context } = &self.sse {
            stored.insert(SSE.to_owned(), "aws:kms".to_owned());
            if let Some(context) = context {
                stored.insert(CONTEXT.to_owned(), context.clone());
            }
        }
        if let Some(multipart) = &self.multipart {
            let upload = format!(
                "{}/{}",
                multipart.upload_id,
                hex::encode(multipart.completion)
            );
            stored.insert(UPLOAD.to_owned(), upload);
            stored.insert(PARTS.to_owned(), multipart.parts.to_string());
        }
        stored
    }

    /// Reads the metadata the backend returned.
    pub fn from_stored(stored: &StoredMeta) -> Result<ObjectMeta, MetaError> {
        match stored.get(FORMAT).map(String::as_str) {
            Some(FORMAT_VERSION) => {}
            Some(_) => {
                return Err(MetaError {
                    reason: "unknown format version",
                });
            }
            None => {
                return Err(MetaError {
                    reason: "not written by sealgate",
                });
            }
        }
        let size = required(stored, SIZE)?.parse().map_err(|_| MetaError {
            reason: "size is not a number",
        })?;
        Ok(ObjectMeta {
            wrapped_key: decode(required(stored, WRAPPED_KEY)?)?,
            size,
            sealed_headers: decode(required(stored, HEADERS)?)?,
            sealed_etag: stored.get(ETAG).map(|etag| decode(etag)).transpose()?,
            headers_salt: stored.get(HEADERS_KEY).map(|s| salt(s)).transpose()?,
            multipart: multipart(stored)?,
            sse: sse(stored)?,
        })
    }

    /// Whether a stored body of `stored_len` bytes is what this metadata describes.
    pub fn matches_body(&self, stored_len: u64) -> bool {
        match &self.multipart {
            Some(m) => stored_len == crate::s3::parts::PartTable::sealed_len(m.parts),
            None => seal::plaintext_len(stored_len) == Some(self.size),
        }
    }
}

fn sse(stored: &StoredMeta) -> Result<Sse, MetaError> {
    match stored.get(SSE).map(String::as_str) {
        None => Ok(Sse::S3),
        Some("aws:kms") => Ok(Sse::Kms {
            context: stored.get(CONTEXT).cloned(),
        }),
        Some(_) => Err(MetaError {
            reason: "unknown encryption",
        }),
    }
}

fn salt(hex_value: &str) -> Result<[u8; 16], MetaError> {
    let mut salt = [0u8; 16];
    hex::decode_to_slice(hex_value, &mut salt).map_err(|_| MetaError {
        reason: "a salt is not 16 bytes of hex",
    })?;
    Ok(salt)
}

fn multipart(stored: &StoredMeta) -> Result<Option<Multipart>, MetaError> {
    let Some(upload) = stored.get(UPLOAD) else {
        return Ok(None);
    };
    let bad = MetaError {
        reason: "multipart entries are malformed",
    };
    let (upload_id, completion_hex) = upload.split_once('/').ok_or(bad)?;
    let completion = salt(completion_hex)?;
    let parts = required(stored, PARTS)?.parse().map_err(|_| bad)?;
    if !crate::s3::parts::is_upload_id(upload_id) || parts == 0 {
        return Err(bad);
    }
    Ok(Some(Multipart {
        upload_id: upload_id.to_owned(),
        completion,
        parts,
    }))
}

fn required<'a>(stored: &'a StoredMeta, name: &'static str) -> Result<&'a str, MetaError> {
    stored.get(name).map(String::as_str).ok_or(MetaError {
        reason: "a sealgate-* entry is missing",
    })
}

fn decode(value: &str) -> Result<Vec<u8>, MetaError> {
    BASE64.decode(value).map_err(|_| MetaError {
        reason: "an entry is not base64",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectMeta {
        ObjectMeta {
            wrapped_key: vec![1, 2, 3],
            size: 70000,
            sealed_headers: vec![4, 5],
            sealed_etag: Some(vec![6; 32]),
            headers_salt: Some([5; 16]),
            multipart: None,
            sse: Sse::Kms {
                context: Some("e30=".to_owned()),
            },
        }
    }

    #[test]
    fn round_trips_through_stored_metadata() {
        let meta = sample();
        assert_eq!(ObjectMeta::from_stored(&meta.to_stored()).unwrap(), meta);
    }

    #[test]
    fn multipart_entries_round_trip() {
        let meta = ObjectMeta {
            multipart: Some(Multipart {
                upload_id: "0123456789abcdef0123456789abcdef".to_owned(),
                completion: [9; 16],
                parts: 3,
            }),
            ..sample()
        };
        assert_eq!(ObjectMeta::from_stored(&meta.to_stored()).unwrap(), meta);
        assert!(meta.matches_body(3 * 28 + 16));
        let mut stored = meta.to_stored();
        stored.insert(UPLOAD.to_owned(), "../x/00".to_owned());
        assert!(ObjectMeta::from_stored(&stored).is_err());
    }

    #[test]
    fn values_are_ascii() {
        let stored = sample().to_stored();
        assert!(stored.values().all(|value| value.is_ascii()));
    }

    #[test]
    fn foreign_objects_are_refused() {
        assert!(ObjectMeta::from_stored(&StoredMeta::new()).is_err());
        let mut stored = sample().to_stored();
        stored.insert(FORMAT.to_owned(), "9".to_owned());
        assert!(ObjectMeta::from_stored(&stored).is_err());
    }
}
