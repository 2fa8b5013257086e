//! Moving the secrets key to another root of trust, in place.
//!
//! With the gateway stopped, the store is opened through a
//! [`MigratingRoot`](kms_core::MigratingRoot) (primary: the new root, legacy: the old one) and
//! [`Iam::migrate_root`](crate::Iam::migrate_root) runs [`migrate`]: if the secrets key is not
//! in the primary, the primary makes a new one, every access key's secret is opened with the
//! old one and sealed under the new one, and the meta entry switches, in one write transaction.

use kms_core::RootOfTrust;
use redb::WriteTransaction;

use crate::Error;
use crate::records::AccessKeyRecord;
use crate::secret::secret_aad;
use crate::store::{self, Read, Table};

/// Moves the secrets key into `root`'s primary inside `txn`; returns whether it moved. An
/// error leaves the caller to abort `txn`, so nothing of the move is kept.
pub(crate) fn migrate(txn: &WriteTransaction, root: &dyn RootOfTrust) -> Result<bool, Error> {
    let old = txn.secrets_key()?;
    if root.is_primary(&old) {
        return Ok(false);
    }

    let version = txn.secrets_key_version()?;
    let version = version.checked_add(1).ok_or(Error::CorruptMeta {
        entry: "secrets-key-version",
        reason: "no version after it",
    })?;
    let new = root.create_version(store::SECRETS_KEY_ID, version)?;

    for mut key in txn.all::<AccessKeyRecord>(Table::AccessKeys)? {
        let aad = secret_aad(&key.id);
        let secret = root.open(&old, &aad, &key.sealed_secret)?;
        key.sealed_secret = root.seal(&new, &aad, secret.as_bytes())?;
        store::put(txn, Table::AccessKeys, &key.id, &key)?;
    }
    store::put_secrets_key(txn, &new, version)?;
    Ok(true)
}
