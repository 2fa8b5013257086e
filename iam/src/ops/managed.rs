//! Managed policies: `CreatePolicy`, `GetPolicy`, `GetPolicyVersion`, `DeletePolicy`,
//! `ListPolicies`, and attaching them to users and groups.
//!
//! A managed policy has exactly one version, `v1`, its default; there is no `CreatePolicyVersion`
//! yet. There are no AWS-managed policies: `Scope=AWS` lists nothing.

use super::{Reply, check_document, reply};
use crate::ids::{self, POLICY_ID, fold, iso8601};
use crate::params::Request;
use crate::records::{self, PolicyRecord, Principal};
use crate::store::{self, Read, Table};
use crate::{Error, Iam, render, xml};

/// IAM's quota of managed policies attached to one user or group.
const MAX_ATTACHED: usize = 10;
/// Longest `Description`.
const MAX_DESCRIPTION: usize = 1000;
/// The only version of a managed policy.
const VERSION: &str = "v1";

pub(super) fn create(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.policy_name()?;
    let path = req.params.path()?;
    let document = req.params.require("PolicyDocument")?;
    let description = req.params.get("Description").unwrap_or_default();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(Error::Validation {
            field: "Description",
            reason: "Member must have length less than or equal to 1000",
        });
    }
    check_document(document)?;
    let now = ids::now();
    let policy = PolicyRecord {
        name: name.to_owned(),
        path: path.to_owned(),
        id: ids::new_id(POLICY_ID),
        description: description.to_owned(),
        document: document.to_owned(),
        created: now,
        updated: now,
    };

    iam.store
        .write(|txn| store::insert_new(txn, (Table::Policies, "Policy"), name, &policy))?;
    reply(|x| {
        x.nest("Policy", |p| {
            render::policy(p, &iam.account_id, &policy, 0, true)
        });
    })
}

/// The policy of `PolicyArn` and its attachment count.
fn load(iam: &Iam, req: &Request<'_>) -> Result<(PolicyRecord, usize), Error> {
    let arn = req.params.require("PolicyArn")?;
    iam.store.read(|r| {
        let policy = records::policy_by_arn(r, &iam.account_id, arn)?;
        Ok((policy, records::attachment_count(r, arn)?))
    })
}

pub(super) fn get(iam: &Iam, req: &Request<'_>) -> Reply {
    let (policy, count) = load(iam, req)?;
    reply(|x| {
        x.nest("Policy", |p| {
            render::policy(p, &iam.account_id, &policy, count, true)
        });
    })
}

/// Version `v1`, the document URL-encoded as IAM returns it.
pub(super) fn get_version(iam: &Iam, req: &Request<'_>) -> Reply {
    let version = req.params.require("VersionId")?;
    let (policy, _) = load(iam, req)?;
    if version != VERSION {
        return Err(Error::NoSuchEntity {
            entity: "policy version",
            name: version.to_owned(),
        });
    }

    reply(|x| {
        x.nest("PolicyVersion", |v| {
            v.text("Document", &xml::url_encode(&policy.document))
                .text("VersionId", VERSION)
                .text("IsDefaultVersion", "true")
                .text("CreateDate", &iso8601(policy.created));
        });
    })
}

/// Deletes a policy attached to no one.
pub(super) fn delete(iam: &Iam, req: &Request<'_>) -> Reply {
    let arn = req.params.require("PolicyArn")?;

    iam.store.write(|txn| {
        let policy = records::policy_by_arn(txn, &iam.account_id, arn)?;
        if records::attachment_count(txn, arn)? > 0 {
            return Err(Error::DeleteConflict {
                entity: "policy",
                name: arn.to_owned(),
                what: "detach all entities",
            });
        }
        store::delete(txn, Table::Policies, &fold(&policy.name))
    })?;
    Ok(None)
}

/// Local policies under `PathPrefix`; with `OnlyAttached=true` only those attached somewhere.
pub(super) fn list(iam: &Iam, req: &Request<'_>) -> Reply {
    let prefix = req.params.path_prefix()?;
    let local = match req.params.get("Scope").unwrap_or("All") {
        "All" | "Local" => true,
        "AWS" => false,
        _ => {
            return Err(Error::Validation {
                field: "Scope",
                reason: "Member must satisfy enum value set: [All, AWS, Local]",
            });
        }
    };
    let only_attached = req.params.get("OnlyAttached") == Some("true");

    let listed = iam.store.read(|r| counted_policies(r, &iam.account_id))?;
    let listed: Vec<_> = listed
        .into_iter()
        .filter(|(p, count)| local && p.path.starts_with(prefix) && (!only_attached || *count > 0))
        .collect();
    reply(|x| {
        x.full_list("Policies", &listed, |m, (p, count)| {
            render::policy(m, &iam.account_id, p, *count, false);
        });
    })
}

