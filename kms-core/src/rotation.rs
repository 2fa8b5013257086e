//! Rotation: new versions of a master key's material.
//!
//! Rotation adds a version; new encryptions use the newest, and every older version keeps
//! decrypting what it encrypted, so rotation is invisible to users. Scheduled rotation is off by
//! default; once enabled (period 90 to 2560 days, default 365) the next date is stored in the
//! key record, and [`Kms::rotate_due`], which the gateway's background task calls, performs
//! every rotation whose date has passed, so a missed date is caught up after a restart. The root
//! of trust makes the material first; one durable transaction then records the version and
//! the next date, so a crash leaves the key either rotated or not.

use time::OffsetDateTime;

use crate::catalog::Refs;
use crate::kms::{check_usable, date};
use crate::store::{KeyRecord, VersionRecord};
use crate::{Error, KeyRotation, KeyState, Kms, RotationStatus, RotationType};

/// Default period of scheduled rotation, in days.
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;
/// How many on-demand rotations a key may have, as AWS.
pub const MAX_ON_DEMAND_ROTATIONS: usize = 25;
const SECONDS_PER_DAY: i64 = 86_400;

impl Kms {
    /// Turns on scheduled rotation every `period_days` (90 to 2560, default 365); the next
    /// rotation is one period from now.
    ///
    /// # Errors
    /// [`Error::Validation`] for a period out of range; [`Error::NotFound`];
    /// [`Error::Disabled`] or [`Error::InvalidState`] unless the key is enabled.
    pub fn enable_key_rotation(
        &self,
        key_ref: &str,
        period_days: Option<u32>,
    ) -> Result<(), Error> {
        let days = period_days.unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
        if !(90..=2560).contains(&days) {
            return Err(Error::Validation {
                field: "RotationPeriodInDays",
                reason: "must be 90 to 2560".into(),
            });
        }
        let now = OffsetDateTime::now_utc().unix_timestamp();
        self.change_key(key_ref, |rec| {
            check_usable(rec, "EnableKeyRotation")?;
            rec.rotation_period_days = Some(days);
            rec.next_rotation = Some(now + i64::from(days) * SECONDS_PER_DAY);
            Ok(())
        })
        .map(drop)
    }

    /// Turns off scheduled rotation. Existing versions stay.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Disabled`] or [`Error::InvalidState`] unless enabled.
    pub fn disable_key_rotation(&self, key_ref: &str) -> Result<(), Error> {
        self.change_key(key_ref, |rec| {
            check_usable(rec, "DisableKeyRotation")?;
            rec.rotation_period_days = None;
            rec.next_rotation = None;
            Ok(())
        })
        .map(drop)
    }

