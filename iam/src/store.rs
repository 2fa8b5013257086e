//! The redb database `<dir>/iam.redb`: one table per entity kind, JSON records by folded name.
//!
//! Every change is one durable write transaction (redb's default `Durability::Immediate`): a
//! handler reads what it checks and writes what it changes inside the same transaction, and
//! redb runs one write transaction at a time, so checks such as "at most two access keys" hold
//! under concurrent calls. The database is for one process: redb locks the file, and a second
//! process opening it fails with a store error.
//!
//! Records are plain JSON: names, ids, paths and policy documents are not secret. The only
//! secret, each access key's secret, is sealed by the root of trust before it reaches a record
//! (see [`crate::secret`]). The handle of the secrets key that seals them is read from the
//! meta table by the same transaction that seals or opens a secret, so a move of the secrets
//! key to another root of trust (one transaction) is seen at once by everything after it.

use std::path::Path;

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::ids;

/// The file name of the database inside the store's folder. Frozen.
pub(crate) const FILE_NAME: &str = "iam.redb";

/// Settings of the store. Table name frozen.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("iam-meta/v1");
/// The `META` entry holding the root-of-trust handle that seals secrets. Frozen.
const SECRETS_KEY_ENTRY: &str = "secrets-key-handle";
/// The `META` entry holding the secrets key's version (u32 BE) once it has been moved to
/// another root; absent means version 1. Frozen.
const SECRETS_KEY_VERSION_ENTRY: &str = "secrets-key-version";
/// The `META` entry holding the store's creation time (i64 BE Unix seconds). Frozen.
const CREATED_ENTRY: &str = "created";
/// The name under which the root of trust makes the secrets key. Frozen.
pub(crate) const SECRETS_KEY_ID: &str = "sealgate-iam-secrets";

/// The entity tables; each maps a folded name (or an access key id) to a JSON record.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Table {
    Users,
    Groups,
    AccessKeys,
    Policies,
}

impl Table {
    const ALL: [Table; 4] = [
        Table::Users,
        Table::Groups,
        Table::AccessKeys,
        Table::Policies,
    ];

    /// The redb table name. Frozen.
    fn name(self) -> &'static str {
        match self {
            Table::Users => "iam-users/v1",
            Table::Groups => "iam-groups/v1",
            Table::AccessKeys => "iam-access-keys/v1",
            Table::Policies => "iam-policies/v1",
        }
    }

    fn def(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(self.name())
    }
}

/// Reading records, in a read or a write transaction.
pub(crate) trait Read {
    /// The raw bytes under `key`.
    fn raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, Error>;

    /// Every raw record of `table`, by key order.
    fn raw_all(&self, table: Table) -> Result<Vec<(String, Vec<u8>)>, Error>;

    /// The raw bytes of a meta entry.
    fn meta(&self, entry: &str) -> Result<Option<Vec<u8>>, Error>;

    /// The root-of-trust handle of the secrets key, as this transaction sees it.
    fn secrets_key(&self) -> Result<Vec<u8>, Error> {
        self.meta(SECRETS_KEY_ENTRY)?.ok_or(Error::CorruptMeta {
            entry: SECRETS_KEY_ENTRY,
            reason: "missing",
        })
    }

    /// The secrets key's version: 1 until it has been moved.
    fn secrets_key_version(&self) -> Result<u32, Error> {
        let Some(bytes) = self.meta(SECRETS_KEY_VERSION_ENTRY)? else {
            return Ok(1);
        };
        let bytes = <[u8; 4]>::try_from(bytes.as_slice()).map_err(|_| Error::CorruptMeta {
            entry: SECRETS_KEY_VERSION_ENTRY,
            reason: "not a u32",
        })?;
        Ok(u32::from_be_bytes(bytes))
    }

    /// The record under `key`.
    fn get<T: DeserializeOwned>(&self, table: Table, key: &str) -> Result<Option<T>, Error> {
        self.raw(table, key)?
            .map(|bytes| parse(table, key, &bytes))
            .transpose()
    }

    /// Every record of `table`, by key order.
    fn all<T: DeserializeOwned>(&self, table: Table) -> Result<Vec<T>, Error> {
        let raw = self.raw_all(table)?;
        raw.iter()
            .map(|(key, bytes)| parse(table, key, bytes))
            .collect()
    }
}

fn parse<T: DeserializeOwned>(table: Table, key: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::CorruptRecord {
        table: table.name(),
        key: key.to_owned(),
        source,
    })
}

fn collect(table: &impl ReadableTable<&'static str, &'static [u8]>) -> RawRecords {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        out.push((key.value().to_owned(), value.value().to_vec()));
    }
    Ok(out)
}

type RawRecords = Result<Vec<(String, Vec<u8>)>, Error>;

