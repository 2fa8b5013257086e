//! The authorization step of an S3 request: the questions it asks, in the order the path meets
//! them.
//!
//! [`authorize`] asks the routed operation's own question (action, resource and condition keys
//! from [`crate::authz::s3`]) against the principal's policies and the bucket's policy, before
//! any handler runs. Handlers ask the rest where they arise: a copy reads its source
//! ([`check_object`]), DeleteObjects asks per key, and every use of an object's master key
//! ([`use_key`]) needs the KMS permission on that key as AWS SSE-KMS does: `kms:GenerateDataKey`
//! to write, `kms:Decrypt` to read, with `kms:ViaService` set to S3. The root credentials are
//! allowed everything and load nothing.

use policy::Context;

use super::Call;
use super::route::Operation;
use crate::authz::{self, Ask, Named};
use crate::error::Error;
use crate::trail::{self, DraftExt as _};

/// Asks the routed operation's question, unless its handler asks per key.
pub async fn authorize(call: &Call<'_>) -> Result<(), Error> {
    let operation = call.route.operation;
    let resource = authz::s3::resource(&call.route);
    let action = authz::s3::action(operation);
    trail::note(|e| {
        e.action = action.to_owned();
        e.add_resource(&resource);
    });
    if authz::s3::checked_by_handler(operation) {
        return Ok(());
    }
    if call.grants.is_root() {
        return ask(call, action, &resource, None, call.grants.base_context());
    }
    let mut context = call.grants.context();
    authz::s3::fill_context(&mut context, &call.route, &call.parts.headers);
    let policy = match (&call.route.bucket, operation) {
        // CreateBucket: a bucket that does not exist yet has no policy.
        (Some(bucket), op) if op != Operation::CreateBucket => bucket_policy(call, bucket).await?,
        _ => None,
    };
    ask(call, action, &resource, policy.as_ref(), &context)
}

/// May the principal perform `action` on the object `bucket/key` (a copy's source, one key of a
/// DeleteObjects)? `policy` is that bucket's policy, from [`bucket_policy`].
pub fn check_object(
    call: &Call<'_>,
    action: &str,
    (bucket, key): (&str, &str),
    policy: Option<&Named>,
) -> Result<(), Error> {
    let resource = authz::s3::object_arn(bucket, key);
    trail::note(|e| e.add_resource(&resource));
    ask(call, action, &resource, policy, call.grants.base_context())
}

/// May the principal use the master key `key_arn` for `action` (`kms:Decrypt`,
/// `kms:GenerateDataKey`) on the object `bucket/key`? Notes the key on the audit event.
pub fn use_key(
    call: &Call<'_>,
    action: &str,
    key_arn: &str,
    (bucket, key): (&str, &str),
) -> Result<(), Error> {
    let key_id = key_arn.rsplit('/').next().unwrap_or(key_arn);
    trail::note(|e| {
        e.key_id = Some(key_id.to_owned());
        e.add_resource(key_arn);
    });
    if call.grants.is_root() {
        return Ok(());
    }
    let policy = call.app.authz.key_policy(key_id)?;
    let mut context = call.grants.context();
    context
        .set(
            "kms:ViaService",
            format!("s3.{}.amazonaws.com", call.app.region),
        )
        .set("kms:CallerAccount", call.app.authz.account_id())
        .set(
            "kms:EncryptionContext:aws:s3:arn",
            authz::s3::object_arn(bucket, key),
        );
    ask(call, action, key_arn, policy.as_ref(), &context)
}

/// The bucket's policy, if it has one. Root requests never need it.
pub async fn bucket_policy(call: &Call<'_>, bucket: &str) -> Result<Option<Named>, Error> {
    if call.grants.is_root() {
        return Ok(None);
    }
    let Some(document) = super::policy::read(call, bucket).await? else {
        return Ok(None);
    };
    let name = format!("bucket policy of {bucket}");
    Ok(Some(call.app.authz.parse(name, &document)?))
}

fn ask(
    call: &Call<'_>,
    action: &str,
    resource: &str,
    policy: Option<&Named>,
    context: &Context,
) -> Result<(), Error> {
    let ask = Ask {
        action,
        resource,
        policy,
        context,
    };
    call.grants.check(&ask).map_err(Error::from)
}
