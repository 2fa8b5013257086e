//! The values [`Kms`](crate::Kms) takes and returns.
//!
//! Metadata types mirror AWS KMS's JSON shapes (field names in PascalCase, dates in seconds since
//! the Unix epoch), so the gateway's KMS endpoint can serialize them as they are.

use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use crate::{DataKey, Error, Plaintext};

/// The encryption context: name-value pairs bound to a ciphertext as associated data.
pub type EncryptionContext = std::collections::BTreeMap<String, String>;

/// Settings of a [`Kms`](crate::Kms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KmsOptions {
    /// Region in ARNs. Default `us-east-1`.
    pub region: String,
    /// Account id in ARNs. Default `000000000000`.
    pub account_id: String,
}

impl Default for KmsOptions {
    fn default() -> Self {
        KmsOptions {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

/// A master key's state, as AWS names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Encrypts and decrypts nothing until enabled again.
    Disabled,
    /// Disabled and scheduled for destruction.
    PendingDeletion,
}

/// How a key version came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RotationType {
    /// The material the key was created with.
    #[serde(rename = "INITIAL")]
    Initial,
    /// A scheduled rotation.
    #[serde(rename = "AUTOMATIC")]
    Automatic,
    /// `RotateKeyOnDemand`.
    #[serde(rename = "ON_DEMAND")]
    OnDemand,
}

/// A tag on a master key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    /// 1 to 128 characters.
    pub tag_key: String,
    /// 0 to 256 characters.
    pub tag_value: String,
}

/// What `CreateKey` takes. Tags and policy are stored; the policy is enforced once policies land.
#[derive(Clone, Debug, Default)]
pub struct CreateKey {
    /// Up to 8192 characters.
    pub description: String,
    /// Up to 50 tags with distinct keys.
    pub tags: Vec<Tag>,
    /// A key policy document (JSON), up to 32768 characters.
    pub policy: Option<String>,
}

/// Always `ENCRYPT_DECRYPT`: Sealgate's master keys are symmetric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeyUsage {
    /// Encrypt and decrypt.
    #[serde(rename = "ENCRYPT_DECRYPT")]
    EncryptDecrypt,
}

/// Always `SYMMETRIC_DEFAULT` (AES-256-GCM).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum KeySpec {
    /// AES-256-GCM.
    #[serde(rename = "SYMMETRIC_DEFAULT")]
    SymmetricDefault,
}

/// Where the key material comes from. `AWS_KMS`: made by Sealgate's root of trust.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Origin {
    /// Made by the root of trust.
    #[serde(rename = "AWS_KMS")]
    AwsKms,
}

/// A master key's description, in AWS's `KeyMetadata` shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    /// The key id (a UUID).
    pub key_id: String,
    /// `arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub arn: String,
    /// The account id of the ARN.
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    /// When the key was created.
    #[serde(serialize_with = "epoch")]
    pub creation_date: OffsetDateTime,
    /// Whether the state is `Enabled`.
    pub enabled: bool,
    /// The description.
    pub description: String,
    /// The state.
    pub key_state: KeyState,
    /// When the key's material will be destroyed (state `PendingDeletion` only).
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<OffsetDateTime>,
    /// The waiting period of a scheduled deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_deletion_window_in_days: Option<u32>,
    /// Always `ENCRYPT_DECRYPT`.
    pub key_usage: KeyUsage,
    /// Always `SYMMETRIC_DEFAULT`.
    pub key_spec: KeySpec,
    /// Same as `key_spec` (AWS's older name).
    pub customer_master_key_spec: KeySpec,
    /// Always `["SYMMETRIC_DEFAULT"]`.
    pub encryption_algorithms: Vec<KeySpec>,
    /// Always `AWS_KMS`.
    pub origin: Origin,
    /// Always `CUSTOMER`.
    pub key_manager: &'static str,
    /// Always false.
    pub multi_region: bool,
    /// The newest version of the key material: new encryptions use it.
    pub current_key_version: u32,
}

