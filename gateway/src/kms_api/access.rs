//! The authorization step of a KMS request: each question of the operation
//! ([`crate::authz::kms::asks`]) about the master key it names, with that key's policy and the
//! `kms:EncryptionContext:...` condition keys. A key that does not resolve is asked about by the
//! name given and without a policy: for anyone but root that is a denial, so a caller learns
//! nothing about keys it may not use; the root goes on to the operation's own NotFound.

use serde_json::Value;

use super::KmsError;
use crate::authz::kms::{KmsAsk, Target};
use crate::authz::{self, Ask, Grants, Named};
use crate::server::App;
use crate::trail::{self, DraftExt as _};

/// Asks every question of `operation` with its parsed `body`.
pub fn authorize(
    app: &App,
    grants: &Grants,
    operation: &str,
    body: &Value,
) -> Result<(), KmsError> {
    let mut context = grants.context();
    authz::kms::fill_context(&mut context, operation, body);
    context.set("kms:CallerAccount", app.authz.account_id());
    for question in authz::kms::asks(operation, body) {
        let Some((resource, policy)) = resolve(app, grants, &question)? else {
            continue;
        };
        trail::note(|e| e.add_resource(&resource));
        let ask = Ask {
            action: &question.action,
            resource: &resource,
            policy: policy.as_ref(),
            context: &context,
        };
        grants.check(&ask).map_err(|_| denied())?;
    }
    Ok(())
}

/// The ARN and key policy a question is about; `None` when the operation will refuse the call
/// by itself (a blob that names no key of ours).
fn resolve(
    app: &App,
    grants: &Grants,
    question: &KmsAsk,
) -> Result<Option<(String, Option<Named>)>, KmsError> {
    let kms = app.keys.kms();
    let key_id = match &question.target {
        Target::Any => return Ok(Some(("*".to_owned(), None))),
        Target::Unreadable => return Ok(None),
        Target::Blob(blob) => match kms.blob_key(blob) {
            Ok((key_id, version)) => {
                trail::note(|e| e.key_version = Some(version));
                key_id
            }
            Err(_) => return Ok(None),
        },
        Target::Key(key_ref) => match kms.key_id(key_ref) {
            Ok(key_id) => key_id,
            Err(_) => return Ok(Some((unresolved_arn(app, key_ref), None))),
        },
    };
    trail::note(|e| e.key_id = Some(key_id.clone()));
    let policy = match grants.is_root() {
        true => None,
        false => app.authz.key_policy(&key_id).map_err(internal)?,
    };
    Ok(Some((kms.key_arn(&key_id), policy)))
}

/// The ARN a key reference would have, for a key that does not exist.
fn unresolved_arn(app: &App, key_ref: &str) -> String {
    let kms = app.keys.kms();
    if key_ref.starts_with("arn:") {
        key_ref.to_owned()
    } else if key_ref.starts_with("alias/") {
        kms.alias_arn(key_ref)
    } else {
        kms.key_arn(key_ref)
    }
}

/// KMS's refusal; which statement decided is on the audit trail, not in the message.
pub fn denied() -> KmsError {
    KmsError::new(
        "AccessDeniedException",
        "The caller is not authorized to perform this operation.",
    )
}

pub(super) fn internal(error: authz::AuthzError) -> KmsError {
    tracing::error!(error = %error, "kms request not authorized: policies unreadable");
    KmsError::new("KMSInternalException", "An internal error occurred")
}

/// A key policy given to CreateKey or PutKeyPolicy must parse.
pub fn check_policy(document: &str) -> Result<(), KmsError> {
    match policy::Policy::parse(document) {
        Ok(_) => Ok(()),
        Err(error) => Err(KmsError::new(
            "MalformedPolicyDocumentException",
            &error.to_string(),
        )),
    }
}
