//! Copy handlers: CopyObject and UploadPartCopy.
//!
//! CopyObject reads like a PUT that keeps the body: the source opened, its data key wrapped anew
//! for the destination's name, the headers kept or replaced, and the sealed body copied by the
//! backend itself (a multipart source's parts are copied as records of a new upload). Nothing is
//! decrypted or re-encrypted. UploadPartCopy cannot keep the body, since a part is sealed under
//! a key of its upload: it reads the source range as plaintext and seals it as a new part.

use std::ops::Range;

use futures::{FutureExt, StreamExt, TryStreamExt};
use http::{HeaderMap, HeaderName, Response};
use percent_encoding::percent_decode_str;

use super::errors::{S3Error, S3ErrorCode};
use super::headers::{Conditions, Precondition, StoredHeaders};
use super::meta::{Multipart, ObjectMeta};
use super::multipart::{self, PartTarget};
use super::object::{self, Opened};
use super::parts::{self, MAX_PART_SIZE};
use super::sse::SseRequest;
use super::{Call, access};
use super::{names, xml};
use crate::error::Error;
use crate::keys;
use crate::seal;
use crate::server::ResponseBody;

/// The largest object CopyObject copies in one request, as in S3 (larger ones need
/// UploadPartCopy).
const MAX_COPY_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Part records copied at once.
const COPIES_IN_FLIGHT: usize = 8;

/// The object a copy reads, from `x-amz-copy-source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySource {
    /// The source bucket.
    pub bucket: String,
    /// The source key.
    pub key: String,
}

impl CopySource {
    /// Parses `x-amz-copy-source`: `[/]bucket/key[?versionId=…]`, the key URL-encoded. Only the
    /// `null` version exists, since versioning is never enabled.
    pub fn from_headers(headers: &HeaderMap) -> Result<CopySource, Error> {
        let raw = headers
            .get("x-amz-copy-source")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let (path, version) = match raw.split_once('?') {
            Some((path, query)) => (path, query.strip_prefix("versionId=")),
            None => (raw, None),
        };
        if version.is_some_and(|v| v != "null") {
            let msg = "Invalid version id specified";
            return Err(S3Error::invalid_argument(msg, "x-amz-copy-source", raw).into());
        }
        let decoded = percent_decode_str(path)
            .decode_utf8()
            .map_err(|_| invalid_source(raw))?;
        let decoded = decoded.strip_prefix('/').unwrap_or(&decoded);
        let (bucket, key) = decoded.split_once('/').ok_or_else(|| invalid_source(raw))?;
        names::check_bucket_name(bucket)?;
        if key.is_empty() {
            return Err(invalid_source(raw));
        }
        names::check_key(key)?;
        Ok(CopySource {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

fn invalid_source(raw: &str) -> Error {
    let msg = "Copy Source must mention the source bucket and key: sourcebucket/sourcekey";
    S3Error::invalid_argument(msg, "x-amz-copy-source", raw).into()
}

/// CopyObject.
pub async fn copy_object(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    let source = CopySource::from_headers(&call.parts.headers)?;
    let replace = replaces_metadata(&call.parts.headers)?;
    let asked = SseRequest::requested(&call.parts.headers)?;
    let onto_itself = source.bucket == bucket && source.key == key;
    if onto_itself && !replace && asked.is_none() {
        let msg = "This copy request is illegal because it is trying to copy an object to itself \
                   without changing the object's metadata, storage class, website redirect \
                   location or encryption attributes.";
        return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, msg).into());
    }
    let new_headers = replace
        .then(|| StoredHeaders::from_request(&call.parts.headers))
        .transpose()?;
    call.app.backend.head_bucket(bucket).await?;
    let sse = super::bucket::write_encryption(call, bucket, asked).await?;
    let opened = open_source(call, &source).await?;
    let arn = call.app.keys.master_key_arn(sse.key_ref.as_deref())?;
    access::use_key(call, "kms:GenerateDataKey", &arn, (bucket, key))?;
    check_copy_conditions(&call.parts.headers, &opened)?;
    if opened.meta.size > MAX_COPY_SIZE {
        let msg = "The specified copy source is larger than the maximum allowable size for a \
                   copy source: 5368709120";
        return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, msg).into());
    }

