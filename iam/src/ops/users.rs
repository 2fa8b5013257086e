//! `CreateUser`, `GetUser`, `DeleteUser`, `ListUsers`.

use super::{Reply, reply};
use crate::ids::{self, USER_ID, fold, iso8601};
use crate::params::Request;
use crate::records::{self, PolicySet, UserRecord};
use crate::store::{self, Read, Table};
use crate::{Caller, Error, Iam, render};

pub(super) fn create(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.entity("UserName")?;
    let path = req.params.path()?;
    let user = UserRecord {
        name: name.to_owned(),
        path: path.to_owned(),
        id: ids::new_id(USER_ID),
        created: ids::now(),
        policies: PolicySet::default(),
    };

    iam.store
        .write(|txn| store::insert_new(txn, (Table::Users, "User"), name, &user))?;
    reply(|x| {
        x.nest("User", |u| render::user(u, &iam.account_id, &user));
    })
}

/// The named user, or the caller when no `UserName` is given (for root, the account's root).
pub(super) fn get(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = match (req.params.optional_user()?, req.caller) {
        (Some(name), _) => name,
        (None, Caller::User { name }) => name.as_str(),
        (None, Caller::Root) => return root_user(iam),
    };

    let user: UserRecord = iam.store.read(|r| records::load(r, name))?;
    reply(|x| {
        x.nest("User", |u| render::user(u, &iam.account_id, &user));
    })
}

/// The root as AWS shows it: the account id as user id, no name or path.
fn root_user(iam: &Iam) -> Reply {
    reply(|x| {
        x.nest("User", |u| {
            u.text("UserId", &iam.account_id)
                .text("Arn", &format!("arn:aws:iam::{}:root", iam.account_id))
                .text("CreateDate", &iso8601(iam.created));
        });
    })
}

/// Deletes a user that has no access keys, policies or groups left.
pub(super) fn delete(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.entity("UserName")?;

    iam.store.write(|txn| {
        let user: UserRecord = records::load(txn, name)?;
        let conflict = |what| Error::DeleteConflict {
            entity: "user",
            name: user.name.clone(),
            what,
        };
        if !records::keys_of(txn, &user.name)?.is_empty() {
            return Err(conflict("delete access keys"));
        }
        if !user.policies.inline.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !user.policies.attached.is_empty() {
            return Err(conflict("detach all policies"));
        }
        if !records::groups_of(txn, &user.name)?.is_empty() {
            return Err(conflict("remove user from all groups"));
        }
        store::delete(txn, Table::Users, &fold(&user.name))
    })?;
    Ok(None)
}

pub(super) fn list(iam: &Iam, req: &Request<'_>) -> Reply {
    let prefix = req.params.path_prefix()?;

    let users: Vec<UserRecord> = iam.store.read(|r| r.all(Table::Users))?;
    let users: Vec<_> = users
        .into_iter()
        .filter(|u| u.path.starts_with(prefix))
        .collect();
    reply(|x| {
        x.full_list("Users", &users, |m, u| render::user(m, &iam.account_id, u));
    })
}

#[cfg(test)]
mod tests {
    use crate::Caller;
    use crate::test_support::*;

    #[test]
    fn create_get_list_delete() {
        let (_dir, iam) = open();
        let body = ok(
            &iam,
            "CreateUser",
            &[("UserName", "alice"), ("Path", "/eng/")],
        );
        let xmlns = r#"xmlns="https://iam.amazonaws.com/doc/2010-05-08/""#;
        let start = format!("<CreateUserResponse {xmlns}><CreateUserResult><User>");
        assert!(body.starts_with(&start), "{body}");
        assert_eq!(
            field(&body, "Arn"),
            "arn:aws:iam::123456789012:user/eng/alice"
        );
        assert_eq!(field(&body, "Path"), "/eng/");
        let id = field(&body, "UserId").to_owned();
        assert!(id.starts_with("AIDA") && id.len() == 20);
        assert!(field(&body, "CreateDate").ends_with('Z'));

        let got = ok(&iam, "GetUser", &[("UserName", "ALICE")]);
        assert_eq!(field(&got, "UserId"), id, "names ignore case");
        ok(&iam, "CreateUser", &[("UserName", "bob")]);
        let list = ok(&iam, "ListUsers", &[]);
        assert_eq!(list.matches("<member>").count(), 2);
        assert!(list.contains("<IsTruncated>false</IsTruncated>"));
        let eng = ok(&iam, "ListUsers", &[("PathPrefix", "/eng")]);
        assert_eq!(eng.matches("<member>").count(), 1);

        let gone = ok(&iam, "DeleteUser", &[("UserName", "alice")]);
        assert!(!gone.contains("Result"), "{gone}");
        assert_eq!(
            code(&iam, "GetUser", &[("UserName", "alice")]),
            "NoSuchEntity"
        );
    }

