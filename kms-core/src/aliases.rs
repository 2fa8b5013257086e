//! Aliases: friendly names (`alias/NAME`) that point at a master key.
//!
//! An alias can stand wherever AWS accepts one (`Encrypt`, `GenerateDataKey`, `DescribeKey`,
//! ...). Names follow AWS: `alias/` then 1 to 250 of `A-Z a-z 0-9 / _ -`, and the `alias/aws/`
//! prefix is reserved. Targets are named by key id or key ARN. Aliases go with their key when it
//! is destroyed.

use crate::catalog::Refs;
use crate::kms::{date, now};
use crate::lifecycle::refuse_pending;
use crate::store::{AliasRecord, Change};
use crate::{AliasEntry, Error, Kms};

impl Kms {
    /// Creates an alias for a key.
    ///
    /// # Errors
    /// [`Error::Validation`] for a bad name, [`Error::AlreadyExists`], [`Error::NotFound`] for
    /// the target, [`Error::InvalidState`] if the target is pending deletion.
    pub fn create_alias(&self, alias: &str, target_key_ref: &str) -> Result<(), Error> {
        check_alias_name(alias)?;
        let _writer = self.writer();
        if self.read().aliases.contains_key(alias) {
            return Err(Error::AlreadyExists {
                alias: alias.to_string(),
            });
        }
        let target = self.resolve(target_key_ref, Refs::KeyOnly)?;
        refuse_pending(&target, "CreateAlias")?;
        let created = now();
        let rec = AliasRecord {
            key_id: target.key_id.clone(),
            created,
            updated: created,
        };
        self.apply(&[Change::PutAlias(alias, &rec)])
    }

    /// Points an existing alias at another key.
    ///
    /// # Errors
    /// [`Error::NotFound`] for the alias or the target, [`Error::InvalidState`] if the target is
    /// pending deletion.
    pub fn update_alias(&self, alias: &str, target_key_ref: &str) -> Result<(), Error> {
        let _writer = self.writer();
        let current = self.read().aliases.get(alias).cloned();
        let mut rec = current.ok_or_else(|| Error::NotFound {
            key_ref: alias.to_string(),
        })?;
        let target = self.resolve(target_key_ref, Refs::KeyOnly)?;
        refuse_pending(&target, "UpdateAlias")?;
        rec.key_id = target.key_id.clone();
        rec.updated = now();
        self.apply(&[Change::PutAlias(alias, &rec)])
    }

    /// Deletes an alias (never the key).
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no such alias.
    pub fn delete_alias(&self, alias: &str) -> Result<(), Error> {
        let _writer = self.writer();
        if !self.read().aliases.contains_key(alias) {
            return Err(Error::NotFound {
                key_ref: alias.to_string(),
            });
        }
        self.apply(&[Change::DeleteAlias(alias)])
    }

    /// Every alias in name order, or only those of one key (named by id or ARN).
    ///
    /// # Errors
    /// [`Error::NotFound`] if `key_ref` names no key.
    pub fn list_aliases(&self, key_ref: Option<&str>) -> Result<Vec<AliasEntry>, Error> {
        let only = match key_ref {
            Some(key_ref) => Some(self.resolve(key_ref, Refs::KeyOnly)?.key_id.clone()),
            None => None,
        };
        let catalog = self.read();
        let chosen = catalog
            .aliases
            .iter()
            .filter(|(_, a)| only.as_ref().is_none_or(|id| *id == a.key_id));
        let entries = chosen.map(|(name, rec)| AliasEntry {
            alias_name: name.clone(),
            alias_arn: self.alias_arn(name),
            target_key_id: rec.key_id.clone(),
            creation_date: date(rec.created),
            last_updated_date: date(rec.updated),
        });
        Ok(entries.collect())
    }
}

fn check_alias_name(alias: &str) -> Result<(), Error> {
    let invalid = |reason: &str| Error::Validation {
        field: "AliasName",
        reason: reason.to_string(),
    };
    let Some(name) = alias.strip_prefix("alias/") else {
        return Err(invalid("must start with alias/"));
    };
    if name.is_empty() || name.len() > 250 {
        return Err(invalid("must have 1 to 250 characters after alias/"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
    {
        return Err(invalid("may contain only A-Z, a-z, 0-9, /, _ and -"));
    }
    if name.starts_with("aws/") {
        return Err(invalid("alias/aws/ is reserved"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_follow_aws() {
        for good in [
            "alias/a",
            "alias/app/prod_1-x",
            &format!("alias/{}", "a".repeat(250)),
        ] {
            assert!(check_alias_name(good).is_ok(), "{good}");
        }
        let long = format!("alias/{}", "a".repeat(251));
        for bad in [
            "a",
            "alias/",
            "alias/aws/x",
            "alias/a b",
            "alias/é",
            "Alias/x",
            &long,
        ] {
            assert!(check_alias_name(bad).is_err(), "{bad}");
        }
    }
}
