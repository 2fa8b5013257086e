//! CAM / IAM-style JSON policies and their evaluation, for every S3, KMS and IAM request.
//!
//! [`Policy::parse`] reads a document in the IAM grammar (Version, Statement, Sid, Effect,
//! Action / NotAction, Resource / NotResource, Principal / NotPrincipal, Condition), refusing a
//! malformed one with a [`PolicyError`] that points at the problem. [`evaluate`] decides a
//! [`Request`] as IAM does: an explicit Deny wins, otherwise an Allow from an identity policy or
//! the resource's policy is needed, otherwise deny. The crate knows nothing of HTTP or storage:
//! the gateway maps its operations to actions, resources and condition keys ([`Context`]).

pub mod condition;
mod document;
mod evaluate;
pub mod wildcard;

pub use condition::{Condition, Context, Operator, SetQualifier};
pub use document::{Effect, Pattern, Patterns, Policy, Statement};
pub use evaluate::{Decider, Decision, Request, Source, Verdict, decide, evaluate};

/// Why a policy document was refused (IAM's `MalformedPolicyDocument`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document is not a policy; `reason` says where and why.
    #[error("malformed policy document: {reason}")]
    Malformed {
        /// What is wrong, and where.
        reason: String,
    },
}

impl PolicyError {
    /// The same error, placed inside `place` (such as `Statement 2`).
    pub(crate) fn at(self, place: &str) -> PolicyError {
        match self {
            PolicyError::Malformed { reason } => PolicyError::Malformed {
                reason: format!("{place}: {reason}"),
            },
        }
    }
}
