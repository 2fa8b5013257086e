//! What a call asks to do, for the gateway's authorization step (before [`Iam::call`]).
//!
//! [`Iam::call`]: crate::Iam::call

use crate::ids;
use crate::params::Params;

/// The action name of a call for authorization: `"iam:" + Action`, and the resource ARN it acts
/// on (the user / group / policy ARN named by the params, or `"*"` when none).
///
/// The group wins over the user (`AddUserToGroup` acts on the group), the user over the policy
/// (`AttachUserPolicy` acts on the user). Without the store, a user's or group's path is only
/// known from the `Path` parameter (calls that create it); otherwise the ARN has path `/`. A
/// call that names no one (`GetUser` or `CreateAccessKey` for the caller) gets `"*"`.
///
/// ```
/// let params = [("Action", "AttachUserPolicy"), ("UserName", "alice"),
///     ("PolicyArn", "arn:aws:iam::123456789012:policy/ro")]
///     .map(|(k, v)| (k.to_owned(), v.to_owned()));
/// let (action, resource) = iam::action_and_resource("123456789012", &params);
/// assert_eq!(action, "iam:AttachUserPolicy");
/// assert_eq!(resource, "arn:aws:iam::123456789012:user/alice");
/// ```
pub fn action_and_resource(account_id: &str, params: &[(String, String)]) -> (String, String) {
    let params = Params(params);
    let action = format!("iam:{}", params.get("Action").unwrap_or_default());
    (action, resource(account_id, params))
}

fn resource(account_id: &str, params: Params<'_>) -> String {
    let path = params.get("Path").unwrap_or("/");
    if let Some(group) = params.get("GroupName") {
        return ids::arn(account_id, "group", path, group);
    }
    if let Some(user) = params.get("UserName") {
        return ids::arn(account_id, "user", path, user);
    }
    if let Some(arn) = params.get("PolicyArn") {
        return arn.to_owned();
    }
    match params.get("PolicyName") {
        Some(policy) => ids::arn(account_id, "policy", path, policy),
        None => "*".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::pairs;

    fn resource_of(params: &[(&str, &str)]) -> (String, String) {
        action_and_resource("111122223333", &pairs(params))
    }

    #[test]
    fn names_the_resource_acted_on() {
        let acct = "arn:aws:iam::111122223333";
        let cases: &[(&[(&str, &str)], String)] = &[
            (&[("Action", "ListUsers")], "*".into()),
            (
                &[("Action", "CreateUser"), ("UserName", "a"), ("Path", "/x/")],
                format!("{acct}:user/x/a"),
            ),
            (
                &[
                    ("Action", "AddUserToGroup"),
                    ("UserName", "a"),
                    ("GroupName", "g"),
                ],
                format!("{acct}:group/g"),
            ),
            (
                &[("Action", "DeletePolicy"), ("PolicyArn", "arn:p")],
                "arn:p".into(),
            ),
            (
                &[("Action", "CreatePolicy"), ("PolicyName", "p")],
                format!("{acct}:policy/p"),
            ),
            (
                &[
                    ("Action", "PutUserPolicy"),
                    ("UserName", "a"),
                    ("PolicyName", "p"),
                ],
                format!("{acct}:user/a"),
            ),
        ];
        for (params, want) in cases {
            let (action, resource) = resource_of(params);
            assert_eq!(&resource, want, "{params:?}");
            assert!(action.starts_with("iam:"));
        }
        assert_eq!(resource_of(&[]).0, "iam:");
    }
}