/// An alias, as `ListAliases` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasEntry {
    /// `alias/NAME`.
    pub alias_name: String,
    /// `arn:aws:kms:REGION:ACCOUNT:alias/NAME`.
    pub alias_arn: String,
    /// The key the alias points to.
    pub target_key_id: String,
    /// When the alias was created.
    #[serde(serialize_with = "epoch")]
    pub creation_date: OffsetDateTime,
    /// When the alias was last pointed somewhere.
    #[serde(serialize_with = "epoch")]
    pub last_updated_date: OffsetDateTime,
}

/// A key, as `ListKeys` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntry {
    /// The key id.
    pub key_id: String,
    /// The key ARN.
    pub key_arn: String,
}

/// A rotation, as `ListKeyRotations` returns it (and `rotate_due` reports).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRotation {
    /// The key id.
    pub key_id: String,
    /// The version the rotation created.
    pub key_version: u32,
    /// When it happened.
    #[serde(serialize_with = "epoch")]
    pub rotation_date: OffsetDateTime,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub rotation_type: RotationType,
}

/// What [`Kms::migrate_root`](crate::Kms::migrate_root) moved into the primary root of trust.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootMigration {
    /// The master keys that got a new current version in the primary, in key id order.
    pub keys_moved: Vec<String>,
    /// Whether the store key was made anew in the primary and every record sealed under it.
    pub store_key_moved: bool,
}

/// What `GetKeyRotationStatus` returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationStatus {
    /// The key id.
    pub key_id: String,
    /// Whether scheduled rotation is on.
    pub key_rotation_enabled: bool,
    /// The period in days, when on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    /// The next scheduled rotation, when on.
    #[serde(serialize_with = "epoch_opt", skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<OffsetDateTime>,
}

/// A fresh 256-bit data key and its wrapped form.
#[derive(Debug)]
pub struct GeneratedDataKey {
    /// The master key's id.
    pub key_id: String,
    /// The master key's ARN (AWS returns this as `KeyId`).
    pub key_arn: String,
    /// The master-key version that wrapped it.
    pub key_version: u32,
    /// The data key, for sealing now; never store it.
    pub plaintext: DataKey,
    /// The wrapped data key, to store beside the object.
    pub ciphertext_blob: Vec<u8>,
}

/// A fresh data key of any supported length and its wrapped form.
#[derive(Debug)]
pub struct GeneratedData {
    /// The master key's id.
    pub key_id: String,
    /// The master key's ARN.
    pub key_arn: String,
    /// The master-key version that wrapped it.
    pub key_version: u32,
    /// The data key (absent for `GenerateDataKeyWithoutPlaintext`).
    pub plaintext: Option<Plaintext>,
    /// The wrapped data key.
    pub ciphertext_blob: Vec<u8>,
}

/// The length of a generated data key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKeySpec {
    /// 32 bytes.
    Aes256,
    /// 16 bytes.
    Aes128,
    /// 1 to 1024 bytes (`NumberOfBytes`).
    Bytes(usize),
}

impl DataKeySpec {
    /// The length in bytes, checked against 1..=1024.
    ///
    /// # Errors
    /// [`Error::Validation`] for a length outside 1..=1024.
    pub fn byte_len(self) -> Result<usize, Error> {
        match self {
            DataKeySpec::Aes256 => Ok(32),
            DataKeySpec::Aes128 => Ok(16),
            DataKeySpec::Bytes(n @ 1..=1024) => Ok(n),
            DataKeySpec::Bytes(_) => Err(Error::Validation {
                field: "NumberOfBytes",
                reason: "must be 1 to 1024".into(),
            }),
        }
    }
}

/// What `Decrypt` returns.
#[derive(Debug)]
pub struct Decrypted {
    /// The master key's id the blob named.
    pub key_id: String,
    /// The master key's ARN.
    pub key_arn: String,
    /// The master-key version that opened it.
    pub key_version: u32,
    /// The plaintext.
    pub plaintext: Plaintext,
}

impl Decrypted {
    /// The plaintext as a 256-bit data key.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] if the plaintext is not exactly 32 bytes.
    pub fn into_data_key(self) -> Result<DataKey, Error> {
        DataKey::try_from(self.plaintext.as_bytes())
    }
}

fn epoch<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_i64(t.unix_timestamp())
}

fn epoch_opt<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => epoch(t, s),
        None => s.serialize_none(),
    }
}
