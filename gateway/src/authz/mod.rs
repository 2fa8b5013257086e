//! Authorization: the third step of the request path, after authentication and before the
//! operation runs.
//!
//! Takes who signed ([`crate::auth::Authenticated`]), loads that principal's identity policies
//! once per request into [`Grants`], and answers each question the request asks: may it perform
//! this action on this resource, given the resource's own policy (a bucket policy, a key policy)
//! and the request's condition keys. The rules are IAM's ([`policy::decide`]): the root
//! credentials may do everything; otherwise an explicit Deny anywhere wins, else an Allow from an
//! identity policy or the resource policy is needed. Every answer is noted on the request's audit
//! event; a denial becomes `AccessDenied` with a fixed message, its reason going to the audit
//! trail and the debug log only. [`s3`] and [`kms`] map each operation to its action, resource
//! and condition keys.

mod cache;
pub mod kms;
pub mod s3;

use std::net::IpAddr;
use std::sync::Arc;

use policy::{Context, Decision, Policy, Request, Source};

use audit::Decision::{Allow, Deny};

use crate::auth::{Authenticated, Principal};
use crate::trail::{self, DraftExt as _};

pub use cache::PolicyCache;

/// The identity store the authorizer reads users' policies from.
pub type Identities = iam::Iam;

/// Decides requests; shared by all connections. Keeps only a cache of parsed documents, keyed by
/// their text, so it never disagrees with the stores.
pub struct Authorizer {
    identities: Arc<Identities>,
    kms: Arc<kms_core::Kms>,
    cache: PolicyCache,
    account_id: String,
}

/// A policy and the name the audit trail knows it by.
#[derive(Clone)]
pub struct Named {
    /// `user/alice/ReadOnly`, a managed policy's ARN, `bucket policy of photos`, ...
    pub name: String,
    /// The parsed document.
    pub policy: Arc<Policy>,
}

/// What one request's principal may do: its identity policies and the request-wide condition
/// keys, loaded once.
pub struct Grants {
    principal: Principal,
    arn: String,
    identity: Vec<Named>,
    base: Context,
}

/// One question: may the principal perform `action` on `resource`?
pub struct Ask<'a> {
    /// The action, such as `s3:GetObject`.
    pub action: &'a str,
    /// The resource's ARN.
    pub resource: &'a str,
    /// The resource's own policy, if it has one.
    pub policy: Option<&'a Named>,
    /// The request's condition keys for this question ([`Grants::context`] and more).
    pub context: &'a Context,
}

/// A refusal: what was asked, and why (for the audit trail and the debug log, never the client).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} on {resource} denied: {reason}")]
pub struct Denied {
    /// The action refused.
    pub action: String,
    /// The resource it was refused on.
    pub resource: String,
    /// An explicit deny (and which statement), or that nothing allowed it.
    pub reason: String,
}

/// Why the authorizer could not decide: a store or a stored document failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("identity store: {0}")]
    Identities(#[from] iam::Error),
    #[error("key store: {0}")]
    Kms(#[from] kms_core::Error),
    #[error("stored policy {name} does not parse: {source}")]
    StoredPolicy {
        name: String,
        #[source]
        source: policy::PolicyError,
    },
}

/// Where a request came from, for `aws:SourceIp` and the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl Authorizer {
    /// An authorizer reading users' policies from `identities` and key policies from `kms`.
    pub fn new(identities: Arc<Identities>, kms: Arc<kms_core::Kms>, account_id: &str) -> Self {
        Authorizer {
            identities,
            kms,
            cache: PolicyCache::default(),
            account_id: account_id.to_owned(),
        }
    }

    /// The account id of Sealgate's ARNs.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The identity store.
    pub fn identities(&self) -> &Arc<Identities> {
        &self.identities
    }

    /// The grants of the principal that signed, with the request-wide condition keys.
    pub fn grants(
        &self,
        who: &Authenticated,
        source: Option<IpAddr>,
        user_agent: Option<&str>,
    ) -> Result<Grants, AuthzError> {
        let arn = principal_arn(&who.principal, &self.account_id);
        let (identity, base) = match &who.principal {
            // The root's requests are never evaluated: no policies to load, no keys to fill.
            Principal::Root => (Vec::new(), Context::new()),
            Principal::User { name, .. } => (
                self.identity_policies(name)?,
                base_context(who, &arn, source, user_agent),
            ),
        };
        Ok(Grants {
            principal: who.principal.clone(),
            arn,
            identity,
            base,
        })
    }

    fn identity_policies(&self, user: &str) -> Result<Vec<Named>, AuthzError> {
        let stored = self.identities.policies_of(user)?;
        let parsed = stored.into_iter().map(|p| self.parse(p.name, &p.document));
        parsed.collect()
    }

    /// A stored document, parsed (once per distinct text).
    pub fn parse(&self, name: String, document: &str) -> Result<Named, AuthzError> {
        match self.cache.get_or_parse(document) {
            Ok(policy) => Ok(Named { name, policy }),
            Err(source) => Err(AuthzError::StoredPolicy { name, source }),
        }
    }

    /// The key policy of a master key, if it has one. A key created without one has none: its
    /// use is then decided by identity policies alone.
    pub fn key_policy(&self, key_id: &str) -> Result<Option<Named>, AuthzError> {
        let Some(document) = self.kms.get_key_policy(key_id)? else {
            return Ok(None);
        };
        if is_empty_document(&document) {
            return Ok(None);
        }
        self.parse(format!("key policy of {key_id}"), &document)
            .map(Some)
    }
}

