//! The embedded key store: master-key records and aliases in one redb file.
//!
//! Every change is one durable write transaction (redb's `Durability::Immediate`, its default):
//! after `commit` returns the change survives a crash, and a crash before leaves nothing of it.
//! Records are JSON. A key record holds the versions' root-of-trust handles, which for the
//! software root are material encrypted by the root key; the rest of a record (state, dates,
//! description, tags, policy) is stored in the clear.

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{Error, KeyState, RotationType, Tag};

/// Master-key records by key id. Table name frozen.
const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys/v1");
/// Alias records by alias name (`alias/NAME`). Table name frozen.
const ALIASES: TableDefinition<&str, &[u8]> = TableDefinition::new("aliases/v1");

/// One master key as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub key_id: String,
    pub created: i64,
    pub description: String,
    pub tags: Vec<Tag>,
    pub policy: Option<String>,
    pub state: KeyState,
    pub deletion_date: Option<i64>,
    pub pending_window_days: Option<u32>,
    pub root_kind: String,
    pub rotation_period_days: Option<u32>,
    pub next_rotation: Option<i64>,
    pub versions: Vec<VersionRecord>,
}

/// One version of a master key's material.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub version: u32,
    pub created: i64,
    pub origin: RotationType,
    #[serde(serialize_with = "to_b64", deserialize_with = "from_b64")]
    pub handle: Vec<u8>,
}

/// One alias as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub key_id: String,
    pub created: i64,
    pub updated: i64,
}

/// One change inside a write transaction.
pub(crate) enum Change<'a> {
    PutKey(&'a KeyRecord),
    DeleteKey(&'a str),
    PutAlias(&'a str, &'a AliasRecord),
    DeleteAlias(&'a str),
}

/// The redb database of one [`Kms`](crate::Kms).
pub(crate) struct Store {
    db: Database,
}

impl Store {
    /// Opens or creates `dir/keys.redb`.
    pub fn open(dir: &Path) -> Result<Store, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = Database::create(dir.join("keys.redb"))?;
        let store = Store { db };
        store.commit(&[])?;
        Ok(store)
    }

    /// Applies `changes` in one durable transaction (also creates the tables when missing).
    pub fn commit(&self, changes: &[Change<'_>]) -> Result<(), Error> {
        let txn = self.db.begin_write()?;
        {
            let mut keys = txn.open_table(KEYS)?;
            let mut aliases = txn.open_table(ALIASES)?;
            for change in changes {
                match change {
                    Change::PutKey(rec) => {
                        keys.insert(rec.key_id.as_str(), to_json(&rec.key_id, rec)?.as_slice())?;
                    }
                    Change::DeleteKey(id) => drop(keys.remove(*id)?),
                    Change::PutAlias(name, rec) => {
                        aliases.insert(*name, to_json(name, rec)?.as_slice())?;
                    }
                    Change::DeleteAlias(name) => drop(aliases.remove(*name)?),
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    /// Every key record.
    pub fn keys(&self) -> Result<Vec<KeyRecord>, Error> {
        let keys = self.load(KEYS)?;
        Ok(keys.into_iter().map(|(_, rec)| rec).collect())
    }

    /// Every alias, with its name.
    pub fn aliases(&self) -> Result<Vec<(String, AliasRecord)>, Error> {
        self.load(ALIASES)
    }

    fn load<T: DeserializeOwned>(
        &self,
        def: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>, Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(def)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (name, value) = entry?;
            let name = name.value().to_string();
            let rec = from_json(&name, value.value())?;
            out.push((name, rec));
        }
        Ok(out)
    }
}

fn to_json<T: Serialize>(record: &str, value: &T) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(value).map_err(|err| Error::CorruptRecord {
        record: record.to_string(),
        source: Box::new(err),
    })
}

fn from_json<T: DeserializeOwned>(record: &str, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|err| Error::CorruptRecord {
        record: record.to_string(),
        source: Box::new(err),
    })
}

fn to_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

fn from_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    B64.decode(text).map_err(serde::de::Error::custom)
}
