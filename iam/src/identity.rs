//! What the rest of the gateway asks of the store: an access key for SigV4, and the identity
//! policies of a user for authorization.

use crate::records::{self, AccessKeyRecord, GroupRecord, PolicySet, UserRecord};
use crate::secret::{Secret, secret_aad};
use crate::store::{Read, Table};
use crate::{AccessKey, Error, Iam, NamedPolicy, ids};

/// The access key of this id with its user and opened secret, if it exists.
pub(crate) fn access_key(iam: &Iam, access_key_id: &str) -> Result<Option<AccessKey>, Error> {
    let found = iam.store.read(|r| {
        let Some(key) = r.get::<AccessKeyRecord>(Table::AccessKeys, access_key_id)? else {
            return Ok(None);
        };
        let user: UserRecord = records::load(r, &key.user)?;
        Ok(Some((key, user, r.secrets_key()?)))
    })?;
    let Some((key, user, secrets_key)) = found else {
        return Ok(None);
    };

    let secret = open_secret(iam, &secrets_key, &key)?;
    Ok(Some(AccessKey {
        access_key_id: key.id,
        user_arn: ids::arn(&iam.account_id, "user", &user.path, &user.name),
        user_name: user.name,
        user_id: user.id,
        active: key.active,
        secret,
    }))
}

/// Opens a key's sealed secret with the secrets key read beside it; the id in the associated
/// data ties it to its record.
fn open_secret(iam: &Iam, secrets_key: &[u8], key: &AccessKeyRecord) -> Result<Secret, Error> {
    let aad = secret_aad(&key.id);
    let plain = iam.root.open(secrets_key, &aad, &key.sealed_secret)?;
    let text =
        std::str::from_utf8(plain.as_bytes()).map_err(|_| kms_core::Error::InvalidCiphertext)?;
    Ok(Secret::new(text.to_owned()))
}

/// Inline and attached policies of the user, then of each of its groups.
pub(crate) fn policies_of(iam: &Iam, user_name: &str) -> Result<Vec<NamedPolicy>, Error> {
    iam.store.read(|r| {
        let user: UserRecord = records::load(r, user_name)?;
        let mut out = Vec::new();
        collect(
            r,
            iam,
            &mut out,
            &format!("user/{}", user.name),
            &user.policies,
        )?;
        for group in records::groups_of(r, &user.name)? {
            let GroupRecord { name, policies, .. } = group;
            collect(r, iam, &mut out, &format!("group/{name}"), &policies)?;
        }
        Ok(out)
    })
}

/// Adds a policy set's inline documents (named `<owner>/<policy>`) and its attached managed
/// policies (named by ARN, each once).
fn collect(
    r: &impl Read,
    iam: &Iam,
    out: &mut Vec<NamedPolicy>,
    owner: &str,
    set: &PolicySet,
) -> Result<(), Error> {
    for (name, document) in &set.inline {
        out.push(NamedPolicy {
            name: format!("{owner}/{name}"),
            document: document.clone(),
        });
    }
    for arn in &set.attached {
        if out.iter().any(|p| &p.name == arn) {
            continue;
        }
        let policy = records::policy_by_arn(r, &iam.account_id, arn)?;
        out.push(NamedPolicy {
            name: arn.clone(),
            document: policy.document,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    #[test]
    fn policies_of_collects_user_and_group_policies() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        ok(&iam, "CreateUser", &[("UserName", "bob")]);
        ok(&iam, "CreateGroup", &[("GroupName", "devs")]);
        ok(&iam, "CreateGroup", &[("GroupName", "ops")]);
        ok(
            &iam,
            "AddUserToGroup",
            &[("GroupName", "devs"), ("UserName", "alice")],
        );
        let docs: Vec<String> = ["s3:A", "s3:B", "s3:C", "s3:D", "s3:E"].map(doc).to_vec();
        let put = |action, who: (&str, &str), name, d: &str| {
            ok(
                &iam,
                action,
                &[who, ("PolicyName", name), ("PolicyDocument", d)],
            );
        };
        put("PutUserPolicy", ("UserName", "alice"), "Mine", &docs[0]);
        put("PutGroupPolicy", ("GroupName", "devs"), "Team", &docs[1]);
        put("PutGroupPolicy", ("GroupName", "ops"), "Other", &docs[4]);
        let arn = |name: &str| format!("arn:aws:iam::123456789012:policy/{name}");
        ok(
            &iam,
            "CreatePolicy",
            &[("PolicyName", "U"), ("PolicyDocument", &docs[2])],
        );
        ok(
            &iam,
            "CreatePolicy",
            &[("PolicyName", "G"), ("PolicyDocument", &docs[3])],
        );
        ok(
            &iam,
            "AttachUserPolicy",
            &[("UserName", "alice"), ("PolicyArn", &arn("U"))],
        );
        ok(
            &iam,
            "AttachGroupPolicy",
            &[("GroupName", "devs"), ("PolicyArn", &arn("G"))],
        );
        ok(
            &iam,
            "AttachGroupPolicy",
            &[("GroupName", "devs"), ("PolicyArn", &arn("U"))],
        );

        let got = iam.policies_of("alice").unwrap();
        let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
        let (u, g) = (arn("U"), arn("G"));
        assert_eq!(
            names,
            ["user/alice/Mine", u.as_str(), "group/devs/Team", g.as_str()]
        );
        let documents: Vec<&str> = got.iter().map(|p| p.document.as_str()).collect();
        assert_eq!(documents, [&docs[0], &docs[2], &docs[1], &docs[3]]);

        assert!(iam.policies_of("bob").unwrap().is_empty());
        assert!(matches!(
            iam.policies_of("carol"),
            Err(crate::Error::NoSuchEntity { .. })
        ));
    }
}
