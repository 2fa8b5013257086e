//! Object handlers: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects.
//!
//! Each reads like the data path. PUT: stored headers, a fresh data key, the verified body sealed
//! in segments, the backend write. GET: the stored metadata, the data key unwrapped, the segments
//! the range needs read and opened, the plaintext streamed back.

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use md5::Digest;

use super::Call;
use super::errors::{S3Error, S3ErrorCode};
use super::headers::{self, Conditions, Precondition, RangeOutcome, StoredHeaders};
use super::meta::ObjectMeta;
use super::multipart;
use super::parts::PartTable;
use super::sse::{Sse, SseRequest};
use super::xml::{DeleteError, DeleteResult, Deleted, ObjectIdentifier};
use crate::backend::StoredObject;
use crate::body::ByteStream;
use crate::error::Error;
use crate::seal;
use crate::server::{ResponseBody, empty};

/// The largest object a single PUT may store, as in S3.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Bodies up to this size are verified whole before anything is written, so their ETag can go in
/// the metadata and a HEAD or GET needs no trailer read.
const INLINE_ETAG_LIMIT: u64 = 1024 * 1024;
/// Sealed segments a PUT may run ahead of the backend write (1 MiB). GETs have none: the
/// opener's pieces are large already, and a task of its own costs a GET more than it saves.
pub(super) const READ_AHEAD_CHUNKS: usize = 16;
/// The header that gives a multipart object's part count on a `partNumber` request.
const PARTS_COUNT_HEADER: &str = "x-amz-mp-parts-count";

/// An object's metadata opened: what GET and HEAD answer from.
pub struct Opened {
    /// The stored body as the backend reported it.
    pub stored: StoredObject,
    /// The object's metadata.
    pub meta: ObjectMeta,
    /// The object's data key, ready to open records and segments.
    pub key: Arc<kms_core::aead::Key>,
    /// The same data key as bytes: a multipart object's part keys are derived from it.
    pub data_key: Arc<kms_core::DataKey>,
    /// The ARN of the master key that wraps it.
    pub master_key_arn: String,
    /// The client headers kept with the object.
    pub headers: StoredHeaders,
    /// The quoted ETag.
    pub etag: String,
}

impl Opened {
    /// When the object was last written.
    pub fn last_modified(&self) -> std::time::SystemTime {
        self.stored.last_modified.into()
    }
}

/// PutObject.
pub async fn put(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let headers = StoredHeaders::from_request(&call.parts.headers)?;
    let asked = SseRequest::requested(&call.parts.headers)?;
    let sse = super::bucket::write_encryption(call, bucket, asked).await?;
    let body = crate::auth::verify_body(&call.who, &call.parts, body)?;
    let size = body.decoded_length.ok_or(Error::MissingContentLength)?;
    if size > MAX_PUT_SIZE {
        return Err(Error::EntityTooLarge { size });
    }

    let object_key = generate_key(call, bucket, key, &sse)?;
    let key_arc = Arc::new(object_key.key);
    let sealed_headers = seal::seal_headers(&key_arc, &headers_json(&headers)?)?;

    // As on AWS, an SSE-KMS object's ETag is no MD5 of its plaintext, which saves the MD5 pass.
    let (input, inline_md5) = match &sse.sse {
        Sse::Kms { .. } => (body.stream, Some(rand::random())),
        Sse::S3 if size <= INLINE_ETAG_LIMIT => {
            let plaintext = collect(body.stream, size).await?;
            let md5: [u8; 16] = md5::Md5::digest(&plaintext).into();
            (single(plaintext), Some(md5))
        }
        Sse::S3 => (body.stream, None),
    };
    let meta = ObjectMeta {
        wrapped_key: object_key.wrapped,
        size,
        sealed_headers,
        headers_salt: None,
        sealed_etag: inline_md5
            .map(|md5| seal::seal_etag(&key_arc, &md5))
            .transpose()?
            .map(Vec::from),
        multipart: None,
        sse: sse.sse.clone(),
    };

    let sealed = seal::seal_stream(key_arc.clone(), 0, size, inline_md5.is_none(), input);
    let previous = multipart::previous_upload(call, bucket, key).await;
    call.app
        .backend
        .put(
            bucket,
            key,
            &meta.to_stored(),
            seal::sealed_len(size),
            crate::body::read_ahead(sealed.stream, READ_AHEAD_CHUNKS),
        )
        .await?;
    multipart::discard_previous(call, bucket, key, previous, None).await;
    let md5 = match inline_md5 {
        Some(md5) => md5,
        None => sealed
            .digest
            .await
            .ok_or(Error::Seal(seal::SealError::DigestLost))?,
    };
    tracing::debug!(bucket, key, size, master_key = %object_key.master_key_id, "object sealed");

    let mut response = empty(StatusCode::OK);
    set(&mut response, header::ETAG, &quoted(&md5));
    sse.sse
        .apply(response.headers_mut(), &object_key.master_key_arn);
    Ok(response)
}