    let meta = copied_meta(call, &source, (bucket, key), &opened, (new_headers, &sse)).await?;
    let previous = multipart::previous_upload(call, bucket, key).await;
    let copied = call
        .app
        .backend
        .copy(&source.bucket, &source.key, bucket, key, &meta.to_stored())
        .await?;
    let current = meta.multipart.as_ref().map(|m| m.upload_id.as_str());
    multipart::discard_previous(call, bucket, key, previous, current).await;
    tracing::debug!(
        from_bucket = %source.bucket,
        from_key = %source.key,
        bucket,
        key,
        "object copied"
    );

    let etag = opened.etag.trim_matches('"');
    let document = xml::copy_object_result(etag, copied.last_modified.into());
    let mut response = super::bucket::xml_response(document);
    sse.sse.apply(response.headers_mut(), &arn);
    Ok(response)
}

/// Opens a copy's source: the principal must be allowed to read it (`s3:GetObject`, with the
/// source bucket's policy) and to decrypt under its master key.
async fn open_source(call: &Call<'_>, source: &CopySource) -> Result<Opened, Error> {
    let from = (source.bucket.as_str(), source.key.as_str());
    let policy = access::bucket_policy(call, from.0).await?;
    access::check_object(call, "s3:GetObject", from, policy.as_ref())?;
    let opened = object::open(call, from.0, from.1).await?;
    access::use_key(call, "kms:Decrypt", &opened.master_key_arn, from)?;
    Ok(opened)
}

/// The metadata of the copy: the data key wrapped for its name, the headers kept or replaced,
/// and for a multipart source the upload its copied parts belong to.
async fn copied_meta(
    call: &Call<'_>,
    source: &CopySource,
    (bucket, key): (&str, &str),
    opened: &Opened,
    (new_headers, sse): (Option<StoredHeaders>, &SseRequest),
) -> Result<ObjectMeta, Error> {
    let from_context = opened.meta.sse.context()?;
    let to_context = sse.sse.context()?;
    let from = (source.bucket.as_str(), source.key.as_str(), &from_context);
    let to = (bucket, key, sse.key_ref.as_deref(), &to_context);
    let wrapped_key = call
        .app
        .keys
        .rewrap(from, to, &opened.meta.wrapped_key)
        .map_err(|e| Error::from_unwrap(&source.bucket, &source.key, e))?;
    let (sealed_headers, headers_salt) = match new_headers {
        None => (opened.meta.sealed_headers.clone(), opened.meta.headers_salt),
        Some(headers) => {
            let salt: [u8; 16] = rand::random();
            let headers_key = keys::headers_key(&opened.data_key, &salt)?;
            let sealed = seal::seal_headers(&headers_key, &object::headers_json(&headers)?)?;
            (sealed, Some(salt))
        }
    };
    let onto_itself = source.bucket == bucket && source.key == key;
    let multipart = match &opened.meta.multipart {
        Some(upload) if !onto_itself => {
            Some(copy_parts(call, source, bucket, opened, upload).await?)
        }
        other => other.clone(),
    };
    Ok(ObjectMeta {
        wrapped_key,
        size: opened.meta.size,
        sealed_headers,
        headers_salt,
        sealed_etag: opened.meta.sealed_etag.clone(),
        multipart,
        sse: sse.sse.clone(),
    })
}

