//! The IAM operations: finds the handler of a call's `Action`, runs it, wraps its result.
//!
//! Each handler reads and checks its parameters, does its work in one store transaction and
//! writes the inside of `<{Action}Result>` (or nothing, for operations without a result).
//! Pagination (`Marker`, `MaxItems`) is not implemented: lists are whole, `IsTruncated` false.

mod groups;
mod inline;
mod keys;
mod managed;
mod users;

use crate::params::Request;
use crate::records::{GroupRecord, UserRecord};
use crate::xml::{self, Xml};
use crate::{Error, Iam, MAX_POLICY_CHARS};

/// What a handler answers: the inside of its result element, if it has one.
type Reply = Result<Option<Xml>, Error>;

type Handler = fn(&Iam, &Request<'_>) -> Reply;

/// Every supported action and its handler.
const OPERATIONS: &[(&str, Handler)] = &[
    ("CreateUser", users::create),
    ("GetUser", users::get),
    ("DeleteUser", users::delete),
    ("ListUsers", users::list),
    ("CreateAccessKey", keys::create),
    ("UpdateAccessKey", keys::update),
    ("DeleteAccessKey", keys::delete),
    ("ListAccessKeys", keys::list),
    ("CreateGroup", groups::create),
    ("GetGroup", groups::get),
    ("DeleteGroup", groups::delete),
    ("ListGroups", groups::list),
    ("AddUserToGroup", groups::add_user),
    ("RemoveUserFromGroup", groups::remove_user),
    ("ListGroupsForUser", groups::list_for_user),
    ("PutUserPolicy", inline::put::<UserRecord>),
    ("GetUserPolicy", inline::get::<UserRecord>),
    ("DeleteUserPolicy", inline::delete::<UserRecord>),
    ("ListUserPolicies", inline::list::<UserRecord>),
    ("PutGroupPolicy", inline::put::<GroupRecord>),
    ("GetGroupPolicy", inline::get::<GroupRecord>),
    ("DeleteGroupPolicy", inline::delete::<GroupRecord>),
    ("ListGroupPolicies", inline::list::<GroupRecord>),
    ("CreatePolicy", managed::create),
    ("GetPolicy", managed::get),
    ("GetPolicyVersion", managed::get_version),
    ("DeletePolicy", managed::delete),
    ("ListPolicies", managed::list),
    ("AttachUserPolicy", managed::attach::<UserRecord>),
    ("DetachUserPolicy", managed::detach::<UserRecord>),
    ("AttachGroupPolicy", managed::attach::<GroupRecord>),
    ("DetachGroupPolicy", managed::detach::<GroupRecord>),
    (
        "ListAttachedUserPolicies",
        managed::list_attached::<UserRecord>,
    ),
    (
        "ListAttachedGroupPolicies",
        managed::list_attached::<GroupRecord>,
    ),
];

/// Runs the call and returns its whole response body.
pub(crate) fn run(iam: &Iam, request: &Request<'_>, request_id: &str) -> Result<String, Error> {
    let action = request.params.require("Action")?;
    let (name, handler) = OPERATIONS
        .iter()
        .find(|(name, _)| *name == action)
        .ok_or_else(|| Error::InvalidAction {
            action: action.to_owned(),
        })?;
    let result = handler(iam, request)?;
    Ok(xml::response(name, result, request_id))
}

/// A reply with a result element written by `body`.
fn reply(body: impl FnOnce(&mut Xml)) -> Reply {
    let mut x = Xml::new();
    body(&mut x);
    Ok(Some(x))
}

/// Largest `PolicyDocument` parameter the API accepts at all.
const MAX_DOCUMENT_PARAM: usize = 131_072;

/// Checks a policy document: size (white space not counted, as IAM counts), then grammar.
fn check_document(document: &str) -> Result<(), Error> {
    if document.len() > MAX_DOCUMENT_PARAM {
        return Err(Error::Validation {
            field: "PolicyDocument",
            reason: "Member must have length less than or equal to 131072",
        });
    }
    let chars = document.chars().filter(|c| !c.is_whitespace()).count();
    if chars > MAX_POLICY_CHARS {
        return Err(Error::LimitExceeded {
            limit: format!("Cannot exceed quota for PolicySize: {MAX_POLICY_CHARS}"),
        });
    }
    policy::Policy::parse(document).map_err(|err| match err {
        policy::PolicyError::Malformed { reason } => Error::MalformedPolicyDocument { reason },
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    #[test]
    fn unknown_and_missing_actions() {
        let (_dir, iam) = open();
        assert_eq!(code(&iam, "CreateRole", &[]), "InvalidAction");
        let err = iam.call(&crate::Caller::Root, &[], "r").unwrap_err();
        assert_eq!((err.code, err.status), ("MissingParameter", 400));
        assert!(err.to_xml("r").contains("<Type>Sender</Type>"));
    }

    #[test]
    fn policy_documents_are_checked() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "a")]);
        let put = |d: &str| {
            let params = [
                ("UserName", "a"),
                ("PolicyName", "p"),
                ("PolicyDocument", d),
            ];
            call(&iam, "PutUserPolicy", &params).map_err(|e| e.code)
        };
        assert_eq!(put("{").unwrap_err(), "MalformedPolicyDocument");
        let err = call(
            &iam,
            "CreatePolicy",
            &[("PolicyName", "p"), ("PolicyDocument", "[]")],
        );
        let err = err.unwrap_err();
        assert!(err.message.contains("object"), "{}", err.message);

        let padding = " ".repeat(7000);
        assert!(
            put(&format!("{padding}{}", doc("s3:*"))).is_ok(),
            "white space is free"
        );
        let resources: Vec<String> = (0..700).map(|i| format!("\"arn:aws:s3:::b{i}\"")).collect();
        let big = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":[{}]}}]}}"#,
            resources.join(",")
        );
        assert_eq!(put(&big).unwrap_err(), "LimitExceeded");
    }
}
