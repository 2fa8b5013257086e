//! The in-memory view of the key store, and how key references resolve against it.
//!
//! [`Kms`](crate::Kms) loads every record at open and keeps this view in step with each commit,
//! so the hot path (`GenerateDataKey`, `Decrypt`) never touches the disk. A key reference is a
//! key id, a key ARN, an alias name (`alias/NAME`) or an alias ARN.

use std::collections::BTreeMap;
use std::sync::Arc;

use uuid::Uuid;

use crate::store::{AliasRecord, KeyRecord, Store};
use crate::{Error, KmsOptions};

/// Which kinds of reference an operation accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refs {
    /// Key id, key ARN, alias name or alias ARN (`Encrypt`, `DescribeKey`, ...).
    KeyOrAlias,
    /// Key id or key ARN only (`EnableKey`, `ScheduleKeyDeletion`, ...), as AWS.
    KeyOnly,
}

/// A parsed key reference.
#[derive(Debug, PartialEq, Eq)]
enum KeyRef<'a> {
    Id(Uuid),
    Alias(&'a str),
}

/// Every key and alias.
#[derive(Default)]
pub(crate) struct Catalog {
    pub keys: BTreeMap<Uuid, Arc<KeyRecord>>,
    pub aliases: BTreeMap<String, AliasRecord>,
}

impl Catalog {
    /// Reads every record of the store.
    pub fn load(store: &Store) -> Result<Catalog, Error> {
        let mut catalog = Catalog::default();
        for rec in store.keys()? {
            let id = Uuid::try_parse(&rec.key_id).map_err(|err| Error::CorruptRecord {
                record: rec.key_id.clone(),
                source: Box::new(err),
            })?;
            catalog.keys.insert(id, Arc::new(rec));
        }
        catalog.aliases = store.aliases()?.into_iter().collect();
        Ok(catalog)
    }

    /// The key a reference names.
    pub fn resolve(
        &self,
        key_ref: &str,
        opts: &KmsOptions,
        refs: Refs,
    ) -> Result<Arc<KeyRecord>, Error> {
        let not_found = || Error::NotFound {
            key_ref: key_ref.to_string(),
        };
        let id = match parse_ref(key_ref, opts).ok_or_else(not_found)? {
            KeyRef::Id(id) => id,
            KeyRef::Alias(_) if refs == Refs::KeyOnly => return Err(not_found()),
            KeyRef::Alias(name) => {
                let alias = self.aliases.get(name).ok_or_else(not_found)?;
                parse_id(&alias.key_id).ok_or_else(not_found)?
            }
        };
        self.keys.get(&id).cloned().ok_or_else(not_found)
    }

    /// The key with this id, if any.
    pub fn key(&self, id: &Uuid) -> Option<Arc<KeyRecord>> {
        self.keys.get(id).cloned()
    }
}

/// A key id in canonical form (lowercase, hyphenated).
pub(crate) fn parse_id(text: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(text).ok()?;
    (id.hyphenated().to_string() == text.to_ascii_lowercase()).then_some(id)
}

fn parse_ref<'a>(key_ref: &'a str, opts: &KmsOptions) -> Option<KeyRef<'a>> {
    if key_ref.starts_with("alias/") {
        return Some(KeyRef::Alias(key_ref));
    }
    if !key_ref.starts_with("arn:") {
        return parse_id(key_ref).map(KeyRef::Id);
    }
    let mut parts = key_ref.splitn(6, ':');
    let (_arn, _partition) = (parts.next()?, parts.next()?);
    let (service, region, account) = (parts.next()?, parts.next()?, parts.next()?);
    if service != "kms" || region != opts.region || account != opts.account_id {
        return None;
    }
    let resource = parts.next()?;
    match resource.strip_prefix("key/") {
        Some(id) => parse_id(id).map(KeyRef::Id),
        None => resource
            .starts_with("alias/")
            .then_some(KeyRef::Alias(resource)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_reference() {
        let opts = KmsOptions::default();
        let id = Uuid::new_v4();
        let arn = format!("arn:aws:kms:us-east-1:000000000000:key/{id}");
        let alias_arn = "arn:aws:kms:us-east-1:000000000000:alias/app";
        assert_eq!(parse_ref(&id.to_string(), &opts), Some(KeyRef::Id(id)));
        assert_eq!(parse_ref(&arn, &opts), Some(KeyRef::Id(id)));
        assert_eq!(
            parse_ref("alias/app", &opts),
            Some(KeyRef::Alias("alias/app"))
        );
        assert_eq!(
            parse_ref(alias_arn, &opts),
            Some(KeyRef::Alias("alias/app"))
        );
    }

    #[test]
    fn refuses_foreign_or_malformed_references() {
        let opts = KmsOptions::default();
        let id = Uuid::new_v4();
        for bad in [
            format!("arn:aws:kms:eu-west-1:000000000000:key/{id}"),
            format!("arn:aws:kms:us-east-1:111111111111:key/{id}"),
            format!("arn:aws:s3:us-east-1:000000000000:key/{id}"),
            "arn:aws:kms:us-east-1:000000000000:key/nope".to_string(),
            "not-a-uuid".to_string(),
            id.simple().to_string(),
            String::new(),
        ] {
            assert_eq!(parse_ref(&bad, &opts), None, "{bad}");
        }
    }
}
