//! The life of a master key: enable, disable, describe, list, and deletion.
//!
//! States follow AWS: `Enabled` keys do everything; `Disabled` keys encrypt and decrypt nothing
//! until enabled again; `PendingDeletion` keys wait out a period of 7 to 30 days and are then
//! destroyed by [`Kms::delete_due`], which the gateway's background task calls. Sealgate follows
//! the stricter rule that a key must be disabled before its deletion is scheduled, and a
//! cancelled deletion returns the key to `Disabled`. Each change is one durable transaction.

use time::OffsetDateTime;

use crate::catalog::Refs;
use crate::kms::{date, now};
use crate::store::{Change, KeyRecord};
use crate::{Error, KeyListEntry, KeyMetadata, KeyState, Kms, Tag};

/// Default waiting period of `ScheduleKeyDeletion`, in days.
pub const DEFAULT_PENDING_WINDOW_DAYS: u32 = 30;
const SECONDS_PER_DAY: i64 = 86_400;

impl Kms {
    /// Enables a key (a no-op if enabled).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidState`] if the key is pending deletion.
    pub fn enable_key(&self, key_ref: &str) -> Result<KeyMetadata, Error> {
        self.change_key(key_ref, |rec| {
            refuse_pending(rec, "EnableKey")?;
            rec.state = KeyState::Enabled;
            Ok(())
        })
    }

    /// Disables a key (a no-op if disabled): it then encrypts and decrypts nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidState`] if the key is pending deletion.
    pub fn disable_key(&self, key_ref: &str) -> Result<KeyMetadata, Error> {
        self.change_key(key_ref, |rec| {
            refuse_pending(rec, "DisableKey")?;
            rec.state = KeyState::Disabled;
            Ok(())
        })
    }

    /// Replaces a key's description.
    ///
    /// # Errors
    /// [`Error::Validation`] over 8192 characters; [`Error::NotFound`]; [`Error::InvalidState`]
    /// if the key is pending deletion.
    pub fn update_key_description(
        &self,
        key_ref: &str,
        description: &str,
    ) -> Result<KeyMetadata, Error> {
        crate::kms::check_description(description)?;
        self.change_key(key_ref, |rec| {
            refuse_pending(rec, "UpdateKeyDescription")?;
            rec.description = description.to_string();
            Ok(())
        })
    }

    /// Every key, in key id order.
    pub fn list_keys(&self) -> Vec<KeyListEntry> {
        let catalog = self.read();
        let entries = catalog.keys.values().map(|rec| KeyListEntry {
            key_id: rec.key_id.clone(),
            key_arn: self.key_arn(&rec.key_id),
        });
        entries.collect()
    }

