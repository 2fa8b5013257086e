//! Evaluation as IAM does it: an explicit Deny in any policy wins; otherwise an Allow from the
//! principal's identity policies or from the resource's policy is needed; otherwise deny.

use crate::condition::Context;
use crate::document::{Effect, Patterns, Policy, Statement};
use crate::wildcard;

/// What is asked: who, which action, on what, with which condition keys.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The principal's ARN (`arn:aws:iam::ACCOUNT:user/NAME`).
    pub principal: &'a str,
    /// The action, such as `s3:GetObject`.
    pub action: &'a str,
    /// The resource ARN, such as `arn:aws:s3:::photos/cat.jpg`.
    pub resource: &'a str,
    /// The request's condition keys; also the values of policy variables (`${aws:username}`).
    pub context: &'a Context,
}

/// The outcome of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Some statement allows it and none denies it.
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may go on.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// Evaluates `request` against the principal's identity policies and the resource's policy.
///
/// ```
/// use policy::{Context, Decision, Policy, Request, evaluate};
/// let allow = Policy::parse(r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow",
///     "Action": "s3:*", "Resource": "arn:aws:s3:::home/${aws:username}/*"}}"#)?;
/// let mut context = Context::new();
/// context.set("aws:username", "alice");
/// let ask = |resource| Request {
///     principal: "arn:aws:iam::000000000000:user/alice",
///     action: "s3:GetObject",
///     resource,
///     context: &context,
/// };
/// assert_eq!(evaluate(&[&allow], None, &ask("arn:aws:s3:::home/alice/a")), Decision::Allow);
/// assert_eq!(evaluate(&[&allow], None, &ask("arn:aws:s3:::home/bob/a")), Decision::ImplicitDeny);
/// # Ok::<(), policy::PolicyError>(())
/// ```
pub fn evaluate(
    identity: &[&Policy],
    resource: Option<&Policy>,
    request: &Request<'_>,
) -> Decision {
    let identity_effects = identity
        .iter()
        .flat_map(|p| p.statements.iter().map(move |s| (*p, s)))
        .filter(|(p, s)| statement_applies(p, s, request, false))
        .map(|(_, s)| s.effect);
    let resource_effects = resource
        .into_iter()
        .flat_map(|p| p.statements.iter().map(move |s| (p, s)))
        .filter(|(p, s)| statement_applies(p, s, request, true))
        .map(|(_, s)| s.effect);
    let effects: Vec<Effect> = identity_effects.chain(resource_effects).collect();
    if effects.contains(&Effect::Deny) {
        Decision::ExplicitDeny
    } else if effects.contains(&Effect::Allow) {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

fn statement_applies(
    policy: &Policy,
    statement: &Statement,
    request: &Request<'_>,
    resource_policy: bool,
) -> bool {
    let expand = |text: &str| expand_variables(policy, text, request.context);
    let action = patterns_match(&statement.actions, request.action, true, &|v| v.to_owned());
    let resource = match &statement.resources {
        Some(resources) => patterns_match(resources, request.resource, false, &expand),
        // A resource policy's statements are about the resource they are attached to.
        None => resource_policy,
    };
    let principal = match (&statement.principals, resource_policy) {
        (Some(principals), true) => patterns_match(principals, request.principal, false, &expand),
        (None, true) => false,
        (_, false) => true,
    };
    action
        && resource
        && principal
        && statement
            .conditions
            .iter()
            .all(|c| c.holds(request.context, &expand))
}

fn patterns_match(
    patterns: &Patterns,
    text: &str,
    ignore_case: bool,
    expand: &dyn Fn(&str) -> String,
) -> bool {
    let any = |list: &[String]| {
        list.iter()
            .any(|p| wildcard::matches(&expand(p), text, ignore_case))
    };
    match patterns {
        Patterns::Any(list) => any(list),
        Patterns::Not(list) => !any(list),
    }
}

/// Replaces `${key}` with the context's value of `key` (and `${*}`, `${?}`, `${$}` with the
/// literal characters), under Version 2012-10-17 only, as IAM does. A variable the request
/// has no value for stays as it is, so it matches nothing but itself.
fn expand_variables(policy: &Policy, text: &str, context: &Context) -> String {
    if policy.version != "2012-10-17" || !text.contains("${") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = after.find('}') else {
            out.push_str(after);
            return out;
        };
        let name = after.get(2..end).unwrap_or_default();
        match name {
            "*" | "?" | "$" => out.push_str(name),
            _ => match context.get(name).and_then(|v| v.first()) {
                Some(value) => out.push_str(value),
                None => out.push_str(after.get(..=end).unwrap_or_default()),
            },
        }
        rest = after.get(end + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "arn:aws:iam::000000000000:user/alice";

    fn policy(json: &str) -> Policy {
        Policy::parse(json).unwrap()
    }

    fn ask<'a>(action: &'a str, resource: &'a str, context: &'a Context) -> Request<'a> {
        Request {
            principal: ALICE,
            action,
            resource,
            context,
        }
    }

    #[test]
    fn explicit_deny_wins_and_nothing_else_is_allowed() {
        let allow = policy(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#);
        let deny = policy(
            r#"{"Statement":{"Effect":"Deny","Action":"s3:DeleteObject",
                "Resource":"arn:aws:s3:::photos/*"}}"#,
        );
        let ctx = Context::new();
        let get = ask("s3:GetObject", "arn:aws:s3:::photos/a", &ctx);
        let delete = ask("s3:DeleteObject", "arn:aws:s3:::photos/a", &ctx);
        assert_eq!(evaluate(&[&allow, &deny], None, &get), Decision::Allow);
        assert_eq!(
            evaluate(&[&allow, &deny], None, &delete),
            Decision::ExplicitDeny
        );
        assert_eq!(evaluate(&[], None, &get), Decision::ImplicitDeny);
        let kms = ask("kms:Decrypt", "arn:aws:kms:us-east-1:0:key/k", &ctx);
        assert_eq!(evaluate(&[&allow], None, &kms), Decision::ImplicitDeny);
    }

    #[test]
    fn resource_policies_name_their_principals() {
        let bucket = policy(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},
                 "Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"},
                {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::shared/*",
                 "Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#,
        );
        let mut plain = Context::new();
        plain.set("aws:SecureTransport", "false");
        let mut tls = Context::new();
        tls.set("aws:SecureTransport", "true");
        let resource = "arn:aws:s3:::shared/doc";
        let over_tls = ask("s3:GetObject", resource, &tls);
        assert_eq!(evaluate(&[], Some(&bucket), &over_tls), Decision::Allow);
        let over_http = ask("s3:GetObject", resource, &plain);
        assert_eq!(
            evaluate(&[], Some(&bucket), &over_http),
            Decision::ExplicitDeny
        );
        let bob = Request {
            principal: "arn:aws:iam::000000000000:user/bob",
            ..over_tls
        };
        assert_eq!(evaluate(&[], Some(&bucket), &bob), Decision::ImplicitDeny);
    }

    #[test]
    fn not_action_and_not_resource() {
        let p = policy(
            r#"{"Statement":{"Effect":"Allow","NotAction":"iam:*",
                "NotResource":"arn:aws:s3:::secret/*"}}"#,
        );
        let ctx = Context::new();
        let ok = ask("s3:GetObject", "arn:aws:s3:::open/a", &ctx);
        assert_eq!(evaluate(&[&p], None, &ok), Decision::Allow);
        let secret = ask("s3:GetObject", "arn:aws:s3:::secret/a", &ctx);
        assert_eq!(evaluate(&[&p], None, &secret), Decision::ImplicitDeny);
        let iam = ask("iam:CreateUser", "arn:aws:s3:::open/a", &ctx);
        assert_eq!(evaluate(&[&p], None, &iam), Decision::ImplicitDeny);
    }

    #[test]
    fn variables_expand_only_in_2012_10_17() {
        let mut ctx = Context::new();
        ctx.set("aws:username", "alice");
        let old = policy(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*",
                "Resource":"arn:aws:s3:::home/${aws:username}/*"}}"#,
        );
        let request = ask("s3:GetObject", "arn:aws:s3:::home/alice/a", &ctx);
        assert_eq!(evaluate(&[&old], None, &request), Decision::ImplicitDeny);
        let p = Policy {
            version: "2012-10-17".into(),
            ..old
        };
        assert_eq!(evaluate(&[&p], None, &request), Decision::Allow);
        assert_eq!(
            expand_variables(&p, "a${*}b${unknown}c", &ctx),
            "a*b${unknown}c"
        );
    }
}
