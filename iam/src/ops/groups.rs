//! `CreateGroup`, `GetGroup`, `DeleteGroup`, `ListGroups`, `AddUserToGroup`,
//! `RemoveUserFromGroup`, `ListGroupsForUser`.

use super::{Reply, reply};
use crate::ids::{self, GROUP_ID, fold};
use crate::params::Request;
use crate::records::{self, GroupRecord, PolicySet, UserRecord};
use crate::store::{self, Read, Table};
use crate::{Error, Iam, render};

/// IAM's quota of groups a user may belong to.
const MAX_GROUPS_PER_USER: usize = 10;

pub(super) fn create(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.entity("GroupName")?;
    let path = req.params.path()?;
    let group = GroupRecord {
        name: name.to_owned(),
        path: path.to_owned(),
        id: ids::new_id(GROUP_ID),
        created: ids::now(),
        members: Vec::new(),
        policies: PolicySet::default(),
    };

    iam.store
        .write(|txn| store::insert_new(txn, (Table::Groups, "Group"), name, &group))?;
    reply(|x| {
        x.nest("Group", |g| render::group(g, &iam.account_id, &group));
    })
}

/// The group and its members.
pub(super) fn get(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.entity("GroupName")?;

    let (group, users) = iam.store.read(|r| {
        let group: GroupRecord = records::load(r, name)?;
        let users = group
            .members
            .iter()
            .map(|m| records::load::<UserRecord>(r, m))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((group, users))
    })?;
    reply(|x| {
        x.nest("Group", |g| render::group(g, &iam.account_id, &group))
            .full_list("Users", &users, |m, u| render::user(m, &iam.account_id, u));
    })
}

/// Deletes a group without members or policies.
pub(super) fn delete(iam: &Iam, req: &Request<'_>) -> Reply {
    let name = req.params.entity("GroupName")?;

    iam.store.write(|txn| {
        let group: GroupRecord = records::load(txn, name)?;
        let conflict = |what| Error::DeleteConflict {
            entity: "group",
            name: group.name.clone(),
            what,
        };
        if !group.members.is_empty() {
            return Err(conflict("remove all users from group"));
        }
        if !group.policies.inline.is_empty() {
            return Err(conflict("delete policies"));
        }
        if !group.policies.attached.is_empty() {
            return Err(conflict("detach all policies"));
        }
        store::delete(txn, Table::Groups, &fold(&group.name))
    })?;
    Ok(None)
}

pub(super) fn list(iam: &Iam, req: &Request<'_>) -> Reply {
    let prefix = req.params.path_prefix()?;

    let groups: Vec<GroupRecord> = iam.store.read(|r| r.all(Table::Groups))?;
    let groups: Vec<_> = groups
        .into_iter()
        .filter(|g| g.path.starts_with(prefix))
        .collect();
    reply(|x| {
        x.full_list("Groups", &groups, |m, g| {
            render::group(m, &iam.account_id, g)
        });
    })
}

/// Adds the user to the group; adding a member again changes nothing.
pub(super) fn add_user(iam: &Iam, req: &Request<'_>) -> Reply {
    let group_name = req.params.entity("GroupName")?;
    let user_name = req.params.entity("UserName")?;

    iam.store.write(|txn| {
        let mut group: GroupRecord = records::load(txn, group_name)?;
        let user: UserRecord = records::load(txn, user_name)?;
        if group.members.contains(&user.name) {
            return Ok(());
        }
        if records::groups_of(txn, &user.name)?.len() >= MAX_GROUPS_PER_USER {
            return Err(Error::LimitExceeded {
                limit: format!("Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"),
            });
        }
        group.members.push(user.name);
        records::save(txn, &group)
    })?;
    Ok(None)
}

/// Removes the user from the group; a user not in it is `NoSuchEntity`.
pub(super) fn remove_user(iam: &Iam, req: &Request<'_>) -> Reply {
    let group_name = req.params.entity("GroupName")?;
    let user_name = req.params.entity("UserName")?;

    iam.store.write(|txn| {
        let mut group: GroupRecord = records::load(txn, group_name)?;
        let user: UserRecord = records::load(txn, user_name)?;
        let before = group.members.len();
        group.members.retain(|m| *m != user.name);
        if group.members.len() == before {
            return Err(Error::NoSuchEntity {
                entity: "group member",
                name: user.name,
            });
        }
        records::save(txn, &group)
    })?;
    Ok(None)
}

