//! [`Kms`]: master keys and the cryptographic operations on them.
//!
//! The gateway's `keys` step and its KMS endpoint call this. `Kms` resolves a key reference
//! against the in-memory catalog, asks the root of trust to seal or open with the key's version,
//! and frames the result as a ciphertext blob (see [`blob`](crate::blob)). Changes go through one
//! writer: the root of trust makes any new material first, then one durable transaction records
//! the change, then the catalog follows. Lifecycle operations (states, aliases, rotation,
//! deletion) are in the `lifecycle`, `aliases` and `rotation` modules.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::blob;
use crate::catalog::{Catalog, Refs};
use crate::store::{AliasRecord, Change, KeyRecord, Store, VersionRecord};
use crate::{
    CreateKey, DataKey, DataKeySpec, Decrypted, EncryptionContext, Error, GeneratedData,
    GeneratedDataKey, KeyMetadata, KeySpec, KeyState, KeyUsage, KmsOptions, Origin, Plaintext,
    RootOfTrust, RotationType,
};

/// The alias of the master key Sealgate uses when nothing else is asked for.
pub const DEFAULT_ALIAS: &str = "alias/sealgate-default";
/// The largest plaintext `Encrypt` takes, as AWS.
pub const MAX_PLAINTEXT_LEN: usize = 4096;

/// The key management service: an embedded key store plus a root of trust.
///
/// Cheap operations (`generate_data_key`, `decrypt`, `encrypt`) touch only memory after the
/// first use of a key version; changes are durable when the call returns.
///
/// ```
/// use std::sync::Arc;
/// use kms_core::{EncryptionContext, Kms, RootKey, SoftwareRoot};
///
/// # fn main() -> Result<(), kms_core::Error> {
/// # let tmp = tempfile::tempdir();
/// # let dir = tmp.map_err(|source| kms_core::Error::Io { path: ".".into(), source })?;
/// let root = SoftwareRoot::new(&RootKey::generate()?)?;
/// let kms = Kms::open(dir.path(), Arc::new(root))?;
/// let key = kms.default_key()?;
///
/// let ctx = EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::b/k".into())]);
/// let generated = kms.generate_data_key(&key.key_id, &ctx)?;
/// let unwrapped = kms.decrypt(&generated.ciphertext_blob, &ctx)?.into_data_key()?;
/// assert_eq!(unwrapped, generated.plaintext);
///
/// // Another context does not open it.
/// assert!(kms.decrypt(&generated.ciphertext_blob, &EncryptionContext::new()).is_err());
/// # Ok(()) }
/// ```
pub struct Kms {
    pub(crate) root: Arc<dyn RootOfTrust>,
    pub(crate) store: Store,
    pub(crate) catalog: RwLock<Catalog>,
    pub(crate) writer: Mutex<()>,
    pub(crate) options: KmsOptions,
}

