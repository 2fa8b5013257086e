//! Evaluation as IAM does it: an explicit Deny in any policy wins; otherwise an Allow from the
//! principal's identity policies or from the resource's policy is needed; otherwise deny.

use std::borrow::Cow;

use crate::condition::{Context, Expand};
use crate::document::{Effect, Pattern, Patterns, Policy, Statement};
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

/// Which statement decided an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The outcome.
    pub decision: Decision,
    /// The first denying statement for [`Decision::ExplicitDeny`], the first allowing one for
    /// [`Decision::Allow`], `None` for [`Decision::ImplicitDeny`].
    pub by: Option<Decider>,
}

/// A statement that decided: which policy it is in, and where in that policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decider {
    /// The policy the statement is in.
    pub source: Source,
    /// The statement's index in that policy's `Statement` list (from 0).
    pub statement: usize,
}

/// Which of the evaluated policies a [`Decider`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The identity policy at this index of the `identity` slice.
    Identity(usize),
    /// The resource's policy.
    Resource,
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
    decide(identity, resource, request).decision
}

/// Evaluates `request` as [`evaluate`] does, and says which statement decided.
///
/// Identity policies are scanned in order, then the resource's policy. The first statement that
/// applies and denies decides at once; otherwise the first that applies and allows does.
///
/// ```
/// use policy::{Context, Decider, Decision, Policy, Request, Source, decide};
/// let allow = Policy::parse(r#"{"Statement": {"Effect": "Allow", "Action": "s3:*",
///     "Resource": "*"}}"#)?;
/// let deny = Policy::parse(r#"{"Statement": [
///     {"Effect": "Deny", "Action": "kms:*", "Resource": "*"},
///     {"Sid": "NoDeletes", "Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}]}"#)?;
/// let context = Context::new();
/// let ask = |action| Request {
///     principal: "arn:aws:iam::000000000000:user/alice",
///     action,
///     resource: "arn:aws:s3:::photos/cat.jpg",
///     context: &context,
/// };
/// let verdict = decide(&[&allow, &deny], None, &ask("s3:DeleteObject"));
/// assert_eq!(verdict.decision, Decision::ExplicitDeny);
/// let by = verdict.by.expect("a statement denied");
/// assert_eq!(by, Decider { source: Source::Identity(1), statement: 1 });
/// assert_eq!(deny.statements[by.statement].sid.as_deref(), Some("NoDeletes"));
/// let verdict = decide(&[&allow, &deny], None, &ask("s3:GetObject"));
/// assert_eq!(verdict.by, Some(Decider { source: Source::Identity(0), statement: 0 }));
/// assert_eq!(decide(&[&deny], None, &ask("s3:GetObject")).by, None);
/// # Ok::<(), policy::PolicyError>(())
/// ```
pub fn decide(identity: &[&Policy], resource: Option<&Policy>, request: &Request<'_>) -> Verdict {
    let identity = identity
        .iter()
        .enumerate()
        .map(|(i, p)| (Source::Identity(i), *p));
    let policies = identity.chain(resource.map(|p| (Source::Resource, p)));
    let mut allowed_by = None;
    for (source, policy) in policies {
        for (index, statement) in policy.statements.iter().enumerate() {
            // Once something allows, only a Deny can still change the outcome.
            if allowed_by.is_some() && statement.effect == Effect::Allow {
                continue;
            }
            if !statement_applies(policy, statement, request, source == Source::Resource) {
                continue;
            }
            let by = Some(Decider {
                source,
                statement: index,
            });
            match statement.effect {
                Effect::Deny => {
                    return Verdict {
                        decision: Decision::ExplicitDeny,
                        by,
                    };
                }
                Effect::Allow => allowed_by = by,
            }
        }
    }
    let decision = match allowed_by {
        Some(_) => Decision::Allow,
        None => Decision::ImplicitDeny,
    };
    Verdict {
        decision,
        by: allowed_by,
    }
}

/// Whether `statement` matches the request: action, resource, principal (in a resource policy)
/// and every condition, checked in that order and no further than the first that fails.
fn statement_applies(
    policy: &Policy,
    statement: &Statement,
    request: &Request<'_>,
    resource_policy: bool,
) -> bool {
    let expand: &Expand<'_> = &|text| expand_variables(policy, text, request.context);
    let resource = || match &statement.resources {
        Some(resources) => patterns_match(resources, request.resource, false, expand),
        // A resource policy's statements are about the resource they are attached to.
        None => resource_policy,
    };
    let principal = || match (&statement.principals, resource_policy) {
        (Some(principals), true) => patterns_match(principals, request.principal, false, expand),
        (None, true) => false,
        (_, false) => true,
    };
    // Actions hold no policy variables.
    let verbatim: &Expand<'_> = &|text| Cow::Borrowed(text);
    patterns_match(&statement.actions, request.action, true, verbatim)
        && resource()
        && principal()
        && statement
            .conditions
            .iter()
            .all(|c| c.holds_expanding(request.context, expand))
}

fn patterns_match(patterns: &Patterns, text: &str, ignore_case: bool, expand: &Expand<'_>) -> bool {
    let any = |list: &[Pattern]| {
        list.iter()
            .any(|p| pattern_matches(p, text, ignore_case, expand))
    };
    match patterns {
        Patterns::Any(list) => any(list),
        Patterns::Not(list) => !any(list),
    }
}

/// Matches one pattern: first its literal head, which any match must start with whatever its
/// variables hold, then the rest.
fn pattern_matches(pattern: &Pattern, text: &str, ignore_case: bool, expand: &Expand<'_>) -> bool {
    let whole = pattern.as_str();
    let (Some(head), Some(start)) = (
        whole.as_bytes().get(..pattern.head),
        text.as_bytes().get(..pattern.head),
    ) else {
        return false;
    };
    let head_matches = if ignore_case {
        head.eq_ignore_ascii_case(start)
    } else {
        head == start
    };
    if !head_matches {
        return false;
    }
    if pattern.has_variable() {
        return wildcard::matches(&expand(whole), text, ignore_case);
    }
    // The head ends before an ASCII byte of the pattern, and the text repeats it byte for byte
    // outside ASCII letters, so both cuts fall on character boundaries.
    match (whole.get(pattern.head..), text.get(pattern.head..)) {
        (Some(rest), Some(text_rest)) => wildcard::matches(rest, text_rest, ignore_case),
        _ => wildcard::matches(whole, text, ignore_case),
    }
}

/// Whether `text` holds a policy variable (`${`).
pub(crate) fn has_variable(text: &str) -> bool {
    // Searching for a `char` is a fast `memchr`; `$` is rare outside variables.
    text.match_indices('$')
        .any(|(at, _)| text.as_bytes().get(at + 1) == Some(&b'{'))
}

/// Replaces `${key}` with the context's value of `key` (and `${*}`, `${?}`, `${$}` with the
/// literal characters), under Version 2012-10-17 only, as IAM does. A variable the request
/// has no value for stays as it is, so it matches nothing but itself.
fn expand_variables<'t>(policy: &Policy, text: &'t str, context: &Context) -> Cow<'t, str> {
    if policy.version != "2012-10-17" || !has_variable(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = after.find('}') else {
            out.push_str(after);
            return Cow::Owned(out);
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
    Cow::Owned(out)
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
