//! `CreateAccessKey`, `UpdateAccessKey`, `DeleteAccessKey`, `ListAccessKeys`.
//!
//! Without `UserName` these act on the caller's own keys. The root has no access keys in this
//! store (its credentials come from the gateway's configuration), so creating one for it is
//! `InvalidInput` and acting on one is `NoSuchEntity`.

use redb::WriteTransaction;

use super::{Reply, reply};
use crate::ids::{self, ACCESS_KEY_ID, iso8601};
use crate::params::Request;
use crate::records::{self, AccessKeyRecord, UserRecord};
use crate::secret::{Secret, secret_aad};
use crate::store::{self, Read, Table};
use crate::{Caller, Error, Iam, render};

/// IAM's quota of access keys per user.
const MAX_KEYS_PER_USER: usize = 2;

/// The user a key call acts on: `UserName`, else the caller (`None` for the root).
fn target<'a>(req: &'a Request<'_>) -> Result<Option<&'a str>, Error> {
    Ok(match (req.params.optional_user()?, req.caller) {
        (Some(name), _) => Some(name),
        (None, Caller::User { name }) => Some(name.as_str()),
        (None, Caller::Root) => None,
    })
}

pub(super) fn create(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = target(req)?.ok_or(Error::InvalidInput {
        reason: "The root user has no access keys here; name a user with UserName.",
    })?;
    let secret = Secret::generate();

    let key = iam.store.write(|txn| {
        let user: UserRecord = records::load(txn, name)?;
        if records::keys_of(txn, &user.name)?.len() >= MAX_KEYS_PER_USER {
            return Err(Error::LimitExceeded {
                limit: format!("Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"),
            });
        }
        let id = unused_key_id(txn)?;
        let secrets_key = txn.secrets_key()?;
        let sealed_secret =
            iam.root
                .seal(&secrets_key, &secret_aad(&id), secret.expose().as_bytes())?;
        let key = AccessKeyRecord {
            id,
            user: user.name,
            active: true,
            created: ids::now(),
            sealed_secret,
        };
        store::put(txn, Table::AccessKeys, &key.id, &key)?;
        Ok(key)
    })?;
    reply(|x| {
        x.nest("AccessKey", |k| {
            k.text("UserName", &key.user)
                .text("AccessKeyId", &key.id)
                .text("Status", "Active")
                .text("SecretAccessKey", secret.expose())
                .text("CreateDate", &iso8601(key.created));
        });
    })
}

/// A fresh access key id no other key has (ids are keys of the table: a clash would overwrite).
fn unused_key_id(txn: &WriteTransaction) -> Result<String, Error> {
    loop {
        let id = ids::new_id(ACCESS_KEY_ID);
        if txn.raw(Table::AccessKeys, &id)?.is_none() {
            return Ok(id);
        }
    }
}

/// The key of this id if it belongs to the target user, else `NoSuchEntity`.
fn owned_key(txn: &impl Read, req: &Request<'_>, id: &str) -> Result<AccessKeyRecord, Error> {
    let missing = || Error::NoSuchAccessKey {
        access_key_id: id.to_owned(),
    };
    let name = target(req)?.ok_or_else(missing)?;
    let user: UserRecord = records::load(txn, name)?;
    let key: AccessKeyRecord = txn.get(Table::AccessKeys, id)?.ok_or_else(missing)?;
    if key.user != user.name {
        return Err(missing());
    }
    Ok(key)
}

pub(super) fn update(iam: &Iam, req: &Request<'_>) -> Reply {
    let id = req.params.require("AccessKeyId")?;
    let active = match req.params.require("Status")? {
        "Active" => true,
        "Inactive" => false,
        _ => {
            return Err(Error::Validation {
                field: "Status",
                reason: "Member must satisfy enum value set: [Active, Inactive]",
            });
        }
    };

    iam.store.write(|txn| {
        let mut key = owned_key(txn, req, id)?;
        key.active = active;
        store::put(txn, Table::AccessKeys, &key.id, &key)
    })?;
    Ok(None)
}

pub(super) fn delete(iam: &Iam, req: &Request<'_>) -> Reply {
    let id = req.params.require("AccessKeyId")?;

    iam.store.write(|txn| {
        let key = owned_key(txn, req, id)?;
        store::delete(txn, Table::AccessKeys, &key.id)
    })?;
    Ok(None)
}