/// Copies the part records of a multipart source into a new upload in `bucket`; the part keys
/// do not depend on the upload id, so the copies open as they are. Boxed, as
/// `multipart::delete_records` is, for rustc's higher-ranked `Send` check.
fn copy_parts<'a>(
    call: &'a Call<'_>,
    source: &'a CopySource,
    bucket: &'a str,
    opened: &'a Opened,
    upload: &'a Multipart,
) -> futures::future::BoxFuture<'a, Result<Multipart, Error>> {
    copy_parts_unboxed(call, source, bucket, opened, upload).boxed()
}

async fn copy_parts_unboxed(
    call: &Call<'_>,
    source: &CopySource,
    bucket: &str,
    opened: &Opened,
    upload: &Multipart,
) -> Result<Multipart, Error> {
    let table = multipart::read_table(call, &source.bucket, &source.key, opened).await?;
    let upload_id = parts::new_upload_id();
    let copies: Vec<PartCopy> = table
        .parts
        .iter()
        .map(|part| PartCopy {
            from: parts::part_record(&upload.upload_id, part.part_number, &part.attempt),
            to: parts::part_record(&upload_id, part.part_number, &part.attempt),
            size: part.size,
        })
        .collect();
    let copied: Result<Vec<()>, _> = futures::stream::iter(copies)
        .map(|copy| copy_part(call, &source.bucket, bucket, copy))
        .buffer_unordered(COPIES_IN_FLIGHT)
        .try_collect()
        .await;
    if let Err(e) = copied {
        multipart::discard_parts(call, bucket, &upload_id).await;
        return Err(e.into());
    }
    Ok(Multipart {
        upload_id,
        completion: upload.completion,
        parts: upload.parts,
    })
}

/// One part record to copy.
struct PartCopy {
    from: String,
    to: String,
    size: u64,
}

async fn copy_part(
    call: &Call<'_>,
    from_bucket: &str,
    to_bucket: &str,
    copy: PartCopy,
) -> Result<(), crate::backend::BackendError> {
    let meta = multipart::part_meta(copy.size);
    let records = &call.app.records;
    records
        .copy(from_bucket, &copy.from, to_bucket, &copy.to, &meta)
        .await?;
    Ok(())
}

/// UploadPartCopy: the source range read as plaintext and sealed as a part of the upload.
pub async fn upload_part_copy(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    let part_number = multipart::required_part_number(call)?;
    let upload_id = multipart::upload_id(call)?;
    let source = CopySource::from_headers(&call.parts.headers)?;
    let upload = multipart::read_upload(call, bucket, key, upload_id).await?;
    let opened = open_source(call, &source).await?;
    check_copy_conditions(&call.parts.headers, &opened)?;
    let range = copy_range(&call.parts.headers, opened.meta.size)?;
    let size = range.end - range.start;
    if size > MAX_PART_SIZE {
        return Err(Error::EntityTooLarge { size });
    }

    let table = match &opened.meta.multipart {
        Some(_) => Some(multipart::read_table(call, &source.bucket, &source.key, &opened).await?),
        None => None,
    };
    let plaintext = match size {
        0 => futures::stream::empty().boxed(),
        _ => {
            let table = table.as_ref();
            object::read_object(call, &source.bucket, &source.key, &opened, table, range).await?
        }
    };
    let target = PartTarget {
        bucket,
        upload_id,
        upload_key: &upload.key,
        part_number,
    };
    let md5 = multipart::store_part(call, &target, size, plaintext).await?;
    tracing::debug!(bucket, key, upload_id, part_number, size, "part copied");

    let document = xml::copy_part_result(&hex::encode(md5), std::time::SystemTime::now());
    let mut response = super::bucket::xml_response(document);
    upload.report_sse(&mut response);
    Ok(response)
}