/// A fresh data key for `bucket/key` under the master key `sse` asks for.
pub(super) fn generate_key(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    sse: &SseRequest,
) -> Result<crate::keys::ObjectKey, Error> {
    let context = sse.sse.context()?;
    let generated = call
        .app
        .keys
        .generate_under(bucket, key, sse.key_ref.as_deref(), &context)?;
    let action = "kms:GenerateDataKey";
    super::access::use_key(call, action, &generated.master_key_arn, (bucket, key))?;
    Ok(generated)
}

/// GetObject and HeadObject: `with_body` tells which.
pub async fn get(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    with_body: bool,
) -> Result<Response<ResponseBody>, Error> {
    check_version(call)?;
    let opened = open(call, bucket, key).await?;
    super::access::use_key(call, "kms:Decrypt", &opened.master_key_arn, (bucket, key))?;
    let conditions = Conditions::from_headers(&call.parts.headers);
    match conditions.evaluate(&opened.etag, opened.last_modified()) {
        Precondition::Proceed => {}
        Precondition::NotModified => return Ok(not_modified(&opened)),
        Precondition::PreconditionFailed => return Err(Error::PreconditionFailed),
    }
    let range = requested_range(&call.parts.headers, opened.meta.size)?;
    let part_number = call.route.part_number()?;
    if part_number.is_some() && range.is_some() {
        let msg = "Cannot specify both Range header and partNumber query parameter";
        return Err(S3Error::with_message(S3ErrorCode::InvalidRequest, msg).into());
    }
    // A multipart object's part table is read when its parts are (a body, or partNumber).
    let table = match &opened.meta.multipart {
        Some(_) if (with_body && opened.meta.size > 0) || part_number.is_some() => {
            Some(multipart::read_table(call, bucket, key, &opened).await?)
        }
        _ => None,
    };
    let range = match part_number {
        Some(n) => Some(part_range(&opened, table.as_ref(), usize::from(n))?),
        None => range,
    };

    let mut response = object_response(call, &opened, range.clone())?;
    if let Some(multipart) = opened
        .meta
        .multipart
        .as_ref()
        .filter(|_| part_number.is_some())
    {
        set(
            &mut response,
            PARTS_COUNT_HEADER,
            &multipart.parts.to_string(),
        );
    }
    if with_body && opened.meta.size > 0 {
        let wanted = range.unwrap_or(0..opened.meta.size);
        let body = read_object(call, bucket, key, &opened, table.as_ref(), wanted).await?;
        *response.body_mut() = streaming(body, bucket, key);
    }
    Ok(response)
}

/// The plaintext bytes `wanted` of an opened object; `table` is the part table of a multipart
/// object (see [`multipart::read_table`]), `None` for a single PUT.
pub(super) async fn read_object(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    opened: &Opened,
    table: Option<&PartTable>,
    wanted: Range<u64>,
) -> Result<ByteStream, Error> {
    match table {
        Some(table) => multipart::read_plaintext(call, bucket, key, opened, table, wanted).await,
        None => read_plaintext(call, bucket, key, opened, wanted).await,
    }
}