impl fmt::Debug for Kms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kms")
            .field("root", &self.root.kind())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Kms {
    /// Opens the key store `dir/keys.redb` (creating it when missing) with default options.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Store`] if the store cannot be opened,
    /// [`Error::CorruptRecord`] if a record does not parse.
    pub fn open(dir: &Path, root: Arc<dyn RootOfTrust>) -> Result<Kms, Error> {
        Kms::open_with(dir, root, KmsOptions::default())
    }

    /// Opens the key store with explicit options (region and account id of ARNs).
    ///
    /// # Errors
    /// As [`Kms::open`].
    pub fn open_with(
        dir: &Path,
        root: Arc<dyn RootOfTrust>,
        options: KmsOptions,
    ) -> Result<Kms, Error> {
        let store = Store::open(dir, Arc::clone(&root))?;
        let catalog = Catalog::load(&store)?;
        Ok(Kms {
            root,
            store,
            catalog: RwLock::new(catalog),
            writer: Mutex::new(()),
            options,
        })
    }

    /// The options this service runs with.
    pub fn options(&self) -> &KmsOptions {
        &self.options
    }

    /// The ARN of a key id.
    pub fn key_arn(&self, key_id: &str) -> String {
        let KmsOptions { region, account_id } = &self.options;
        format!("arn:aws:kms:{region}:{account_id}:key/{key_id}")
    }

    /// The ARN of an alias name (`alias/NAME`).
    pub fn alias_arn(&self, alias: &str) -> String {
        let KmsOptions { region, account_id } = &self.options;
        format!("arn:aws:kms:{region}:{account_id}:{alias}")
    }

    /// The default master key (alias [`DEFAULT_ALIAS`]), created on the first call.
    ///
    /// # Errors
    /// [`Error::Store`] or [`Error::RootOfTrust`] if creating it fails.
    pub fn default_key(&self) -> Result<KeyMetadata, Error> {
        if let Ok(rec) = self.resolve(DEFAULT_ALIAS, Refs::KeyOrAlias) {
            return Ok(self.metadata(&rec));
        }
        let _writer = self.writer();
        if let Ok(rec) = self.resolve(DEFAULT_ALIAS, Refs::KeyOrAlias) {
            return Ok(self.metadata(&rec));
        }
        let req = CreateKey {
            description: "Default master key of Sealgate".into(),
            ..CreateKey::default()
        };
        let rec = self.new_key_record(&req)?;
        let alias = AliasRecord {
            key_id: rec.key_id.clone(),
            created: rec.created,
            updated: rec.created,
        };
        self.apply(&[
            Change::PutKey(&rec),
            Change::PutAlias(DEFAULT_ALIAS, &alias),
        ])?;
        Ok(self.metadata(&rec))
    }

    /// Creates a master key with its first version.
    ///
    /// # Errors
    /// [`Error::Validation`] for an over-long description, tag or policy; [`Error::Store`] or
    /// [`Error::RootOfTrust`] if creating it fails.
    pub fn create_key(&self, req: CreateKey) -> Result<KeyMetadata, Error> {
        validate_create(&req)?;
        let _writer = self.writer();
        let rec = self.new_key_record(&req)?;
        self.apply(&[Change::PutKey(&rec)])?;
        Ok(self.metadata(&rec))
    }

    /// Describes a master key.
    ///
    /// # Errors
    /// [`Error::NotFound`] if nothing answers to `key_ref`.
    pub fn describe_key(&self, key_ref: &str) -> Result<KeyMetadata, Error> {
        let rec = self.resolve(key_ref, Refs::KeyOrAlias)?;
        Ok(self.metadata(&rec))
    }

    /// The key id a key id, key ARN, alias name or alias ARN names: what an authorization check
    /// or an audit event needs, without building the key's metadata.
    ///
    /// # Errors
    /// [`Error::NotFound`] if nothing answers to `key_ref`.
    pub fn key_id(&self, key_ref: &str) -> Result<String, Error> {
        Ok(self.resolve(key_ref, Refs::KeyOrAlias)?.key_id.clone())
    }

    /// A fresh 256-bit data key and its wrapped form under the key's newest version.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Disabled`] or [`Error::InvalidState`] for an unusable key.
    pub fn generate_data_key(
        &self,
        key_ref: &str,
        ctx: &EncryptionContext,
    ) -> Result<GeneratedDataKey, Error> {
        let rec = self.usable(key_ref, "GenerateDataKey")?;
        let plaintext = DataKey::generate()?;
        let (key_version, ciphertext_blob) = self.seal_blob(&rec, plaintext.as_bytes(), ctx)?;
        Ok(GeneratedDataKey {
            key_arn: self.key_arn(&rec.key_id),
            key_id: rec.key_id.clone(),
            key_version,
            plaintext,
            ciphertext_blob,
        })
    }

    /// A fresh data key of `spec`'s length and its wrapped form; with `with_plaintext` false
    /// the plaintext is dropped (`GenerateDataKeyWithoutPlaintext`).
    ///
    /// # Errors
    /// [`Error::Validation`] for a bad length, and as [`Kms::generate_data_key`].
    pub fn generate_data_key_with(
        &self,
        key_ref: &str,
        spec: DataKeySpec,
        ctx: &EncryptionContext,
        with_plaintext: bool,
    ) -> Result<GeneratedData, Error> {
        let len = spec.byte_len()?;
        let op = match with_plaintext {
            true => "GenerateDataKey",
            false => "GenerateDataKeyWithoutPlaintext",
        };
        let rec = self.usable(key_ref, op)?;
        let plaintext = Plaintext::random(len)?;
        let (key_version, ciphertext_blob) = self.seal_blob(&rec, plaintext.as_bytes(), ctx)?;
        Ok(GeneratedData {
            key_arn: self.key_arn(&rec.key_id),
            key_id: rec.key_id.clone(),
            key_version,
            plaintext: with_plaintext.then_some(plaintext),
            ciphertext_blob,
        })
    }

    /// Encrypts 1 to 4096 bytes under the key's newest version.
    ///
    /// # Errors
    /// [`Error::Validation`] for an empty or too long plaintext, and as
    /// [`Kms::generate_data_key`].
    pub fn encrypt(
        &self,
        key_ref: &str,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        check_plaintext(plaintext)?;
        let rec = self.usable(key_ref, "Encrypt")?;
        Ok(self.seal_blob(&rec, plaintext, ctx)?.1)
    }

    /// Decrypts a blob; the blob names its key and version.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] for any failure to open (wrong context, unknown key or
    /// version, altered bytes); [`Error::Disabled`] or [`Error::InvalidState`] if the key is
    /// not enabled.
    pub fn decrypt(&self, blob: &[u8], ctx: &EncryptionContext) -> Result<Decrypted, Error> {
        let parsed = blob::parse(blob)?;
        let rec = self.read().key(&parsed.key_id);
        let rec = rec.ok_or(Error::InvalidCiphertext)?;

        // A disabled key says so (AWS's DisabledException) rather than hiding behind
        // InvalidCiphertext: the S3 side must tell "key disabled" from "object damaged".
        check_usable(&rec, "Decrypt")?;

        let version = rec.versions.iter().find(|v| v.version == parsed.version);
        let version = version.ok_or(Error::InvalidCiphertext)?;
        let aad = blob::aad(parsed.header, ctx);
        let plaintext = self.root.open(&version.handle, &aad, parsed.payload);
        let plaintext = plaintext.map_err(only_root_faults)?;

        Ok(Decrypted {
            key_arn: self.key_arn(&rec.key_id),
            key_id: rec.key_id.clone(),
            key_version: parsed.version,
            plaintext,
        })
    }

    /// The id and version of the master key a blob names, without opening it: what an
    /// authorization check asks about before a Decrypt.
    ///
    /// # Errors
    /// [`Error::InvalidCiphertext`] for a blob that is not one, or names no key of this store.
    pub fn blob_key(&self, blob: &[u8]) -> Result<(String, u32), Error> {
        let parsed = blob::parse(blob)?;
        let rec = self.read().key(&parsed.key_id);
        let rec = rec.ok_or(Error::InvalidCiphertext)?;
        Ok((rec.key_id.clone(), parsed.version))
    }

    /// Decrypts a blob and encrypts its plaintext under another key (or the same key's newest
    /// version) and context, without handing the plaintext out.
    ///
    /// # Errors
    /// As [`Kms::decrypt`] for the source, as [`Kms::encrypt`] for the destination.
    pub fn re_encrypt(
        &self,
        blob: &[u8],
        src_ctx: &EncryptionContext,
        dest_key_ref: &str,
        dest_ctx: &EncryptionContext,
    ) -> Result<Vec<u8>, Error> {
        let dest = self.usable(dest_key_ref, "ReEncrypt")?;
        let plain = self.decrypt(blob, src_ctx)?;
        Ok(self
            .seal_blob(&dest, plain.plaintext.as_bytes(), dest_ctx)?
            .1)
    }

    /// 1 to 1024 random bytes (`GenerateRandom`).
    ///
    /// # Errors
    /// [`Error::Validation`] for a length outside 1..=1024.
    pub fn generate_random(&self, len: usize) -> Result<Plaintext, Error> {
        Plaintext::random(DataKeySpec::Bytes(len).byte_len()?)
    }

    /// Seals `plaintext` under the key's newest version; returns the version and the blob.
    fn seal_blob(
        &self,
        rec: &KeyRecord,
        plaintext: &[u8],
        ctx: &EncryptionContext,
    ) -> Result<(u32, Vec<u8>), Error> {
        let version = current_version(rec)?;
        let id =
            Uuid::try_parse(&rec.key_id).map_err(|_| corrupt(rec, "the key id is not a UUID"))?;
        let header = blob::header(id, version.version);
        let aad = blob::aad(&header, ctx);
        let sealed = self.root.seal(&version.handle, &aad, plaintext)?;
        Ok((version.version, [&header[..], &sealed].concat()))
    }

    /// Makes a new key record with its first version (not yet committed).
    pub(crate) fn new_key_record(&self, req: &CreateKey) -> Result<KeyRecord, Error> {
        let key_id = Uuid::new_v4().hyphenated().to_string();
        let created = now();
        let handle = self.root.create_version(&key_id, 1)?;
        Ok(KeyRecord {
            key_id,
            created,
            description: req.description.clone(),
            tags: req.tags.clone(),
            policy: req.policy.clone(),
            state: KeyState::Enabled,
            deletion_date: None,
            pending_window_days: None,
            root_kind: self.root.kind().to_string(),
            rotation_period_days: None,
            next_rotation: None,
            versions: vec![VersionRecord {
                version: 1,
                created,
                origin: RotationType::Initial,
                migrated: false,
                handle,
            }],
        })
    }

    /// The key `key_ref` names, if its state allows cryptographic operation `op`.
    pub(crate) fn usable(&self, key_ref: &str, op: &'static str) -> Result<Arc<KeyRecord>, Error> {
        let rec = self.resolve(key_ref, Refs::KeyOrAlias)?;
        check_usable(&rec, op)?;
        Ok(rec)
    }

    pub(crate) fn resolve(&self, key_ref: &str, refs: Refs) -> Result<Arc<KeyRecord>, Error> {
        self.read().resolve(key_ref, &self.options, refs)
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Serializes changes; hold the guard from reading the current state to [`Kms::apply`].
    pub(crate) fn writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `changes` durably, then makes the catalog follow. Call with the writer held.
    pub(crate) fn apply(&self, changes: &[Change<'_>]) -> Result<(), Error> {
        self.store.commit(changes)?;
        let mut catalog = self.catalog.write().unwrap_or_else(PoisonError::into_inner);
        for change in changes {
            apply_to_catalog(&mut catalog, change);
        }
        Ok(())
    }

    /// A record's metadata in AWS's shape.
    pub(crate) fn metadata(&self, rec: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            arn: self.key_arn(&rec.key_id),
            key_id: rec.key_id.clone(),
            aws_account_id: self.options.account_id.clone(),
            creation_date: date(rec.created),
            enabled: rec.state == KeyState::Enabled,
            description: rec.description.clone(),
            key_state: rec.state,
            deletion_date: rec.deletion_date.map(date),
            pending_deletion_window_in_days: rec.pending_window_days,
            key_usage: KeyUsage::EncryptDecrypt,
            key_spec: KeySpec::SymmetricDefault,
            customer_master_key_spec: KeySpec::SymmetricDefault,
            encryption_algorithms: vec![KeySpec::SymmetricDefault],
            origin: Origin::AwsKms,
            key_manager: "CUSTOMER",
            multi_region: false,
            current_key_version: rec.versions.last().map_or(0, |v| v.version),
        }
    }
}

/// Keeps a root-of-trust fault (the operator's problem: wrong root key, HSM down) and turns
/// every other failure to open into the one generic [`Error::InvalidCiphertext`].
fn only_root_faults(err: Error) -> Error {
    match err {
        Error::RootOfTrust { .. } | Error::RootUnavailable { .. } => err,
        _ => Error::InvalidCiphertext,
    }
}

fn apply_to_catalog(catalog: &mut Catalog, change: &Change<'_>) {
    match change {
        Change::PutKey(rec) => {
            if let Ok(id) = Uuid::try_parse(&rec.key_id) {
                catalog.keys.insert(id, Arc::new((*rec).clone()));
            }
        }
        Change::DeleteKey(id) => {
            if let Ok(id) = Uuid::try_parse(id) {
                catalog.keys.remove(&id);
            }
        }
        Change::PutAlias(name, rec) => {
            catalog.aliases.insert(name.to_string(), (*rec).clone());
        }
        Change::DeleteAlias(name) => {
            catalog.aliases.remove(*name);
        }
    }
}

/// Refuses cryptographic operations on keys that are not enabled, as AWS does.
pub(crate) fn check_usable(rec: &KeyRecord, op: &'static str) -> Result<(), Error> {
    match rec.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(Error::Disabled {
            key_id: rec.key_id.clone(),
        }),
        KeyState::PendingDeletion => Err(Error::InvalidState {
            key_id: rec.key_id.clone(),
            state: rec.state,
            operation: op,
        }),
    }
}