pub(super) fn list_for_user(iam: &Iam, req: &Request<'_>) -> Reply {
    let user_name = req.params.entity("UserName")?;

    let groups = iam.store.read(|r| {
        let user: UserRecord = records::load(r, user_name)?;
        records::groups_of(r, &user.name)
    })?;
    reply(|x| {
        x.full_list("Groups", &groups, |m, g| {
            render::group(m, &iam.account_id, g)
        });
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    #[test]
    fn create_get_list_delete() {
        let (_dir, iam) = open();
        let body = ok(
            &iam,
            "CreateGroup",
            &[("GroupName", "devs"), ("Path", "/eng/")],
        );
        assert_eq!(
            field(&body, "Arn"),
            "arn:aws:iam::123456789012:group/eng/devs"
        );
        assert!(field(&body, "GroupId").starts_with("AGPA"));
        assert_eq!(
            code(&iam, "CreateGroup", &[("GroupName", "DEVS")]),
            "EntityAlreadyExists"
        );
        assert_eq!(
            code(&iam, "CreateGroup", &[("GroupName", "")]),
            "ValidationError"
        );
        ok(&iam, "CreateGroup", &[("GroupName", "ops")]);

        let list = ok(&iam, "ListGroups", &[]);
        assert_eq!(list.matches("<member>").count(), 2);
        assert_eq!(
            ok(&iam, "ListGroups", &[("PathPrefix", "/eng/")])
                .matches("<member>")
                .count(),
            1
        );

        let got = ok(&iam, "GetGroup", &[("GroupName", "devs")]);
        assert_eq!(field(&got, "GroupName"), "devs");
        assert!(
            got.contains("<Users></Users><IsTruncated>false</IsTruncated>"),
            "{got}"
        );

        ok(&iam, "DeleteGroup", &[("GroupName", "devs")]);
        assert_eq!(
            code(&iam, "GetGroup", &[("GroupName", "devs")]),
            "NoSuchEntity"
        );
        assert_eq!(
            code(&iam, "DeleteGroup", &[("GroupName", "devs")]),
            "NoSuchEntity"
        );
    }

    #[test]
    fn membership() {
        let (_dir, iam) = open();
        ok(&iam, "CreateGroup", &[("GroupName", "devs")]);
        ok(&iam, "CreateUser", &[("UserName", "alice")]);
        let add = [("GroupName", "devs"), ("UserName", "alice")];
        ok(&iam, "AddUserToGroup", &add);
        ok(
            &iam,
            "AddUserToGroup",
            &[("GroupName", "DEVS"), ("UserName", "Alice")],
        );
        assert_eq!(
            code(
                &iam,
                "AddUserToGroup",
                &[("GroupName", "devs"), ("UserName", "bob")]
            ),
            "NoSuchEntity"
        );
        assert_eq!(
            code(
                &iam,
                "AddUserToGroup",
                &[("GroupName", "x"), ("UserName", "alice")]
            ),
            "NoSuchEntity"
        );

        let got = ok(&iam, "GetGroup", &[("GroupName", "devs")]);
        assert_eq!(field(&got, "Users").matches("<member>").count(), 1);
        assert_eq!(field(field(&got, "Users"), "UserName"), "alice");
        let groups = ok(&iam, "ListGroupsForUser", &[("UserName", "alice")]);
        assert_eq!(field(field(&groups, "Groups"), "GroupName"), "devs");

        assert_eq!(
            code(&iam, "DeleteGroup", &[("GroupName", "devs")]),
            "DeleteConflict"
        );
        ok(&iam, "RemoveUserFromGroup", &add);
        assert_eq!(code(&iam, "RemoveUserFromGroup", &add), "NoSuchEntity");
        assert!(!ok(&iam, "ListGroupsForUser", &[("UserName", "alice")]).contains("<member>"));
        ok(&iam, "DeleteGroup", &[("GroupName", "devs")]);
    }

    #[test]
    fn delete_conflicts_on_policies() {
        let (_dir, iam) = open();
        let group = [("GroupName", "g")];
        ok(&iam, "CreateGroup", &group);
        let d = doc("s3:*");
        ok(
            &iam,
            "PutGroupPolicy",
            &[
                ("GroupName", "g"),
                ("PolicyName", "p"),
                ("PolicyDocument", &d),
            ],
        );
        assert_eq!(code(&iam, "DeleteGroup", &group), "DeleteConflict");
        ok(
            &iam,
            "DeleteGroupPolicy",
            &[("GroupName", "g"), ("PolicyName", "p")],
        );

        let created = ok(
            &iam,
            "CreatePolicy",
            &[("PolicyName", "m"), ("PolicyDocument", &d)],
        );
        let arn = field(&created, "Arn").to_owned();
        ok(
            &iam,
            "AttachGroupPolicy",
            &[("GroupName", "g"), ("PolicyArn", &arn)],
        );
        assert_eq!(code(&iam, "DeleteGroup", &group), "DeleteConflict");
        ok(
            &iam,
            "DetachGroupPolicy",
            &[("GroupName", "g"), ("PolicyArn", &arn)],
        );
        ok(&iam, "DeleteGroup", &group);
    }
}