pub(super) fn list(iam: &Iam, req: &Request<'_>) -> Reply {
    let Some(name) = target(req)? else {
        return reply(|x| {
            x.full_list(
                "AccessKeyMetadata",
                &[] as &[AccessKeyRecord],
                render::key_metadata,
            );
        });
    };

    let (user, keys) = iam.store.read(|r| {
        let user: UserRecord = records::load(r, name)?;
        let keys = records::keys_of(r, &user.name)?;
        Ok((user, keys))
    })?;
    reply(|x| {
        x.full_list("AccessKeyMetadata", &keys, render::key_metadata)
            .text("UserName", &user.name);
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::Caller;
    use crate::test_support::*;

    fn key_params<'a>(user: &'a str, key: &'a str) -> [(&'static str, &'a str); 2] {
        [("UserName", user), ("AccessKeyId", key)]
    }

    #[test]
    fn create_verify_list_update_delete() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        let body = ok(&iam, "CreateAccessKey", &[("UserName", "alice")]);
        let id = field(&body, "AccessKeyId").to_owned();
        let secret = field(&body, "SecretAccessKey").to_owned();
        assert!(id.starts_with("AKIA") && id.len() == 20);
        assert_eq!(secret.len(), 40);
        assert_eq!(field(&body, "Status"), "Active");

        let key = iam.access_key(&id).unwrap().unwrap();
        assert_eq!(key.secret.expose(), secret);
        assert_eq!((key.user_name.as_str(), key.active), ("alice", true));
        assert_eq!(key.user_arn, "arn:aws:iam::123456789012:user/alice");
        assert!(key.user_id.starts_with("AIDA"));
        assert!(!format!("{key:?}").contains(&secret));
        assert!(iam.access_key("AKIANOSUCHKEY0000000").unwrap().is_none());

        let list = ok(&iam, "ListAccessKeys", &[("UserName", "alice")]);
        assert_eq!(field(&list, "AccessKeyId"), id);
        assert!(!list.contains(&secret), "lists never show the secret");

        let mut update = key_params("alice", &id).to_vec();
        update.push(("Status", "Inactive"));
        ok(&iam, "UpdateAccessKey", &update);
        assert!(!iam.access_key(&id).unwrap().unwrap().active);
        assert_eq!(
            field(
                &ok(&iam, "ListAccessKeys", &[("UserName", "alice")]),
                "Status"
            ),
            "Inactive"
        );
        update[2].1 = "Sleeping";
        assert_eq!(code(&iam, "UpdateAccessKey", &update), "ValidationError");

        ok(&iam, "DeleteAccessKey", &key_params("alice", &id));
        assert!(iam.access_key(&id).unwrap().is_none());
        assert_eq!(
            code(&iam, "DeleteAccessKey", &key_params("alice", &id)),
            "NoSuchEntity"
        );
    }

    #[test]
    fn at_most_two_keys_per_user() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "u")]);
        ok(&iam, "CreateAccessKey", &[("UserName", "u")]);
        ok(&iam, "CreateAccessKey", &[("UserName", "u")]);
        let err = call(&iam, "CreateAccessKey", &[("UserName", "u")]).unwrap_err();
        assert_eq!((err.code, err.status), ("LimitExceeded", 409));
        let list = ok(&iam, "ListAccessKeys", &[("UserName", "u")]);
        assert_eq!(list.matches("<member>").count(), 2);
    }

    #[test]
    fn without_user_name_the_caller_is_meant() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        ok(&iam, "CreateUser", &[("UserName", "bob")]);
        let alice = Caller::User {
            name: "alice".into(),
        };
        let body = call_as(&iam, &alice, "CreateAccessKey", &[]).unwrap();
        assert_eq!(field(&body, "UserName"), "alice");
        let id = field(&body, "AccessKeyId");
        let listed = call_as(&iam, &alice, "ListAccessKeys", &[]).unwrap();
        assert_eq!(field(&listed, "AccessKeyId"), id);

        assert_eq!(code(&iam, "CreateAccessKey", &[]), "InvalidInput");
        assert_eq!(
            code(&iam, "DeleteAccessKey", &[("AccessKeyId", id)]),
            "NoSuchEntity"
        );
        assert_eq!(
            code(&iam, "DeleteAccessKey", &key_params("bob", id)),
            "NoSuchEntity"
        );
        assert!(!ok(&iam, "ListAccessKeys", &[]).contains("<member>"));
        assert_eq!(
            code(&iam, "CreateAccessKey", &[("UserName", "carol")]),
            "NoSuchEntity"
        );
        call_as(&iam, &alice, "DeleteAccessKey", &[("AccessKeyId", id)]).unwrap();
    }

    #[test]
    fn secret_survives_reopen_and_is_sealed_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let (id, secret) = {
            let iam = crate::Iam::open(dir.path(), root(), ACCOUNT).unwrap();
            ok(&iam, "CreateUser", &[("UserName", "alice")]);
            let body = ok(&iam, "CreateAccessKey", &[("UserName", "alice")]);
            (
                field(&body, "AccessKeyId").to_owned(),
                field(&body, "SecretAccessKey").to_owned(),
            )
        };

        let bytes = std::fs::read(dir.path().join("iam.redb")).unwrap();
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(contains(id.as_bytes()), "the id is stored in clear");
        assert!(!contains(secret.as_bytes()), "the secret is not");

        let iam = crate::Iam::open(dir.path(), root(), ACCOUNT).unwrap();
        assert_eq!(
            iam.access_key(&id).unwrap().unwrap().secret.expose(),
            secret
        );

        let other = kms_core::SoftwareRoot::new(&kms_core::RootKey::from_bytes([8; 32])).unwrap();
        drop(iam);
        let wrong = crate::Iam::open(dir.path(), Arc::new(other), ACCOUNT).unwrap();
        let err = crate::IamError::from(wrong.access_key(&id).unwrap_err());
        assert_eq!(
            (err.code, err.message.as_str()),
            ("ServiceFailure", "An internal error occurred")
        );
    }
}
