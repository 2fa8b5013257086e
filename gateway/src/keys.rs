//! The data-key step: a fresh data key for each object written, the stored one unwrapped for each
//! object read.
//!
//! Takes a bucket and an object key, talks to `kms-core`, and hands [`crate::seal`] a
//! [`kms_core::aead::Key`]. The encryption context binds the wrapped data key to the object's
//! name exactly as AWS SSE-KMS does (`aws:s3:arn` = `arn:aws:s3:::BUCKET/KEY`): the same bytes
//! copied to another name in the backend do not unwrap, and a copy re-wraps the key for its new
//! name without touching the body.

use std::sync::Arc;

use kms_core::{DataKey, EncryptionContext, Kms};

/// The encryption-context entry AWS uses for S3 objects; ours too.
const S3_ARN_CONTEXT: &str = "aws:s3:arn";

/// A data key for one object, with what must be stored to get it back.
pub struct ObjectKey {
    /// The key that seals the object's segments.
    pub key: kms_core::aead::Key,
    /// The data key wrapped under the master key; names the master key and its version.
    pub wrapped: Vec<u8>,
    /// The id of the master key that wrapped it.
    pub master_key_id: String,
    /// That master key's ARN, as SSE-KMS answers report it.
    pub master_key_arn: String,
}

/// Data keys for objects, from the key management core.
pub struct DataKeys {
    kms: Arc<Kms>,
}

impl DataKeys {
    /// Data keys wrapped by the master keys of `kms`.
    pub fn new(kms: Arc<Kms>) -> DataKeys {
        DataKeys { kms }
    }

    /// The key management core itself, for the KMS API and admin commands.
    pub fn kms(&self) -> &Arc<Kms> {
        &self.kms
    }

    /// A fresh data key for `bucket/key`, under the default master key.
    pub fn generate(&self, bucket: &str, key: &str) -> Result<ObjectKey, kms_core::Error> {
        self.generate_under(bucket, key, None, &EncryptionContext::new())
    }

    /// A fresh data key for `bucket/key` under the master key `key_ref` (the default master
    /// key when `None`), with `extra` bound beside the object's ARN.
    pub fn generate_under(
        &self,
        bucket: &str,
        key: &str,
        key_ref: Option<&str>,
        extra: &EncryptionContext,
    ) -> Result<ObjectKey, kms_core::Error> {
        let master = self.master_key(key_ref)?;
        let generated = self
            .kms
            .generate_data_key(&master, &with_extra(context(bucket, key), extra))?;
        Ok(ObjectKey {
            key: kms_core::aead::Key::new(generated.plaintext.as_bytes())?,
            wrapped: generated.ciphertext_blob,
            master_key_id: generated.key_id,
            master_key_arn: generated.key_arn,
        })
    }

    /// Unwraps the data key stored with `bucket/key`.
    pub fn unwrap(
        &self,
        bucket: &str,
        key: &str,
        wrapped: &[u8],
    ) -> Result<kms_core::aead::Key, kms_core::Error> {
        let data_key = self.unwrap_data_key(bucket, key, wrapped)?;
        kms_core::aead::Key::new(data_key.as_bytes())
    }

    /// Unwraps the data key stored with `bucket/key`, as bytes to derive part keys from.
    pub fn unwrap_data_key(
        &self,
        bucket: &str,
        key: &str,
        wrapped: &[u8],
    ) -> Result<DataKey, kms_core::Error> {
        let extra = EncryptionContext::new();
        self.unwrap_with(bucket, key, wrapped, &extra)
            .map(|(key, _)| key)
    }

    /// Unwraps the data key stored with `bucket/key` and bound to `extra` too; returns it with
    /// the ARN of the master key that wrapped it.
    pub fn unwrap_with(
        &self,
        bucket: &str,
        key: &str,
        wrapped: &[u8],
        extra: &EncryptionContext,
    ) -> Result<(DataKey, String), kms_core::Error> {
        let decrypted = self
            .kms
            .decrypt(wrapped, &with_extra(context(bucket, key), extra))?;
        let arn = decrypted.key_arn.clone();
        Ok((decrypted.into_data_key()?, arn))
    }