/// Every managed policy with its attachment count.
fn counted_policies(r: &impl Read, account_id: &str) -> Result<Vec<(PolicyRecord, usize)>, Error> {
    let policies: Vec<PolicyRecord> = r.all(Table::Policies)?;
    policies
        .into_iter()
        .map(|p| {
            let arn = ids::arn(account_id, "policy", &p.path, &p.name);
            let count = records::attachment_count(r, &arn)?;
            Ok((p, count))
        })
        .collect()
}

/// Attaches a managed policy; attaching it again changes nothing.
pub(super) fn attach<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let arn = req.params.require("PolicyArn")?;

    iam.store.write(|txn| {
        let mut principal: P = records::load(txn, owner)?;
        records::policy_by_arn(txn, &iam.account_id, arn)?;
        let attached = &mut principal.policies_mut().attached;
        if attached.iter().any(|a| a == arn) {
            return Ok(());
        }
        if attached.len() >= MAX_ATTACHED {
            return Err(Error::LimitExceeded {
                limit: format!("Cannot exceed quota for {}: {MAX_ATTACHED}", P::QUOTA),
            });
        }
        attached.push(arn.to_owned());
        records::save(txn, &principal)
    })?;
    Ok(None)
}

/// Detaches a managed policy; one not attached is `NoSuchEntity`.
pub(super) fn detach<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let arn = req.params.require("PolicyArn")?;

    iam.store.write(|txn| {
        let mut principal: P = records::load(txn, owner)?;
        let attached = &mut principal.policies_mut().attached;
        let before = attached.len();
        attached.retain(|a| a != arn);
        if attached.len() == before {
            return Err(Error::NoSuchPolicy {
                arn: arn.to_owned(),
            });
        }
        records::save(txn, &principal)
    })?;
    Ok(None)
}