/// Keys stored before policies were enforced may carry `{}`: no statements, no policy.
fn is_empty_document(document: &str) -> bool {
    document.trim() == "{}"
}

/// The ARN policies name a principal by.
pub fn principal_arn(principal: &Principal, account_id: &str) -> String {
    match principal {
        Principal::Root => format!("arn:aws:iam::{account_id}:root"),
        Principal::User { arn, .. } => arn.clone(),
    }
}

fn base_context(
    who: &Authenticated,
    arn: &str,
    source: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Context {
    let now = time::OffsetDateTime::now_utc();
    let mut context = Context::new();
    context
        .set("aws:SecureTransport", "false")
        .set("aws:CurrentTime", rfc3339(now))
        .set("aws:EpochTime", now.unix_timestamp().to_string())
        .set("aws:PrincipalArn", arn)
        .set("aws:PrincipalAccount", account_of(arn));
    if let Some(ip) = source {
        context.set("aws:SourceIp", ip.to_string());
    }
    if let Some(agent) = user_agent {
        context.set("aws:UserAgent", agent);
    }
    match &who.principal {
        Principal::Root => context.set("aws:PrincipalType", "Account"),
        Principal::User { name, id, .. } => context
            .set("aws:PrincipalType", "User")
            .set("aws:username", name.as_str())
            .set("aws:userid", id.as_str()),
    };
    context
}

/// The account id inside an IAM ARN (`arn:aws:iam::ACCOUNT:...`).
fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

impl Grants {
    /// The request-wide condition keys, to add a question's own keys to.
    pub fn context(&self) -> Context {
        self.base.clone()
    }

    /// The request-wide condition keys.
    pub fn base_context(&self) -> &Context {
        &self.base
    }

    /// Whether the root credentials signed: they are allowed everything, and nothing needs to
    /// be loaded to decide for them.
    pub fn is_root(&self) -> bool {
        self.principal == Principal::Root
    }

    /// The principal's ARN.
    pub fn principal_arn(&self) -> &str {
        &self.arn
    }

    /// Decides one question and notes the answer on the request's audit event.
    pub fn check(&self, ask: &Ask<'_>) -> Result<(), Denied> {
        if self.is_root() {
            trail::note(|e| e.decide(Allow, Some("root credentials".to_owned()), None));
            return Ok(());
        }
        let identity: Vec<&Policy> = self.identity.iter().map(|n| n.policy.as_ref()).collect();
        let request = Request {
            principal: &self.arn,
            action: ask.action,
            resource: ask.resource,
            context: ask.context,
        };
        let verdict = policy::decide(&identity, ask.policy.map(|n| n.policy.as_ref()), &request);
        let by = verdict.by.map(|d| self.describe(d, ask.policy));
        match verdict.decision {
            Decision::Allow => {
                trail::note(|e| e.decide(Allow, by, None));
                Ok(())
            }
            decision => {
                let reason = match (decision, &by) {
                    (Decision::ExplicitDeny, Some(by)) => format!("explicitly denied by {by}"),
                    _ => "no statement allows it".to_owned(),
                };
                tracing::debug!(action = ask.action, resource = ask.resource, %reason, "denied");
                trail::note(|e| e.decide(Deny, by.clone(), Some(reason.clone())));
                Err(Denied {
                    action: ask.action.to_owned(),
                    resource: ask.resource.to_owned(),
                    reason,
                })
            }
        }
    }

    /// `policy name / statement Sid` (or `#index` when it has no Sid).
    fn describe(&self, decider: policy::Decider, resource: Option<&Named>) -> String {
        let named = match decider.source {
            Source::Identity(i) => self.identity.get(i),
            Source::Resource => resource,
        };
        let Some(named) = named else {
            return "an unknown policy".to_owned();
        };
        let statement = named.policy.statements.get(decider.statement);
        match statement.and_then(|s| s.sid.as_deref()) {
            Some(sid) => format!("{} / {sid}", named.name),
            None => format!("{} / statement #{}", named.name, decider.statement + 1),
        }
    }
}

/// A time as RFC 3339 with seconds, as `aws:CurrentTime` carries it.
fn rfc3339(time: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}