    /// The data key stored with `from.0/from.1` (bound to `from.2` too), wrapped anew for
    /// `to.0/to.1` under the master key `to.2` (the default master key when `None`) and bound to
    /// `to.3`, without the gateway seeing it.
    pub fn rewrap(
        &self,
        from: (&str, &str, &EncryptionContext),
        to: (&str, &str, Option<&str>, &EncryptionContext),
        wrapped: &[u8],
    ) -> Result<Vec<u8>, kms_core::Error> {
        let master = self.master_key(to.2)?;
        self.kms.re_encrypt(
            wrapped,
            &with_extra(context(from.0, from.1), from.2),
            &master,
            &with_extra(context(to.0, to.1), to.3),
        )
    }

    /// The master key `key_ref` names, or the default master key when `None`.
    fn master_key(&self, key_ref: Option<&str>) -> Result<String, kms_core::Error> {
        match key_ref {
            Some(key_ref) => Ok(key_ref.to_owned()),
            None => self.kms.default_key().map(|k| k.key_id),
        }
    }

    /// The ARN of the master key `key_ref` (the default master key when `None`).
    pub fn master_key_arn(&self, key_ref: Option<&str>) -> Result<String, kms_core::Error> {
        match key_ref {
            Some(key_ref) => self.kms.describe_key(key_ref).map(|k| k.arn),
            None => self.kms.default_key().map(|k| k.arn),
        }
    }

    /// Whether the key store answers, for `/health/ready`.
    pub fn ready(&self) -> Result<(), kms_core::Error> {
        self.kms.default_key().map(|_| ())
    }
}

/// What a part key is derived for; the part number follows (u32 big-endian). Do not change:
/// every multipart part already written was sealed under a key derived with it.
const PART_KEY_INFO: &[u8] = b"sealgate part key v1";

/// The key that seals one attempt at one part of a multipart upload: HKDF-SHA256 of the upload's
/// data key, salted with the attempt's random id and bound to the part number. Each attempt has
/// its own key, so a retried part never reuses a nonce, and a part sealed for one upload, number
/// or attempt does not open as another.
pub fn part_key(
    upload_key: &DataKey,
    part_number: u32,
    attempt: &[u8; 16],
) -> Result<kms_core::aead::Key, kms_core::Error> {
    let mut info = PART_KEY_INFO.to_vec();
    info.extend_from_slice(&part_number.to_be_bytes());
    derived_key(upload_key, attempt, &info)
}

/// What a completion key is derived for. Do not change: every completed multipart object's part
/// table and ETag record were sealed under a key derived with it.
const COMPLETION_KEY_INFO: &[u8] = b"sealgate completion key v1";

/// The key that seals the part table and ETag record of one completion of a multipart upload:
/// HKDF-SHA256 of the upload's data key, salted with the completion's random id. Two completions
/// of one upload (a retried or racing CompleteMultipartUpload) never seal under one nonce.
pub fn completion_key(
    upload_key: &DataKey,
    completion: &[u8; 16],
) -> Result<kms_core::aead::Key, kms_core::Error> {
    derived_key(upload_key, completion, COMPLETION_KEY_INFO)
}

/// What a headers key is derived for. Do not change: headers replaced by a copy were sealed
/// under a key derived with it.
const HEADERS_KEY_INFO: &[u8] = b"sealgate headers key v1";

/// The key that seals headers replaced after the object was written (CopyObject with
/// `x-amz-metadata-directive: REPLACE` keeps the body and its data key): HKDF-SHA256 of the data
/// key salted with a random id, so the new headers record never reuses the original's nonce.
pub fn headers_key(
    data_key: &DataKey,
    salt: &[u8; 16],
) -> Result<kms_core::aead::Key, kms_core::Error> {
    derived_key(data_key, salt, HEADERS_KEY_INFO)
}

/// The AEAD key HKDF derives from `key` with `salt` and `info`.
fn derived_key(
    key: &DataKey,
    salt: &[u8],
    info: &[u8],
) -> Result<kms_core::aead::Key, kms_core::Error> {
    let derived = key.derive(salt, info)?;
    kms_core::aead::Key::new(derived.as_bytes())
}

/// `context` with the client's `extra` pairs beside it (they never name the object's ARN).
fn with_extra(mut context: EncryptionContext, extra: &EncryptionContext) -> EncryptionContext {
    for (name, value) in extra {
        context.entry(name.clone()).or_insert_with(|| value.clone());
    }
    context
}

/// The encryption context of `bucket/key`.
pub fn context(bucket: &str, key: &str) -> EncryptionContext {
    let mut context = EncryptionContext::new();
    context.insert(
        S3_ARN_CONTEXT.to_owned(),
        format!("arn:aws:s3:::{bucket}/{key}"),
    );
    context
}