    /// The key policy stored with the key, if any (`GetKeyPolicy`; the gateway enforces it).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn get_key_policy(&self, key_ref: &str) -> Result<Option<String>, Error> {
        Ok(self.resolve(key_ref, Refs::KeyOnly)?.policy.clone())
    }

    /// Replaces the key policy (`PutKeyPolicy`). The caller has checked the document's grammar;
    /// kms-core only bounds its length.
    ///
    /// # Errors
    /// [`Error::Validation`] for an empty document or one over 32768 characters;
    /// [`Error::NotFound`]; [`Error::InvalidState`] if the key is pending deletion.
    pub fn put_key_policy(&self, key_ref: &str, policy: &str) -> Result<KeyMetadata, Error> {
        crate::kms::check_policy(Some(policy))?;
        self.change_key(key_ref, |rec| {
            refuse_pending(rec, "PutKeyPolicy")?;
            rec.policy = Some(policy.to_owned());
            Ok(())
        })
    }

    /// The key's tags (`ListResourceTags`).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_resource_tags(&self, key_ref: &str) -> Result<Vec<Tag>, Error> {
        Ok(self.resolve(key_ref, Refs::KeyOnly)?.tags.clone())
    }

    /// Schedules a disabled key's destruction after `pending_window_days` (7 to 30, default 30).
    ///
    /// # Errors
    /// [`Error::Validation`] for a period out of range; [`Error::NotFound`];
    /// [`Error::InvalidState`] unless the key is `Disabled`.
    pub fn schedule_key_deletion(
        &self,
        key_ref: &str,
        pending_window_days: Option<u32>,
    ) -> Result<KeyMetadata, Error> {
        let days = pending_window_days.unwrap_or(DEFAULT_PENDING_WINDOW_DAYS);
        if !(7..=30).contains(&days) {
            return Err(Error::Validation {
                field: "PendingWindowInDays",
                reason: "must be 7 to 30".into(),
            });
        }
        self.change_key(key_ref, |rec| {
            require_state(rec, KeyState::Disabled, "ScheduleKeyDeletion")?;
            rec.state = KeyState::PendingDeletion;
            rec.deletion_date = Some(now() + i64::from(days) * SECONDS_PER_DAY);
            rec.pending_window_days = Some(days);
            Ok(())
        })
    }

    /// Cancels a scheduled deletion; the key returns to `Disabled`.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::InvalidState`] unless the key is pending deletion.
    pub fn cancel_key_deletion(&self, key_ref: &str) -> Result<KeyMetadata, Error> {
        self.change_key(key_ref, |rec| {
            require_state(rec, KeyState::PendingDeletion, "CancelKeyDeletion")?;
            rec.state = KeyState::Disabled;
            rec.deletion_date = None;
            rec.pending_window_days = None;
            Ok(())
        })
    }

    /// Destroys every key whose deletion date is at or before `now`: each version's material
    /// through the root of trust, then the key record and its aliases in one transaction.
    /// Returns the ids of the destroyed keys; what they protected is unreadable from then on.
    ///
    /// Material is destroyed before the record goes, so a crash in between leaves a record that
    /// the next call finishes (destroying twice is harmless), never live material without a
    /// record.
    ///
    /// # Errors
    /// [`Error::RootOfTrust`] or [`Error::Store`]; keys destroyed before the failure stay
    /// destroyed.
    pub fn delete_due(&self, now: OffsetDateTime) -> Result<Vec<String>, Error> {
        let due: Vec<String> = {
            let catalog = self.read();
            let keys = catalog.keys.values().filter(|r| deletion_due(r, now));
            keys.map(|r| r.key_id.clone()).collect()
        };
        let mut deleted = Vec::with_capacity(due.len());
        for key_id in due {
            if self.delete_if_due(&key_id, now)? {
                deleted.push(key_id);
            }
        }
        Ok(deleted)
    }

    /// Destroys one key if it is still due once the writer is held (a deletion cancelled in
    /// the meantime wins).
    fn delete_if_due(&self, key_id: &str, now: OffsetDateTime) -> Result<bool, Error> {
        let _writer = self.writer();
        let rec = match self.resolve(key_id, Refs::KeyOnly) {
            Ok(rec) if deletion_due(&rec, now) => rec,
            _ => return Ok(false),
        };
        for version in &rec.versions {
            self.root.destroy(&version.handle)?;
        }
        let aliases = self.aliases_of(&rec.key_id);
        let mut changes = vec![Change::DeleteKey(&rec.key_id)];
        changes.extend(aliases.iter().map(|a| Change::DeleteAlias(a)));
        self.apply(&changes)?;
        Ok(true)
    }

    /// Applies `edit` to the current record of a key (named by id or ARN) and commits it.
    pub(crate) fn change_key<F>(&self, key_ref: &str, edit: F) -> Result<KeyMetadata, Error>
    where
        F: FnOnce(&mut KeyRecord) -> Result<(), Error>,
    {
        self.change_key_with(key_ref, edit).map(|(meta, ())| meta)
    }

    /// As [`Kms::change_key`], also returning what `edit` returned.
    pub(crate) fn change_key_with<T, F>(
        &self,
        key_ref: &str,
        edit: F,
    ) -> Result<(KeyMetadata, T), Error>
    where
        F: FnOnce(&mut KeyRecord) -> Result<T, Error>,
    {
        let _writer = self.writer();
        let mut rec = (*self.resolve(key_ref, Refs::KeyOnly)?).clone();
        let out = edit(&mut rec)?;
        self.apply(&[Change::PutKey(&rec)])?;
        Ok((self.metadata(&rec), out))
    }

    fn aliases_of(&self, key_id: &str) -> Vec<String> {
        let catalog = self.read();
        let names = catalog.aliases.iter().filter(|(_, a)| a.key_id == key_id);
        names.map(|(name, _)| name.clone()).collect()
    }
}

fn deletion_due(rec: &KeyRecord, now: OffsetDateTime) -> bool {
    rec.state == KeyState::PendingDeletion && rec.deletion_date.is_some_and(|d| date(d) <= now)
}

/// Refuses changes to keys pending deletion, as AWS does.
pub(crate) fn refuse_pending(rec: &KeyRecord, operation: &'static str) -> Result<(), Error> {
    if rec.state == KeyState::PendingDeletion {
        return Err(invalid_state(rec, operation));
    }
    Ok(())
}

fn require_state(rec: &KeyRecord, state: KeyState, operation: &'static str) -> Result<(), Error> {
    if rec.state != state {
        return Err(invalid_state(rec, operation));
    }
    Ok(())
}

fn invalid_state(rec: &KeyRecord, operation: &'static str) -> Error {
    Error::InvalidState {
        key_id: rec.key_id.clone(),
        state: rec.state,
        operation,
    }
}
