//! Bucket handlers: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation, and
//! the bucket's default encryption (Put/Get/DeleteBucketEncryption).
//!
//! A Sealgate bucket is the backend bucket of the same name (a folder, or a bucket on the S3
//! backend); these calls pass through to the backend with S3's rules and errors.

use http::{Response, StatusCode};
use hyper::body::Incoming;

use super::Call;
use super::errors::{S3Error, S3ErrorCode};
use super::sse::{Sse, SseRequest};
use super::xml;
use crate::error::Error;
use crate::server::{ResponseBody, empty, full};

/// The largest CreateBucketConfiguration body we read.
const MAX_CONFIGURATION_BODY: u64 = 64 * 1024;

/// ListBuckets.
pub async fn list(call: &Call<'_>) -> Result<Response<ResponseBody>, Error> {
    let buckets: Vec<xml::BucketEntry> = call
        .app
        .backend
        .list_buckets()
        .await?
        .into_iter()
        .map(|bucket| xml::BucketEntry {
            name: bucket.name,
            creation_date: bucket.created.into(),
        })
        .collect();
    Ok(xml_response(xml::list_all_my_buckets(
        &call.owner(),
        &buckets,
    )))
}

/// CreateBucket: one owner for every bucket, so an existing bucket is always ours.
pub async fn create(
    call: &Call<'_>,
    bucket: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let configuration = super::read_small_body(call, body, MAX_CONFIGURATION_BODY).await?;
    if let Some(configuration) = xml::parse_create_bucket_configuration(&configuration)? {
        check_location(call, configuration.location_constraint.as_deref())?;
    }
    match call.app.backend.create_bucket(bucket).await {
        Ok(()) => {}
        Err(crate::backend::BackendError::BucketAlreadyExists { .. }) => {
            return Err(Error::BucketAlreadyOwnedByYou {
                bucket: bucket.to_owned(),
            });
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(bucket, "bucket created");
    let mut response = empty(StatusCode::OK);
    if let Ok(location) = http::HeaderValue::from_str(&format!("/{bucket}")) {
        response
            .headers_mut()
            .insert(http::header::LOCATION, location);
    }
    Ok(response)
}

/// A location constraint other than ours is refused, as S3 does.
fn check_location(call: &Call<'_>, location: Option<&str>) -> Result<(), Error> {
    match location {
        None | Some("") => Ok(()),
        Some(region) if region == call.app.region => Ok(()),
        Some(region) => Err(Error::InvalidLocationConstraint {
            region: region.to_owned(),
        }),
    }
}

/// HeadBucket.
pub async fn head(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    let mut response = empty(StatusCode::OK);
    if let Ok(region) = http::HeaderValue::from_str(&call.app.region) {
        response.headers_mut().insert("x-amz-bucket-region", region);
    }
    Ok(response)
}

/// DeleteBucket: refused with BucketNotEmpty unless empty.
pub async fn delete(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.delete_bucket(bucket).await?;
    tracing::info!(bucket, "bucket deleted");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// GetBucketLocation: an empty constraint means us-east-1, as in S3.
pub async fn location(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    Ok(xml_response(xml::location_constraint(&call.app.region)))
}

/// A 200 answer with an XML body.
pub fn xml_response(body: String) -> Response<ResponseBody> {
    let mut response = full(StatusCode::OK, body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    response
}

/// GetBucketVersioning: versioning is never enabled, which S3 reports as an empty document.
pub async fn versioning(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    Ok(xml_response(xml::versioning_configuration()))
}

/// The record holding a bucket's default encryption: its `ServerSideEncryptionConfiguration`.
const ENCRYPTION_RECORD: &str = "config/encryption";

/// PutBucketEncryption: the default for objects stored without SSE headers, kept as a record
/// in the bucket so every gateway process applies it.
pub async fn put_encryption(
    call: &Call<'_>,
    bucket: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let document = super::read_small_body(call, body, MAX_CONFIGURATION_BODY).await?;
    let config = xml::ServerSideEncryptionConfiguration::parse(&document)?;
    if config
        .rules
        .iter()
        .any(|r| r.default.sse_algorithm == "aws:kms:dsse")
    {
        return Err(Error::NotImplemented {
            operation: "aws:kms:dsse",
        });
    }
    call.app.backend.head_bucket(bucket).await?;

    let stored = bytes::Bytes::from(config.to_xml());
    write_config(call, bucket, ENCRYPTION_RECORD, stored).await?;
    Ok(empty(StatusCode::OK))
}

/// Writes one of the bucket's configuration records (its default encryption, its policy).
pub(super) async fn write_config(
    call: &Call<'_>,
    bucket: &str,
    name: &str,
    document: bytes::Bytes,
) -> Result<(), Error> {
    let meta = [(
        super::meta::FORMAT.to_owned(),
        super::meta::FORMAT_VERSION.to_owned(),
    )]
    .into();
    let len = document.len() as u64;
    let body = super::object::single(document);
    call.app.records.put(bucket, name, &meta, len, body).await?;
    Ok(())
}

/// One of the bucket's configuration records, if it has it.
pub(super) async fn read_config(
    call: &Call<'_>,
    bucket: &str,
    name: &str,
) -> Result<Option<bytes::Bytes>, Error> {
    let (stored, _, body) = match call.app.records.get(bucket, name, None).await {
        Ok(found) => found,
        Err(crate::backend::BackendError::NoSuchKey { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(super::object::collect(body, stored.size).await?))
}

/// GetBucketEncryption.
pub async fn get_encryption(
    call: &Call<'_>,
    bucket: &str,
) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    match read_encryption(call, bucket).await? {
        Some(config) => Ok(xml_response(config.to_xml())),
        None => Err(
            S3Error::new(S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError)
                .with("BucketName", bucket)
                .into(),
        ),
    }
}

/// DeleteBucketEncryption: objects stored without SSE headers go under the default master key.
pub async fn delete_encryption(
    call: &Call<'_>,
    bucket: &str,
) -> Result<Response<ResponseBody>, Error> {
    call.app.backend.head_bucket(bucket).await?;
    call.app.records.delete(bucket, ENCRYPTION_RECORD).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// The encryption a write gets: what its SSE headers `asked` for, else the bucket's default,
/// else SSE-S3.
pub async fn write_encryption(
    call: &Call<'_>,
    bucket: &str,
    asked: Option<SseRequest>,
) -> Result<SseRequest, Error> {
    if let Some(asked) = asked {
        return Ok(asked);
    }
    let Some(config) = read_encryption(call, bucket).await? else {
        return Ok(SseRequest::default());
    };
    let Some(rule) = config.rules.first() else {
        return Ok(SseRequest::default());
    };
    Ok(match rule.default.sse_algorithm.as_str() {
        "aws:kms" => SseRequest {
            sse: Sse::Kms { context: None },
            key_ref: rule.default.kms_master_key_id.clone(),
        },
        _ => SseRequest::default(),
    })
}

async fn read_encryption(
    call: &Call<'_>,
    bucket: &str,
) -> Result<Option<xml::ServerSideEncryptionConfiguration>, Error> {
    let Some(bytes) = read_config(call, bucket, ENCRYPTION_RECORD).await? else {
        return Ok(None);
    };
    let config = xml::ServerSideEncryptionConfiguration::parse(&bytes)
        .map_err(|e| Error::corrupt(bucket, ENCRYPTION_RECORD, e))?;
    Ok(Some(config))
}
