//! The XML of each entity, as IAM's responses show it.

use crate::ids::{self, iso8601};
use crate::records::{AccessKeyRecord, GroupRecord, PolicyRecord, UserRecord};
use crate::xml::Xml;

/// The members of a `User` element.
pub(crate) fn user(x: &mut Xml, account_id: &str, user: &UserRecord) {
    x.text("Path", &user.path)
        .text("UserName", &user.name)
        .text("UserId", &user.id)
        .text("Arn", &ids::arn(account_id, "user", &user.path, &user.name))
        .text("CreateDate", &iso8601(user.created));
}

/// The members of a `Group` element.
pub(crate) fn group(x: &mut Xml, account_id: &str, group: &GroupRecord) {
    x.text("Path", &group.path)
        .text("GroupName", &group.name)
        .text("GroupId", &group.id)
        .text(
            "Arn",
            &ids::arn(account_id, "group", &group.path, &group.name),
        )
        .text("CreateDate", &iso8601(group.created));
}

/// The members of a `Policy` element. `ListPolicies` leaves the description out, as AWS does.
pub(crate) fn policy(
    x: &mut Xml,
    account_id: &str,
    policy: &PolicyRecord,
    attachments: usize,
    with_description: bool,
) {
    x.text("PolicyName", &policy.name)
        .text("PolicyId", &policy.id)
        .text(
            "Arn",
            &ids::arn(account_id, "policy", &policy.path, &policy.name),
        )
        .text("Path", &policy.path)
        .text("DefaultVersionId", "v1")
        .text("AttachmentCount", &attachments.to_string())
        .text("PermissionsBoundaryUsageCount", "0")
        .text("IsAttachable", "true");
    if with_description && !policy.description.is_empty() {
        x.text("Description", &policy.description);
    }
    x.text("CreateDate", &iso8601(policy.created))
        .text("UpdateDate", &iso8601(policy.updated));
}

/// The members of an `AccessKeyMetadata` member (no secret).
pub(crate) fn key_metadata(x: &mut Xml, key: &AccessKeyRecord) {
    x.text("UserName", &key.user)
        .text("AccessKeyId", &key.id)
        .text("Status", status(key.active))
        .text("CreateDate", &iso8601(key.created));
}

/// `Active` or `Inactive`.
pub(crate) fn status(active: bool) -> &'static str {
    if active { "Active" } else { "Inactive" }
}