/// The policies attached to a user or group, under `PathPrefix`.
pub(super) fn list_attached<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let prefix = req.params.path_prefix()?;

    let policies = iam.store.read(|r| {
        let principal: P = records::load(r, owner)?;
        let arns = &principal.policies().attached;
        arns.iter()
            .map(|arn| records::policy_by_arn(r, &iam.account_id, arn))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let policies: Vec<_> = policies
        .into_iter()
        .filter(|p| p.path.starts_with(prefix))
        .collect();
    reply(|x| {
        x.full_list("AttachedPolicies", &policies, |m, p| {
            let arn = ids::arn(&iam.account_id, "policy", &p.path, &p.name);
            m.text("PolicyName", &p.name).text("PolicyArn", &arn);
        });
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    const ARN: &str = "arn:aws:iam::123456789012:policy/team/ReadOnly";

    fn create(iam: &crate::Iam) -> String {
        let d = doc("s3:Get*");
        let params = [
            ("PolicyName", "ReadOnly"),
            ("Path", "/team/"),
            ("PolicyDocument", d.as_str()),
            ("Description", "reads <all>"),
        ];
        ok(iam, "CreatePolicy", &params)
    }

    #[test]
    fn create_get_version_list_delete() {
        let (_dir, iam) = open();
        let body = create(&iam);
        assert_eq!(field(&body, "Arn"), ARN);
        assert!(field(&body, "PolicyId").starts_with("ANPA"));
        assert_eq!(field(&body, "DefaultVersionId"), "v1");
        assert_eq!(field(&body, "Description"), "reads &lt;all&gt;");
        let d = doc("s3:*");
        let again = [("PolicyName", "readonly"), ("PolicyDocument", d.as_str())];
        assert_eq!(code(&iam, "CreatePolicy", &again), "EntityAlreadyExists");

        let got = ok(&iam, "GetPolicy", &[("PolicyArn", ARN)]);
        assert_eq!(field(&got, "AttachmentCount"), "0");
        assert_eq!(field(&got, "PolicyName"), "ReadOnly");
        let version = ok(
            &iam,
            "GetPolicyVersion",
            &[("PolicyArn", ARN), ("VersionId", "v1")],
        );
        let encoded = field(&version, "Document");
        let decoded = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, doc("s3:Get*"));
        assert_eq!(field(&version, "IsDefaultVersion"), "true");
        let v2 = [("PolicyArn", ARN), ("VersionId", "v2")];
        assert_eq!(code(&iam, "GetPolicyVersion", &v2), "NoSuchEntity");

        let list = ok(&iam, "ListPolicies", &[("Scope", "Local")]);
        assert_eq!(list.matches("<member>").count(), 1);
        assert!(
            !list.contains("<Description>"),
            "ListPolicies has no description"
        );
        assert!(!ok(&iam, "ListPolicies", &[("Scope", "AWS")]).contains("<member>"));
        assert!(!ok(&iam, "ListPolicies", &[("OnlyAttached", "true")]).contains("<member>"));
        assert!(!ok(&iam, "ListPolicies", &[("PathPrefix", "/other/")]).contains("<member>"));
        assert_eq!(
            code(&iam, "ListPolicies", &[("Scope", "Mine")]),
            "ValidationError"
        );

        ok(&iam, "DeletePolicy", &[("PolicyArn", ARN)]);
        assert_eq!(
            code(&iam, "GetPolicy", &[("PolicyArn", ARN)]),
            "NoSuchEntity"
        );
        assert_eq!(
            code(&iam, "DeletePolicy", &[("PolicyArn", ARN)]),
            "NoSuchEntity"
        );
    }

    #[test]
    fn wrong_arns_are_not_found() {
        let (_dir, iam) = open();
        create(&iam);
        for arn in [
            "arn:aws:iam::123456789012:policy/ReadOnly",
            "arn:aws:iam::999999999999:policy/team/ReadOnly",
            "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "nonsense",
        ] {
            assert_eq!(
                code(&iam, "GetPolicy", &[("PolicyArn", arn)]),
                "NoSuchEntity",
                "{arn}"
            );
        }
        assert_eq!(code(&iam, "GetPolicy", &[]), "MissingParameter");
    }

    #[test]
    fn attach_detach_list() {
        let (_dir, iam) = open();
        create(&iam);
        ok(&iam, "CreateUser", &[("UserName", "u")]);
        ok(&iam, "CreateGroup", &[("GroupName", "g")]);
        let to_user = [("UserName", "u"), ("PolicyArn", ARN)];
        let to_group = [("GroupName", "g"), ("PolicyArn", ARN)];
        ok(&iam, "AttachUserPolicy", &to_user);
        ok(&iam, "AttachUserPolicy", &to_user);
        ok(&iam, "AttachGroupPolicy", &to_group);
        let missing = [
            ("UserName", "u"),
            ("PolicyArn", "arn:aws:iam::123456789012:policy/x"),
        ];
        assert_eq!(code(&iam, "AttachUserPolicy", &missing), "NoSuchEntity");
        let nobody = [("UserName", "v"), ("PolicyArn", ARN)];
        assert_eq!(code(&iam, "AttachUserPolicy", &nobody), "NoSuchEntity");

        let got = ok(&iam, "GetPolicy", &[("PolicyArn", ARN)]);
        assert_eq!(field(&got, "AttachmentCount"), "2");
        assert_eq!(
            ok(&iam, "ListPolicies", &[("OnlyAttached", "true")])
                .matches("<member>")
                .count(),
            1
        );
        let user = ok(&iam, "ListAttachedUserPolicies", &[("UserName", "u")]);
        let member = format!("<PolicyName>ReadOnly</PolicyName><PolicyArn>{ARN}</PolicyArn>");
        let want = format!("<AttachedPolicies><member>{member}</member></AttachedPolicies>");
        assert!(user.contains(&want), "{user}");
        let group = ok(&iam, "ListAttachedGroupPolicies", &[("GroupName", "g")]);
        assert_eq!(field(&group, "PolicyArn"), ARN);

        let err = call(&iam, "DeletePolicy", &[("PolicyArn", ARN)]).unwrap_err();
        assert_eq!((err.code, err.status), ("DeleteConflict", 409));
        ok(&iam, "DetachUserPolicy", &to_user);
        assert_eq!(code(&iam, "DetachUserPolicy", &to_user), "NoSuchEntity");
        assert_eq!(
            code(&iam, "DeletePolicy", &[("PolicyArn", ARN)]),
            "DeleteConflict"
        );
        ok(&iam, "DetachGroupPolicy", &to_group);
        assert!(!ok(&iam, "ListAttachedGroupPolicies", &[("GroupName", "g")]).contains("<member>"));
        ok(&iam, "DeletePolicy", &[("PolicyArn", ARN)]);
    }

    #[test]
    fn at_most_ten_attached() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "u")]);
        let d = doc("s3:*");
        for i in 0..11 {
            let name = format!("p{i}");
            ok(
                &iam,
                "CreatePolicy",
                &[("PolicyName", &name), ("PolicyDocument", &d)],
            );
            let arn = format!("arn:aws:iam::123456789012:policy/{name}");
            let result = call(
                &iam,
                "AttachUserPolicy",
                &[("UserName", "u"), ("PolicyArn", &arn)],
            );
            assert_eq!(result.is_ok(), i < 10, "{i}");
        }
    }
}
