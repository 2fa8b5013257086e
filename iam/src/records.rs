//! The records of the store and the lookups handlers share.
//!
//! Users and groups both hold policies (inline documents by name, attached managed policy ARNs);
//! [`Principal`] lets one handler serve `PutUserPolicy` and `PutGroupPolicy` alike. Group
//! membership is kept on the group only; a user's groups are found by scanning groups.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use redb::WriteTransaction;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::ids;
use crate::store::{self, Read, Table};

/// The policies of a user or group.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct PolicySet {
    /// Inline policies: name → document.
    pub inline: BTreeMap<String, String>,
    /// ARNs of attached managed policies, in attachment order.
    pub attached: Vec<String>,
}

/// A user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct UserRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub policies: PolicySet,
}

/// A group, with the names of its members.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct GroupRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub created: i64,
    pub members: Vec<String>,
    pub policies: PolicySet,
}

/// An access key; its secret sealed by the root of trust.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct AccessKeyRecord {
    pub id: String,
    pub user: String,
    pub active: bool,
    pub created: i64,
    #[serde(serialize_with = "to_b64", deserialize_with = "from_b64")]
    pub sealed_secret: Vec<u8>,
}

/// A managed policy and its one version, `v1`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PolicyRecord {
    pub name: String,
    pub path: String,
    pub id: String,
    pub description: String,
    pub document: String,
    pub created: i64,
    pub updated: i64,
}

/// A user or a group: what holds identity policies.
pub(crate) trait Principal: Serialize + DeserializeOwned {
    /// Its table.
    const TABLE: Table;
    /// The parameter naming it (`UserName`).
    const PARAM: &'static str;
    /// The word for it in messages and ARNs (`user`).
    const ENTITY: &'static str;
    /// The word for its inline policies in messages (`user policy`).
    const INLINE: &'static str;
    /// The name of its attached-policies quota (`PoliciesPerUser`).
    const QUOTA: &'static str;

    fn name(&self) -> &str;
    fn policies(&self) -> &PolicySet;
    fn policies_mut(&mut self) -> &mut PolicySet;
}

impl Principal for UserRecord {
    const TABLE: Table = Table::Users;
    const PARAM: &'static str = "UserName";
    const ENTITY: &'static str = "user";
    const INLINE: &'static str = "user policy";
    const QUOTA: &'static str = "PoliciesPerUser";

    fn name(&self) -> &str {
        &self.name
    }

    fn policies(&self) -> &PolicySet {
        &self.policies
    }

    fn policies_mut(&mut self) -> &mut PolicySet {
        &mut self.policies
    }
}

impl Principal for GroupRecord {
    const TABLE: Table = Table::Groups;
    const PARAM: &'static str = "GroupName";
    const ENTITY: &'static str = "group";
    const INLINE: &'static str = "group policy";
    const QUOTA: &'static str = "PoliciesPerGroup";

    fn name(&self) -> &str {
        &self.name
    }

    fn policies(&self) -> &PolicySet {
        &self.policies
    }

    fn policies_mut(&mut self) -> &mut PolicySet {
        &mut self.policies
    }
}

/// The user or group of this name, or `NoSuchEntity`.
pub(crate) fn load<P: Principal>(r: &impl Read, name: &str) -> Result<P, Error> {
    r.get(P::TABLE, &ids::fold(name))?
        .ok_or_else(|| Error::NoSuchEntity {
            entity: P::ENTITY,
            name: name.to_owned(),
        })
}

/// Writes a user or group back under its folded name.
pub(crate) fn save<P: Principal>(txn: &WriteTransaction, principal: &P) -> Result<(), Error> {
    store::put(txn, P::TABLE, &ids::fold(principal.name()), principal)
}

/// The groups `user` (its exact stored name) belongs to.
pub(crate) fn groups_of(r: &impl Read, user: &str) -> Result<Vec<GroupRecord>, Error> {
    let groups: Vec<GroupRecord> = r.all(Table::Groups)?;
    Ok(groups
        .into_iter()
        .filter(|g| g.members.iter().any(|m| m == user))
        .collect())
}

/// The access keys of `user` (its exact stored name), oldest first.
pub(crate) fn keys_of(r: &impl Read, user: &str) -> Result<Vec<AccessKeyRecord>, Error> {
    let keys: Vec<AccessKeyRecord> = r.all(Table::AccessKeys)?;
    let mut keys: Vec<_> = keys.into_iter().filter(|k| k.user == user).collect();
    keys.sort_by_key(|k| k.created);
    Ok(keys)
}

/// The managed policy of this ARN, or `NoSuchEntity`.
pub(crate) fn policy_by_arn(
    r: &impl Read,
    account_id: &str,
    arn: &str,
) -> Result<PolicyRecord, Error> {
    let missing = || Error::NoSuchPolicy {
        arn: arn.to_owned(),
    };
    let name = arn.rsplit('/').next().ok_or_else(missing)?;
    let record: PolicyRecord = r
        .get(Table::Policies, &ids::fold(name))?
        .ok_or_else(missing)?;
    let own_arn = ids::arn(account_id, "policy", &record.path, &record.name);
    if own_arn != arn {
        return Err(missing());
    }
    Ok(record)
}

/// How many users and groups have the policy of this ARN attached.
pub(crate) fn attachment_count(r: &impl Read, arn: &str) -> Result<usize, Error> {
    let users: Vec<UserRecord> = r.all(Table::Users)?;
    let groups: Vec<GroupRecord> = r.all(Table::Groups)?;
    let attached = |set: &PolicySet| set.attached.iter().any(|a| a == arn);
    let users = users.iter().filter(|u| attached(&u.policies)).count();
    Ok(users + groups.iter().filter(|g| attached(&g.policies)).count())
}

fn to_b64<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&B64.encode(bytes))
}

fn from_b64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let text = String::deserialize(d)?;
    B64.decode(text).map_err(serde::de::Error::custom)
}