/// Whether `x-amz-metadata-directive` asks for new metadata (`REPLACE`) or the source's
/// (`COPY`, the default).
fn replaces_metadata(headers: &HeaderMap) -> Result<bool, Error> {
    match headers
        .get("x-amz-metadata-directive")
        .map(|v| v.as_bytes())
    {
        None | Some(b"COPY") => Ok(false),
        Some(b"REPLACE") => Ok(true),
        Some(other) => {
            let value = String::from_utf8_lossy(other);
            let msg = "Unknown metadata directive.";
            Err(S3Error::invalid_argument(msg, "x-amz-metadata-directive", &value).into())
        }
    }
}

/// The `x-amz-copy-source-if-*` conditions, which S3 answers with 412 when they fail.
fn check_copy_conditions(headers: &HeaderMap, source: &Opened) -> Result<(), Error> {
    let mut renamed = HeaderMap::new();
    for (copy_name, name) in [
        ("x-amz-copy-source-if-match", "if-match"),
        ("x-amz-copy-source-if-none-match", "if-none-match"),
        ("x-amz-copy-source-if-modified-since", "if-modified-since"),
        (
            "x-amz-copy-source-if-unmodified-since",
            "if-unmodified-since",
        ),
    ] {
        if let Some(value) = headers.get(copy_name) {
            renamed.insert(HeaderName::from_static(name), value.clone());
        }
    }
    match Conditions::from_headers(&renamed).evaluate(&source.etag, source.last_modified()) {
        Precondition::Proceed => Ok(()),
        Precondition::NotModified | Precondition::PreconditionFailed => {
            Err(Error::PreconditionFailed)
        }
    }
}

/// The source bytes of UploadPartCopy: `x-amz-copy-source-range: bytes=first-last`, or all.
fn copy_range(headers: &HeaderMap, size: u64) -> Result<Range<u64>, Error> {
    let Some(raw) = headers.get("x-amz-copy-source-range") else {
        return Ok(0..size);
    };
    let text = raw.to_str().unwrap_or_default();
    let parsed = text
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)));
    let Some((first, last)) = parsed.filter(|(first, last)| first <= last) else {
        let msg = "The x-amz-copy-source-range value must be of the form bytes=first-last where \
                   first and last are the zero-based offsets of the first and last bytes to copy";
        return Err(S3Error::invalid_argument(msg, "x-amz-copy-source-range", text).into());
    };
    if last >= size {
        let msg = "Range specified is not valid for source object";
        return Err(S3Error::invalid_argument(msg, "x-amz-copy-source-range", text).into());
    }
    Ok(first..last + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::headers::header_map as headers;

    #[test]
    fn copy_sources_parse_as_s3_writes_them() {
        let parse = |v: &str| CopySource::from_headers(&headers(&[("x-amz-copy-source", v)]));
        let want = |b: &str, k: &str| CopySource {
            bucket: b.to_owned(),
            key: k.to_owned(),
        };
        assert_eq!(parse("/src/a/b.txt").unwrap(), want("src", "a/b.txt"));
        assert_eq!(
            parse("src/r%C3%A9sum%C3%A9%20%2B%3F").unwrap(),
            want("src", "résumé +?")
        );
        assert_eq!(parse("src/k?versionId=null").unwrap(), want("src", "k"));
        assert!(parse("src/k?versionId=abc").is_err());
        assert!(parse("src").is_err());
        assert!(parse("src/").is_err());
        assert!(parse("").is_err());
        assert!(parse("Bad_Bucket/k").is_err());
    }

    #[test]
    fn copy_ranges_follow_s3() {
        let range = |v: &str| copy_range(&headers(&[("x-amz-copy-source-range", v)]), 100);
        assert_eq!(range("bytes=0-99").unwrap(), 0..100);
        assert_eq!(range("bytes=10-10").unwrap(), 10..11);
        for bad in [
            "bytes=5-4",
            "bytes=0-100",
            "bytes=-5",
            "bytes=5-",
            "0-5",
            "bytes=a-b",
        ] {
            assert!(range(bad).is_err(), "{bad}");
        }
        assert_eq!(copy_range(&HeaderMap::new(), 7).unwrap(), 0..7);
    }
}