fn current_version(rec: &KeyRecord) -> Result<&VersionRecord, Error> {
    rec.versions
        .last()
        .ok_or_else(|| corrupt(rec, "the key has no version"))
}

/// A key record that breaks an invariant of the store.
pub(crate) fn corrupt(rec: &KeyRecord, reason: &'static str) -> Error {
    Error::CorruptRecord {
        record: rec.key_id.clone(),
        source: reason.into(),
    }
}

fn check_plaintext(plaintext: &[u8]) -> Result<(), Error> {
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::Validation {
            field: "Plaintext",
            reason: format!("must be 1 to {MAX_PLAINTEXT_LEN} bytes"),
        });
    }
    Ok(())
}

/// A description is at most 8192 characters, as AWS.
pub(crate) fn check_description(description: &str) -> Result<(), Error> {
    if description.chars().count() > 8192 {
        return Err(Error::Validation {
            field: "Description",
            reason: "longer than 8192 characters".into(),
        });
    }
    Ok(())
}

/// A key policy is 1 to 32768 characters, as AWS.
pub(crate) fn check_policy(policy: Option<&str>) -> Result<(), Error> {
    if policy.is_some_and(|p| p.is_empty() || p.chars().count() > 32768) {
        return Err(Error::Validation {
            field: "Policy",
            reason: "must be 1 to 32768 characters".into(),
        });
    }
    Ok(())
}

fn validate_create(req: &CreateKey) -> Result<(), Error> {
    let invalid = |field, reason: &str| Error::Validation {
        field,
        reason: reason.to_string(),
    };
    check_description(&req.description)?;
    check_policy(req.policy.as_deref())?;
    if req.tags.len() > 50 {
        return Err(invalid("Tags", "more than 50 tags"));
    }
    for (i, tag) in req.tags.iter().enumerate() {
        if tag.tag_key.is_empty() || tag.tag_key.chars().count() > 128 {
            return Err(invalid("TagKey", "must be 1 to 128 characters"));
        }
        if tag.tag_value.chars().count() > 256 {
            return Err(invalid("TagValue", "longer than 256 characters"));
        }
        if req.tags.iter().take(i).any(|t| t.tag_key == tag.tag_key) {
            return Err(invalid("Tags", "duplicate tag key"));
        }
    }
    Ok(())
}

/// Seconds since the Unix epoch, now.
pub(crate) fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A stored timestamp as a date.
pub(crate) fn date(secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