    #[test]
    fn errors() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        let err = call(&iam, "CreateUser", &[("UserName", "Alice")]).unwrap_err();
        assert_eq!((err.code, err.status), ("EntityAlreadyExists", 409));
        assert_eq!(code(&iam, "CreateUser", &[]), "MissingParameter");
        assert_eq!(
            code(&iam, "CreateUser", &[("UserName", "a/b")]),
            "ValidationError"
        );
        assert_eq!(
            code(&iam, "CreateUser", &[("UserName", "b"), ("Path", "x")]),
            "ValidationError"
        );
        let err = call(&iam, "DeleteUser", &[("UserName", "nobody")]).unwrap_err();
        assert_eq!((err.code, err.status), ("NoSuchEntity", 404));
        assert!(err.to_xml("r9").contains("<RequestId>r9</RequestId>"));
    }

    #[test]
    fn get_user_without_name_is_the_caller() {
        let (_dir, iam) = open();
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        let alice = Caller::User {
            name: "alice".into(),
        };
        let body = call_as(&iam, &alice, "GetUser", &[]).unwrap();
        assert_eq!(field(&body, "UserName"), "alice");

        let root = ok(&iam, "GetUser", &[]);
        assert_eq!(field(&root, "Arn"), "arn:aws:iam::123456789012:root");
        assert_eq!(field(&root, "UserId"), "123456789012");
    }

    #[test]
    fn delete_conflicts() {
        let (_dir, iam) = open();
        let user = [("UserName", "u")];
        ok(&iam, "CreateUser", &user);

        let key = ok(&iam, "CreateAccessKey", &user);
        assert_eq!(code(&iam, "DeleteUser", &user), "DeleteConflict");
        ok(
            &iam,
            "DeleteAccessKey",
            &[
                ("UserName", "u"),
                ("AccessKeyId", field(&key, "AccessKeyId")),
            ],
        );

        let d = doc("s3:*");
        ok(
            &iam,
            "PutUserPolicy",
            &[
                ("UserName", "u"),
                ("PolicyName", "p"),
                ("PolicyDocument", &d),
            ],
        );
        assert_eq!(code(&iam, "DeleteUser", &user), "DeleteConflict");
        ok(
            &iam,
            "DeleteUserPolicy",
            &[("UserName", "u"), ("PolicyName", "p")],
        );

        let created = ok(
            &iam,
            "CreatePolicy",
            &[("PolicyName", "m"), ("PolicyDocument", &d)],
        );
        let arn = field(&created, "Arn").to_owned();
        ok(
            &iam,
            "AttachUserPolicy",
            &[("UserName", "u"), ("PolicyArn", &arn)],
        );
        assert_eq!(code(&iam, "DeleteUser", &user), "DeleteConflict");
        ok(
            &iam,
            "DetachUserPolicy",
            &[("UserName", "u"), ("PolicyArn", &arn)],
        );

        ok(&iam, "CreateGroup", &[("GroupName", "g")]);
        ok(
            &iam,
            "AddUserToGroup",
            &[("GroupName", "g"), ("UserName", "u")],
        );
        let err = call(&iam, "DeleteUser", &user).unwrap_err();
        assert_eq!((err.code, err.status), ("DeleteConflict", 409));
        ok(
            &iam,
            "RemoveUserFromGroup",
            &[("GroupName", "g"), ("UserName", "u")],
        );

        ok(&iam, "DeleteUser", &user);
    }
}