/// The plaintext bytes that part `number` (its 1-based position) of the object holds. A single
/// PUT is one part.
fn part_range(
    opened: &Opened,
    table: Option<&PartTable>,
    number: usize,
) -> Result<Range<u64>, Error> {
    let range = match table {
        Some(table) => table.part_range(number),
        None => (number == 1).then_some(0..opened.meta.size),
    };
    range.ok_or_else(|| S3Error::new(S3ErrorCode::InvalidPartNumber).into())
}

/// Reads the object's metadata and opens what is sealed in it.
pub async fn open(call: &Call<'_>, bucket: &str, key: &str) -> Result<Opened, Error> {
    let (stored, stored_meta) = call.app.backend.head(bucket, key).await?;
    let meta = ObjectMeta::from_stored(&stored_meta).map_err(|e| Error::corrupt(bucket, key, e))?;
    if !meta.matches_body(stored.size) {
        return Err(Error::corrupt(
            bucket,
            key,
            "stored length does not match the metadata",
        ));
    }
    let (raw_key, master_key_arn) = call
        .app
        .keys
        .unwrap_with(bucket, key, &meta.wrapped_key, &meta.sse.context()?)
        .map_err(|e| Error::from_unwrap(bucket, key, e))?;
    let data_key = Arc::new(kms_core::aead::Key::new(raw_key.as_bytes())?);
    let headers_key = match &meta.headers_salt {
        Some(salt) => crate::keys::headers_key(&raw_key, salt)?,
        None => kms_core::aead::Key::new(raw_key.as_bytes())?,
    };
    let headers = open_headers(bucket, key, &headers_key, &meta.sealed_headers)?;
    let etag = match (&meta.multipart, &meta.sealed_etag) {
        (Some(multipart), Some(sealed)) => {
            let completion_key = crate::keys::completion_key(&raw_key, &multipart.completion)?;
            let md5 = seal::open_etag(&completion_key, sealed)
                .map_err(|e| Error::corrupt(bucket, key, e))?;
            format!("\"{}-{}\"", hex::encode(md5), multipart.parts)
        }
        (Some(_), None) => {
            return Err(Error::corrupt(bucket, key, "multipart object without ETag"));
        }
        (None, Some(sealed)) => {
            quoted(&seal::open_etag(&data_key, sealed).map_err(|e| Error::corrupt(bucket, key, e))?)
        }
        (None, None) => {
            quoted(&read_trailer_md5(call, bucket, key, &stored, &meta, &data_key).await?)
        }
    };
    Ok(Opened {
        stored,
        meta,
        key: data_key,
        data_key: Arc::new(raw_key),
        master_key_arn,
        headers,
        etag,
    })
}

/// Opens client headers sealed under `headers_key`.
pub(super) fn open_headers(
    bucket: &str,
    key: &str,
    headers_key: &kms_core::aead::Key,
    sealed: &[u8],
) -> Result<StoredHeaders, Error> {
    let json =
        seal::open_headers(headers_key, sealed).map_err(|e| Error::corrupt(bucket, key, e))?;
    serde_json::from_slice(&json).map_err(|e| Error::corrupt(bucket, key, e))
}

/// The client headers as the JSON that the headers record seals.
pub(super) fn headers_json(headers: &StoredHeaders) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(headers).map_err(|e| Error::Internal {
        reason: e.to_string(),
    })
}

async fn read_trailer_md5(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    stored: &StoredObject,
    meta: &ObjectMeta,
    data_key: &kms_core::aead::Key,
) -> Result<[u8; 16], Error> {
    let start = stored.size.saturating_sub(seal::TRAILER_LEN);
    let (_, _, stream) = call
        .app
        .backend
        .get(bucket, key, Some(start..stored.size))
        .await?;
    let bytes = collect(stream, seal::TRAILER_LEN).await?;
    let trailer = seal::open_trailer(data_key, 0, seal::segment_count(meta.size), &bytes)
        .map_err(|e| Error::corrupt(bucket, key, e))?;
    match trailer.md5 {
        Some(md5) if trailer.plaintext_len == meta.size => Ok(md5),
        _ => Err(Error::corrupt(
            bucket,
            key,
            "trailer does not match the metadata",
        )),
    }
}

