//! Bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy.
//!
//! A bucket's policy is kept as a record in the bucket (like its default encryption), so every
//! gateway process reads the same one; [`super::access`] evaluates it with the principal's own
//! policies on every request by a user. Documents are checked with the `policy` crate when put:
//! a malformed one is refused with `MalformedPolicy` and a message naming the problem.

use http::{Response, StatusCode};
use hyper::body::Incoming;

use super::Call;
use super::errors::{S3Error, S3ErrorCode};
use crate::error::Error;
use crate::server::{ResponseBody, empty, full};

/// The record holding a bucket's policy document, as put.
const POLICY_RECORD: &str = "config/policy";

/// S3's limit on a bucket policy: 20 KB.
const MAX_POLICY: u64 = 20 * 1024;

/// PutBucketPolicy.
pub async fn put(
    call: &Call<'_>,
    bucket: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let document = super::read_small_body(call, body, MAX_POLICY).await?;
    let text = std::str::from_utf8(&document).map_err(|_| malformed("not UTF-8 text"))?;
    check(text)?;
    call.app.backend.head_bucket(bucket).await?;

    super::bucket::write_config(call, bucket, POLICY_RECORD, document).await?;
    tracing::info!(bucket, "bucket policy set");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// A bucket policy must parse, and each statement must say whom it is about.
fn check(text: &str) -> Result<(), Error> {
    let parsed = policy::Policy::parse(text).map_err(|e| malformed(&e.to_string()))?;
    let without = parsed
        .statements
        .iter()
        .position(|s| s.principals.is_none());
    match without {
        Some(index) => Err(malformed(&format!(
            "Statement {}: missing required field Principal",
            index + 1
        ))),
        None => Ok(()),
    }
}

fn malformed(reason: &str) -> Error {
    S3Error::with_message(S3ErrorCode::MalformedPolicy, reason.to_owned()).into()
}

/// GetBucketPolicy: the document as put.
pub async fn get(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    let Some(document) = read(call, bucket).await? else {
        let error = S3Error::new(S3ErrorCode::NoSuchBucketPolicy).with("BucketName", bucket);
        return Err(error.into());
    };
    let mut response = full(StatusCode::OK, document);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// DeleteBucketPolicy.
pub async fn delete(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    call.app.records.delete(bucket, POLICY_RECORD).await?;
    tracing::info!(bucket, "bucket policy deleted");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The bucket's policy document, if it has one.
pub async fn read(call: &Call<'_>, bucket: &str) -> Result<Option<String>, Error> {
    let bytes = match super::bucket::read_config(call, bucket, POLICY_RECORD).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(None),
        // A request on a missing bucket fails with NoSuchBucket in its handler, if allowed.
        Err(Error::Backend(crate::backend::BackendError::NoSuchBucket { .. })) => return Ok(None),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::corrupt(bucket, POLICY_RECORD, "not UTF-8"))?;
    Ok(Some(text))
}
