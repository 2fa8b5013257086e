//! Inline policies of users and groups: `Put`, `Get`, `Delete` and `List` of `UserPolicy` and
//! `GroupPolicy`, one generic handler each over [`Principal`].
//!
//! Inline policy names are matched exactly (case matters), unlike entity names.

use super::{Reply, check_document, reply};
use crate::params::Request;
use crate::records::{self, Principal};
use crate::xml;
use crate::{Error, Iam};

/// Creates or replaces an inline policy.
pub(super) fn put<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let name = req.params.policy_name()?;
    let document = req.params.require("PolicyDocument")?;
    check_document(document)?;

    iam.store.write(|txn| {
        let mut principal: P = records::load(txn, owner)?;
        let inline = &mut principal.policies_mut().inline;
        inline.insert(name.to_owned(), document.to_owned());
        records::save(txn, &principal)
    })?;
    Ok(None)
}

/// The document, URL-encoded as IAM returns it.
pub(super) fn get<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let name = req.params.policy_name()?;

    let principal: P = iam.store.read(|r| records::load(r, owner))?;
    let document = principal
        .policies()
        .inline
        .get(name)
        .ok_or_else(|| missing::<P>(name))?;
    reply(|x| {
        x.text(P::PARAM, principal.name())
            .text("PolicyName", name)
            .text("PolicyDocument", &xml::url_encode(document));
    })
}

pub(super) fn delete<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;
    let name = req.params.policy_name()?;

    iam.store.write(|txn| {
        let mut principal: P = records::load(txn, owner)?;
        if principal.policies_mut().inline.remove(name).is_none() {
            return Err(missing::<P>(name));
        }
        records::save(txn, &principal)
    })?;
    Ok(None)
}

pub(super) fn list<P: Principal>(iam: &Iam, req: &Request<'_>) -> Reply {
    let owner = req.params.entity(P::PARAM)?;

    let principal: P = iam.store.read(|r| records::load(r, owner))?;
    let names: Vec<&String> = principal.policies().inline.keys().collect();
    reply(|x| {
        x.full_list("PolicyNames", &names, |m, name| {
            m.value(name);
        });
    })
}

fn missing<P: Principal>(name: &str) -> Error {
    Error::NoSuchEntity {
        entity: P::INLINE,
        name: name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    fn decode(encoded: &str) -> String {
        percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }

    /// The four inline operations of one principal kind (`User` or `Group`).
    fn round_trip(kind: &str, param: &'static str) {
        let (_dir, iam) = open();
        ok(&iam, &format!("Create{kind}"), &[(param, "p1")]);
        let d = doc("s3:GetObject");
        let put = [
            (param, "p1"),
            ("PolicyName", "Read"),
            ("PolicyDocument", &d),
        ];
        ok(&iam, &format!("Put{kind}Policy"), &put);
        let d2 = doc("s3:*");
        ok(
            &iam,
            &format!("Put{kind}Policy"),
            &[
                (param, "p1"),
                ("PolicyName", "All"),
                ("PolicyDocument", &d2),
            ],
        );

        let get = [(param, "p1"), ("PolicyName", "Read")];
        let body = ok(&iam, &format!("Get{kind}Policy"), &get);
        assert_eq!(field(&body, param), "p1");
        assert_eq!(field(&body, "PolicyName"), "Read");
        assert!(field(&body, "PolicyDocument").starts_with("%7B%22Version%22"));
        assert_eq!(decode(field(&body, "PolicyDocument")), d);

        let list = ok(&iam, &format!("List{kind}Policies"), &[(param, "p1")]);
        assert!(
            list.contains("<PolicyNames><member>All</member><member>Read</member></PolicyNames>"),
            "{list}"
        );

        ok(&iam, &format!("Delete{kind}Policy"), &get);
        assert_eq!(
            code(&iam, &format!("Get{kind}Policy"), &get),
            "NoSuchEntity"
        );
        assert_eq!(
            code(&iam, &format!("Delete{kind}Policy"), &get),
            "NoSuchEntity"
        );
        assert_eq!(
            code(
                &iam,
                &format!("Put{kind}Policy"),
                &[(param, "p1"), ("PolicyName", "x")]
            ),
            "MissingParameter"
        );
        let bad = [(param, "p1"), ("PolicyName", "x"), ("PolicyDocument", "{}")];
        assert_eq!(
            code(&iam, &format!("Put{kind}Policy"), &bad),
            "MalformedPolicyDocument"
        );
        let nobody = [
            (param, "nobody"),
            ("PolicyName", "x"),
            ("PolicyDocument", &d),
        ];
        assert_eq!(
            code(&iam, &format!("Put{kind}Policy"), &nobody),
            "NoSuchEntity"
        );
        let long = "p".repeat(129);
        let bad = [(param, "p1"), ("PolicyName", &long), ("PolicyDocument", &d)];
        assert_eq!(
            code(&iam, &format!("Put{kind}Policy"), &bad),
            "ValidationError"
        );
    }

    #[test]
    fn user_policies() {
        round_trip("User", "UserName");
    }

    #[test]
    fn group_policies() {
        round_trip("Group", "GroupName");
    }
}