/// Reads and opens the segments that cover `wanted`.
async fn read_plaintext(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    opened: &Opened,
    wanted: Range<u64>,
) -> Result<ByteStream, Error> {
    let plan = seal::plan(opened.meta.size, wanted)?;
    let (again, stored_meta, sealed) = call
        .app
        .backend
        .get(bucket, key, Some(plan.sealed.clone()))
        .await?;
    // Overwritten between the metadata read and this read: the data key would not fit.
    if again.size != opened.stored.size
        || ObjectMeta::from_stored(&stored_meta).ok().as_ref() != Some(&opened.meta)
    {
        return Err(Error::ConcurrentOverwrite);
    }
    Ok(seal::open_stream(
        opened.key.clone(),
        0,
        opened.meta.size,
        plan,
        sealed,
    ))
}

/// Headers of a GET or HEAD answer, for the whole object or for `range`.
fn object_response(
    call: &Call<'_>,
    opened: &Opened,
    range: Option<Range<u64>>,
) -> Result<Response<ResponseBody>, Error> {
    let mut response = empty(StatusCode::OK);
    let size = opened.meta.size;
    let length = match &range {
        Some(range) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let last = range.end.saturating_sub(1);
            set(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes {}-{last}/{size}", range.start),
            );
            range.end - range.start
        }
        None => size,
    };
    set(&mut response, header::CONTENT_LENGTH, &length.to_string());
    set(&mut response, header::ETAG, &opened.etag);
    set(
        &mut response,
        header::LAST_MODIFIED,
        &headers::http_date(opened.last_modified()),
    );
    set(&mut response, header::ACCEPT_RANGES, "bytes");
    let arn = &opened.master_key_arn;
    opened.meta.sse.apply(response.headers_mut(), arn);
    let mut stored = opened.headers.clone();
    stored.apply_overrides(&call.route.query);
    stored.apply(response.headers_mut());
    Ok(response)
}

/// The Range asked for, if it is one S3 honours; an unsatisfiable one is an error.
fn requested_range(headers: &http::HeaderMap, size: u64) -> Result<Option<Range<u64>>, Error> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    match headers::parse_range(value, size) {
        RangeOutcome::Full => Ok(None),
        RangeOutcome::Partial(range) => Ok(Some(range)),
        RangeOutcome::Unsatisfiable => Err(headers::invalid_range_error(value, size).into()),
    }
}

fn not_modified(opened: &Opened) -> Response<ResponseBody> {
    let mut response = empty(StatusCode::NOT_MODIFIED);
    set(&mut response, header::ETAG, &opened.etag);
    set(
        &mut response,
        header::LAST_MODIFIED,
        &headers::http_date(opened.last_modified()),
    );
    response
}

/// GetObjectTagging: Sealgate keeps no tags (PutObjectTagging is not served), so an object that
/// exists has an empty tag set.
pub async fn tagging(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    check_version(call)?;
    call.app.backend.head(bucket, key).await?;
    Ok(super::bucket::xml_response(super::xml::empty_tagging()))
}