/// Both kinds of transaction read alike: redb gives them the same `open_table`.
macro_rules! impl_read {
    ($($transaction:ty),*) => {$(
        impl Read for $transaction {
            fn raw(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>, Error> {
                let table = self.open_table(table.def())?;
                Ok(table.get(key)?.map(|v| v.value().to_vec()))
            }

            fn raw_all(&self, table: Table) -> RawRecords {
                collect(&self.open_table(table.def())?)
            }

            fn meta(&self, entry: &str) -> Result<Option<Vec<u8>>, Error> {
                let meta = self.open_table(META)?;
                Ok(meta.get(entry)?.map(|v| v.value().to_vec()))
            }
        }
    )*};
}

impl_read!(ReadTransaction, WriteTransaction);

/// Records a new secrets key and its version. The caller has sealed every secret under it
/// in the same transaction.
pub(crate) fn put_secrets_key(
    txn: &WriteTransaction,
    handle: &[u8],
    version: u32,
) -> Result<(), Error> {
    let mut meta = txn.open_table(META)?;
    meta.insert(SECRETS_KEY_ENTRY, handle)?;
    meta.insert(SECRETS_KEY_VERSION_ENTRY, version.to_be_bytes().as_slice())?;
    Ok(())
}

/// Writes `value` as JSON under `key`.
/// Puts `value` under the folded form of `name`, unless that name is taken (names are unique
/// without case): then `AlreadyExists` naming `entity` (`User`, `Group`, `Policy`).
pub(crate) fn insert_new<T: Serialize>(
    txn: &WriteTransaction,
    (table, entity): (Table, &'static str),
    name: &str,
    value: &T,
) -> Result<(), Error> {
    let key = ids::fold(name);
    if txn.raw(table, &key)?.is_some() {
        return Err(Error::AlreadyExists {
            entity,
            name: name.to_owned(),
        });
    }
    put(txn, table, &key, value)
}

pub(crate) fn put<T: Serialize>(
    txn: &WriteTransaction,
    table: Table,
    key: &str,
    value: &T,
) -> Result<(), Error> {
    let json = serde_json::to_vec(value).map_err(|source| Error::CorruptRecord {
        table: table.name(),
        key: key.to_owned(),
        source,
    })?;
    txn.open_table(table.def())?.insert(key, json.as_slice())?;
    Ok(())
}

/// Removes the record under `key`, if any.
pub(crate) fn delete(txn: &WriteTransaction, table: Table, key: &str) -> Result<(), Error> {
    txn.open_table(table.def())?.remove(key)?;
    Ok(())
}

/// What the store keeps about itself (besides the secrets key, read where it is used).
pub(crate) struct Meta {
    /// When the store was created (the root user's `CreateDate`).
    pub created: i64,
}

/// The database of one [`Iam`](crate::Iam).
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens or creates `dir/iam.redb` with every table; on first open, has `make_key` make the
    /// secrets key and records it.
    pub fn open(
        dir: &Path,
        make_key: impl FnOnce() -> Result<Vec<u8>, Error>,
    ) -> Result<(Store, Meta), Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let store = Store {
            db: Database::create(dir.join(FILE_NAME))?,
        };
        let meta = store.write(|txn| init(txn, make_key))?;
        Ok((store, meta))
    }

    /// Runs `f` in a read transaction (a snapshot of the last commit).
    pub fn read<R>(
        &self,
        f: impl FnOnce(&ReadTransaction) -> Result<R, Error>,
    ) -> Result<R, Error> {
        f(&self.db.begin_read()?)
    }

    /// Runs `f` in a write transaction and commits if it succeeds; an error aborts everything
    /// `f` wrote.
    pub fn write<R>(
        &self,
        f: impl FnOnce(&WriteTransaction) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let txn = self.db.begin_write()?;
        let out = f(&txn)?;
        txn.commit()?;
        Ok(out)
    }
}

/// Creates every table and reads (or makes) the store's settings.
fn init(
    txn: &WriteTransaction,
    make_key: impl FnOnce() -> Result<Vec<u8>, Error>,
) -> Result<Meta, Error> {
    for table in Table::ALL {
        txn.open_table(table.def())?;
    }
    let mut meta = txn.open_table(META)?;
    if meta.get(SECRETS_KEY_ENTRY)?.is_none() {
        let handle = make_key()?;
        meta.insert(SECRETS_KEY_ENTRY, handle.as_slice())?;
        meta.insert(CREATED_ENTRY, ids::now().to_be_bytes().as_slice())?;
    }
    let created = meta
        .get(CREATED_ENTRY)?
        .and_then(|v| <[u8; 8]>::try_from(v.value()).ok())
        .map_or(0, i64::from_be_bytes);
    Ok(Meta { created })
}