    /// Rotates now, whatever the schedule (which it leaves unchanged).
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`Error::Disabled`] or [`Error::InvalidState`] unless enabled;
    /// [`Error::LimitExceeded`] after 25 on-demand rotations.
    pub fn rotate_key_on_demand(&self, key_ref: &str) -> Result<KeyRotation, Error> {
        let now = OffsetDateTime::now_utc();
        let (_, rotation) = self.change_key_with(key_ref, |rec| {
            check_usable(rec, "RotateKeyOnDemand")?;
            // Versions made by a move to another root of trust are not the user's rotations.
            let on_demand = rec
                .versions
                .iter()
                .filter(|v| v.origin == RotationType::OnDemand && !v.migrated);
            if on_demand.count() >= MAX_ON_DEMAND_ROTATIONS {
                return Err(Error::LimitExceeded {
                    key_id: rec.key_id.clone(),
                    limit: "25 on-demand rotations per key",
                });
            }
            self.add_version(rec, Cause::OnDemand, now)
        })?;
        Ok(rotation)
    }

    /// Whether scheduled rotation is on, its period and the next date.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn get_key_rotation_status(&self, key_ref: &str) -> Result<RotationStatus, Error> {
        let rec = self.resolve(key_ref, Refs::KeyOnly)?;
        Ok(RotationStatus {
            key_id: rec.key_id.clone(),
            key_rotation_enabled: rec.rotation_period_days.is_some(),
            rotation_period_in_days: rec.rotation_period_days,
            next_rotation_date: rec.next_rotation.map(date),
        })
    }

    /// Every rotation of a key, oldest first (the initial material is not a rotation).
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn list_key_rotations(&self, key_ref: &str) -> Result<Vec<KeyRotation>, Error> {
        let rec = self.resolve(key_ref, Refs::KeyOnly)?;
        let rotations = rec
            .versions
            .iter()
            .filter(|v| v.origin != RotationType::Initial);
        Ok(rotations.map(|v| rotation_of(&rec, v)).collect())
    }

    /// Performs every scheduled rotation due at `now` (enabled keys only: a disabled key is
    /// rotated once it is enabled again) and returns what it did. Each key is committed on its
    /// own, so on an error the rotations before it stand and the next call retries the rest.
    ///
    /// # Errors
    /// [`Error::RootOfTrust`] or [`Error::Store`].
    pub fn rotate_due(&self, now: OffsetDateTime) -> Result<Vec<KeyRotation>, Error> {
        let due: Vec<String> = {
            let catalog = self.read();
            let keys = catalog.keys.values().filter(|r| rotation_due(r, now));
            keys.map(|r| r.key_id.clone()).collect()
        };
        let mut done = Vec::with_capacity(due.len());
        for key_id in due {
            if let Some(rotation) = self.rotate_if_due(&key_id, now)? {
                done.push(rotation);
            }
        }
        Ok(done)
    }

    /// Rotates one key if it is still due once the writer is held.
    fn rotate_if_due(
        &self,
        key_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<KeyRotation>, Error> {
        let (_, rotation) = self.change_key_with(key_id, |rec| {
            if !rotation_due(rec, now) {
                return Ok(None);
            }
            let rotation = self.add_version(rec, Cause::Scheduled, now)?;
            let period = rec
                .rotation_period_days
                .map(|d| i64::from(d) * SECONDS_PER_DAY);
            rec.next_rotation = period.map(|p| now.unix_timestamp() + p);
            Ok(Some(rotation))
        })?;
        Ok(rotation)
    }

    /// Has the root of trust make the next version and appends it to `rec` (not yet committed).
    pub(crate) fn add_version(
        &self,
        rec: &mut KeyRecord,
        cause: Cause,
        now: OffsetDateTime,
    ) -> Result<KeyRotation, Error> {
        let last = rec.versions.last().map_or(0, |v| v.version);
        let version = last.checked_add(1).ok_or_else(|| Error::LimitExceeded {
            key_id: rec.key_id.clone(),
            limit: "key versions",
        })?;
        let handle = self.root.create_version(&rec.key_id, version)?;
        let created = now.unix_timestamp();
        let added = VersionRecord {
            version,
            created,
            origin: cause.origin(),
            migrated: cause == Cause::RootMigration,
            handle,
        };
        let rotation = rotation_of(rec, &added);
        rec.versions.push(added);
        Ok(rotation)
    }
}

/// Why a version is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The rotation schedule came due.
    Scheduled,
    /// `RotateKeyOnDemand`.
    OnDemand,
    /// [`Kms::migrate_root`]: listed as on-demand, but not counted against its quota.
    RootMigration,
}

impl Cause {
    /// The rotation type the version is listed with.
    fn origin(self) -> RotationType {
        match self {
            Cause::Scheduled => RotationType::Automatic,
            Cause::OnDemand | Cause::RootMigration => RotationType::OnDemand,
        }
    }
}

fn rotation_due(rec: &KeyRecord, now: OffsetDateTime) -> bool {
    rec.state == KeyState::Enabled
        && rec
            .next_rotation
            .is_some_and(|next| next <= now.unix_timestamp())
}

fn rotation_of(rec: &KeyRecord, version: &VersionRecord) -> KeyRotation {
    KeyRotation {
        key_id: rec.key_id.clone(),
        key_version: version.version,
        rotation_date: date(version.created),
        rotation_type: version.origin,
    }
}