/// DeleteObject: S3 answers 204 whether or not the key existed.
pub async fn delete(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    check_version(call)?;
    call.app.backend.head_bucket(bucket).await?;
    delete_one(call, bucket, key).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Versioning is never enabled, so every object is the version `null`: a `versionId` naming any
/// other is `InvalidArgument`, as S3 answers for unversioned buckets.
fn check_version(call: &Call<'_>) -> Result<(), Error> {
    match call.route.query.get("versionId") {
        None | Some("null") => Ok(()),
        Some(other) => {
            let msg = "Invalid version id specified";
            Err(S3Error::invalid_argument(msg, "versionId", other).into())
        }
    }
}

/// Deletes one object, and the parts it is made of if it is a multipart object.
async fn delete_one(call: &Call<'_>, bucket: &str, key: &str) -> Result<(), Error> {
    let previous = multipart::previous_upload(call, bucket, key).await;
    call.app.backend.delete(bucket, key).await?;
    multipart::discard_previous(call, bucket, key, previous, None).await;
    Ok(())
}

/// Collects a stream that must hold exactly `len` bytes (small bodies only).
pub async fn collect(mut stream: ByteStream, len: u64) -> Result<Bytes, Error> {
    let capacity = usize::try_from(len).map_err(|_| Error::EntityTooLarge { size: len })?;
    let mut buffer = BytesMut::with_capacity(capacity);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(Error::Stream)?;
        if (buffer.len() + chunk.len()) as u64 > len {
            return Err(Error::IncompleteBody);
        }
        buffer.extend_from_slice(&chunk);
    }
    if buffer.len() as u64 != len {
        return Err(Error::IncompleteBody);
    }
    Ok(buffer.freeze())
}

/// A stream of one chunk.
pub(super) fn single(bytes: Bytes) -> ByteStream {
    futures::stream::once(async move { Ok(bytes) }).boxed()
}

/// A response body from a plaintext stream; a failure mid-stream aborts the connection and is
/// logged, so the client sees an error, never short or altered data.
fn streaming(body: ByteStream, bucket: &str, key: &str) -> ResponseBody {
    let (bucket, key) = (bucket.to_owned(), key.to_owned());
    let stream = body
        .inspect_err(move |error| {
            tracing::error!(bucket = %bucket, key = %key, error = %error, "object read failed mid-response; connection aborted");
        })
        .map_ok(Frame::data);
    BodyExt::boxed_unsync(StreamBody::new(stream))
}

/// An ETag: the quoted hex of an MD5.
pub fn quoted(md5: &[u8; 16]) -> String {
    format!("\"{}\"", hex::encode(md5))
}

/// Sets a response header; a value that is no valid header value is left out.
pub(super) fn set(
    response: &mut Response<ResponseBody>,
    name: impl header::IntoHeaderName,
    value: &str,
) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// The largest DeleteObjects request body we read (1000 keys of 1024 bytes, escaped).
const MAX_DELETE_BODY: u64 = 8 * 1024 * 1024;
/// How many deletions of one DeleteObjects request run at once.
const DELETES_IN_FLIGHT: usize = 16;

/// DeleteObjects: each key deleted on its own; failures are reported per key, as in S3.
pub async fn delete_many(
    call: &Call<'_>,
    bucket: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let document = super::read_small_body(call, body, MAX_DELETE_BODY).await?;
    let request = super::xml::parse_delete(&document)?;
    call.app.backend.head_bucket(bucket).await?;
    let policy = super::access::bucket_policy(call, bucket).await?;
    let policy = policy.as_ref();

    let outcomes: Vec<(ObjectIdentifier, Result<(), S3Error>)> =
        futures::stream::iter(request.objects)
            .map(|object| async move {
                let action = "s3:DeleteObject";
                let allowed = super::names::check_key(&object.key).and_then(|()| {
                    super::access::check_object(call, action, (bucket, &object.key), policy)
                        .map_err(|e| e.to_s3())
                });
                let result = match allowed {
                    Ok(()) => delete_one(call, bucket, &object.key)
                        .await
                        .map_err(|e| e.to_s3()),
                    Err(error) => Err(error),
                };
                (object, result)
            })
            .buffered(DELETES_IN_FLIGHT)
            .collect()
            .await;

    let mut result = DeleteResult::default();
    for (object, outcome) in outcomes {
        match outcome {
            Ok(()) if request.quiet => {}
            Ok(()) => result.deleted.push(Deleted {
                key: object.key,
                version_id: object.version_id,
            }),
            Err(error) => {
                result
                    .errors
                    .push(DeleteError::new(object.key, object.version_id, &error))
            }
        }
    }
    Ok(super::bucket::xml_response(result.to_xml()))
}
