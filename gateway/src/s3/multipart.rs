//! Multipart upload handlers: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts and ListMultipartUploads; and reading a completed multipart
//! object's plaintext back.
//!
//! Each reads like the data path of a PUT, with the upload's records in between. Create: stored
//! headers, a fresh data key for the upload, the upload record. UploadPart: the upload record,
//! the upload's data key unwrapped, a key derived for this attempt, the verified body sealed in
//! segments, the part record written. Complete: the attempts the client names checked by ETag,
//! the part table sealed, the object written under its key, the records no object needs removed.
//! The layout of the records is in [`super::parts`]; nothing of an upload lives in this process.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::{FutureExt, StreamExt, TryStreamExt};
use http::{Response, StatusCode};
use hyper::body::Incoming;
use kms_core::DataKey;
use md5::Digest;

use super::Call;
use super::errors::{S3Error, S3ErrorCode};
use super::headers::StoredHeaders;
use super::meta::{self, Multipart, ObjectMeta};
use super::object::{self, Opened};
use super::parts::{self, PartEntry, PartTable, UploadRecord};
use super::sse::{Sse, SseRequest};
use super::xml;
use crate::backend::{Backend, BackendError, StoredMeta};
use crate::body::ByteStream;
use crate::error::Error;
use crate::keys;
use crate::seal;
use crate::server::{ResponseBody, empty};

/// The largest CompleteMultipartUpload document we read (10000 parts with checksums).
const MAX_COMPLETE_BODY: u64 = 4 * 1024 * 1024;
/// Records read or deleted at once.
const RECORDS_IN_FLIGHT: usize = 16;
/// The most parts or uploads one listing page holds.
const MAX_LISTED: u32 = 1000;

/// CreateMultipartUpload.
pub async fn create(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    let headers = StoredHeaders::from_request(&call.parts.headers)?;
    let asked = SseRequest::requested(&call.parts.headers)?;
    let sse = super::bucket::write_encryption(call, bucket, asked).await?;
    call.app.backend.head_bucket(bucket).await?;

    let upload_key = object::generate_key(call, bucket, key, &sse)?;
    let sealed_headers = seal::seal_headers(&upload_key.key, &object::headers_json(&headers)?)?;
    let sealed = (upload_key.wrapped.as_slice(), sealed_headers.as_slice());
    let record = UploadRecord::new(key, call.who.principal.name(), sealed, &sse.sse);

    let upload_id = parts::new_upload_id();
    let body = record.to_bytes();
    let stored = record_meta();
    call.app
        .records
        .put(
            bucket,
            &parts::upload_record(&upload_id),
            &stored,
            body.len() as u64,
            object::single(Bytes::from(body)),
        )
        .await?;
    tracing::debug!(bucket, key, upload_id, "multipart upload created");

    let document = xml::initiate_multipart_upload_result(bucket, key, &upload_id);
    let mut response = super::bucket::xml_response(document);
    sse.sse
        .apply(response.headers_mut(), &upload_key.master_key_arn);
    Ok(response)
}

/// UploadPart.
pub async fn upload_part(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let part_number = required_part_number(call)?;
    let upload_id = upload_id(call)?;
    let body = crate::auth::verify_body(&call.who, &call.parts, body)?;
    let size = body.decoded_length.ok_or(Error::MissingContentLength)?;
    if size > parts::MAX_PART_SIZE {
        return Err(Error::EntityTooLarge { size });
    }
    let upload = read_upload(call, bucket, key, upload_id).await?;

    let target = PartTarget {
        bucket,
        upload_id,
        upload_key: &upload.key,
        part_number,
    };
    let md5 = store_part(call, &target, size, body.stream).await?;
    tracing::debug!(bucket, key, upload_id, part_number, size, "part sealed");

    let mut response = empty(StatusCode::OK);
    object::set(&mut response, http::header::ETAG, &object::quoted(&md5));
    upload.report_sse(&mut response);
    Ok(response)
}

/// Where a part goes: which upload, under which data key, as which part number.
pub struct PartTarget<'a> {
    /// The upload's bucket.
    pub bucket: &'a str,
    /// The upload.
    pub upload_id: &'a str,
    /// The upload's data key.
    pub upload_key: &'a DataKey,
    /// The part number (1 to 10000).
    pub part_number: u32,
}

/// Seals `size` bytes of plaintext as a new attempt at a part and stores it; returns its MD5.
pub async fn store_part(
    call: &Call<'_>,
    target: &PartTarget<'_>,
    size: u64,
    plaintext: ByteStream,
) -> Result<[u8; 16], Error> {
    let attempt = parts::new_attempt();
    let part_number = target.part_number;
    let part_key = Arc::new(keys::part_key(target.upload_key, part_number, &attempt)?);
    let sealed = seal::seal_stream(part_key, part_number, size, true, plaintext);
    let name = parts::part_record(target.upload_id, part_number, &attempt);
    let sealed_len = seal::sealed_len(size);
    call.app
        .records
        .put(
            target.bucket,
            &name,
            &part_meta(size),
            sealed_len,
            crate::body::read_ahead(sealed.stream, object::READ_AHEAD_CHUNKS),
        )
        .await?;
    sealed
        .digest
        .await
        .ok_or(Error::Seal(seal::SealError::DigestLost))
}

/// CompleteMultipartUpload.
pub async fn complete(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let upload_id = upload_id(call)?;
    let document = super::read_small_body(call, body, MAX_COMPLETE_BODY).await?;
    let requested = xml::parse_complete_multipart_upload(&document)?;
    let upload = read_upload(call, bucket, key, upload_id).await?;

    let attempts = list_attempts(call, bucket, upload_id).await?;
    let chosen =
        choose_attempts(call, bucket, upload_id, &upload.key, &attempts, requested).await?;
    check_part_sizes(&chosen)?;

    let table = PartTable {
        parts: chosen.iter().map(|c| c.entry).collect(),
    };
    let part_count = u32::try_from(table.parts.len()).unwrap_or(u32::MAX);
    let combined = combined_md5(&chosen);
    let completion: [u8; 16] = rand::random();
    let completion_key = keys::completion_key(&upload.key, &completion)?;
    let sealed_table = seal::seal_part_table(&completion_key, &table.encode())?;
    let meta = ObjectMeta {
        wrapped_key: upload.wrapped_key.clone(),
        size: table.size(),
        sealed_headers: upload.sealed_headers.clone(),
        headers_salt: None,
        sealed_etag: Some(seal::seal_etag(&completion_key, &combined)?.to_vec()),
        multipart: Some(Multipart {
            upload_id: upload_id.to_owned(),
            completion,
            parts: part_count,
        }),
        sse: upload.sse.clone(),
    };

    let previous = previous_upload(call, bucket, key).await;
    let sealed_len = sealed_table.len() as u64;
    call.app
        .backend
        .put(
            bucket,
            key,
            &meta.to_stored(),
            sealed_len,
            object::single(Bytes::from(sealed_table)),
        )
        .await?;
    tracing::debug!(
        bucket,
        key,
        upload_id,
        parts = part_count,
        "multipart upload completed"
    );

    // The object is visible: the upload record and the attempts it does not use can go.
    let record = parts::upload_record(upload_id);
    log_cleanup(call.app.records.delete(bucket, &record).await, bucket, key);
    let unused: Vec<String> = attempts
        .into_values()
        .flatten()
        .filter(|a| !chosen.iter().any(|c| c.entry.attempt == a.entry.attempt))
        .map(|a| a.name)
        .collect();
    delete_records(call, bucket, unused).await;
    discard_previous(call, bucket, key, previous, Some(upload_id)).await;

    let etag = format!("{}-{part_count}", hex::encode(combined));
    let location = format!("/{bucket}/{key}");
    let document = xml::complete_multipart_upload_result(&location, bucket, key, &etag);
    let mut response = super::bucket::xml_response(document);
    upload.report_sse(&mut response);
    Ok(response)
}

/// AbortMultipartUpload: the upload record and every part attempt are removed.
pub async fn abort(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    let upload_id = upload_id(call)?;
    read_upload(call, bucket, key, upload_id).await?;

    let record = parts::upload_record(upload_id);
    call.app.records.delete(bucket, &record).await?;
    discard_parts(call, bucket, upload_id).await;
    tracing::debug!(bucket, key, upload_id, "multipart upload aborted");
    Ok(empty(StatusCode::NO_CONTENT))
}

/// ListParts: the newest attempt of each part number, with its ETag from its sealed trailer.
pub async fn list_parts(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
) -> Result<Response<ResponseBody>, Error> {
    let upload_id = upload_id(call)?;
    let marker = number_param(call, "part-number-marker")?.unwrap_or(0);
    let max_parts = number_param(call, "max-parts")?
        .unwrap_or(MAX_LISTED)
        .min(MAX_LISTED);
    let upload = read_upload(call, bucket, key, upload_id).await?;

    let attempts = list_attempts(call, bucket, upload_id).await?;
    let newest: Vec<Attempt> = attempts
        .into_iter()
        .filter(|(number, _)| *number > marker)
        .filter_map(|(_, mut list)| list.drain(..).next())
        .collect();
    let is_truncated = newest.len() > max_parts as usize;
    let page: Vec<Attempt> = newest.into_iter().take(max_parts as usize).collect();
    let entries: Vec<xml::PartEntry> = futures::stream::iter(page)
        .map(|attempt| part_entry(call, bucket, upload_id, &upload.key, attempt))
        .buffered(RECORDS_IN_FLIGHT)
        .try_collect()
        .await?;

    let page = xml::ListPartsPage {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: upload_id.to_owned(),
        part_number_marker: marker,
        next_part_number_marker: entries.last().map_or(0, |p| p.part_number),
        max_parts,
        is_truncated,
        parts: entries,
        owner: call.owner(),
        storage_class: upload.headers.storage_class().to_owned(),
    };
    Ok(super::bucket::xml_response(page.to_xml()))
}

/// One part of a ListParts page.
async fn part_entry(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
    upload_key: &DataKey,
    attempt: Attempt,
) -> Result<xml::PartEntry, Error> {
    let md5 = attempt_md5(call, bucket, upload_id, upload_key, &attempt).await?;
    Ok(xml::PartEntry {
        part_number: attempt.entry.part_number,
        last_modified: attempt.last_modified,
        etag: hex::encode(md5),
        size: attempt.entry.size,
    })
}

/// ListMultipartUploads: uploads in progress by key, then by creation time.
pub async fn list_uploads(call: &Call<'_>, bucket: &str) -> Result<Response<ResponseBody>, Error> {
    let query = &call.route.query;
    let prefix = query.get("prefix").unwrap_or_default().to_owned();
    let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
    let key_marker = query.get("key-marker").unwrap_or_default().to_owned();
    let id_marker = query.get("upload-id-marker").unwrap_or_default().to_owned();
    let max_uploads = number_param(call, "max-uploads")?
        .unwrap_or(MAX_LISTED)
        .min(MAX_LISTED);
    let url_encoded = match query.get("encoding-type") {
        None => false,
        Some("url") => true,
        Some(other) => {
            let msg = "Invalid Encoding Method specified in Request";
            return Err(S3Error::invalid_argument(msg, "encoding-type", other).into());
        }
    };
    call.app.backend.head_bucket(bucket).await?;

    let mut uploads = read_upload_records(call, bucket).await?;
    uploads.retain(|u| u.key.starts_with(&prefix));
    uploads.sort_by(|a, b| {
        (&a.key, a.initiated, &a.upload_id).cmp(&(&b.key, b.initiated, &b.upload_id))
    });
    skip_to_markers(&mut uploads, &key_marker, &id_marker);

    let mut page = xml::ListUploadsPage {
        bucket: bucket.to_owned(),
        key_marker,
        upload_id_marker: id_marker,
        prefix: prefix.clone(),
        delimiter: delimiter.map(str::to_owned),
        max_uploads,
        url_encoded,
        ..Default::default()
    };
    for upload in uploads {
        if page.uploads.len() + page.common_prefixes.len() >= max_uploads as usize {
            page.is_truncated = true;
            break;
        }
        let folded = delimiter.and_then(|d| {
            let rest = upload.key.get(prefix.len()..)?;
            rest.find(d)
                .map(|at| upload.key[..prefix.len() + at + d.len()].to_owned())
        });
        match folded {
            Some(common) if page.common_prefixes.last() == Some(&common) => {}
            Some(common) => {
                page.next_key_marker = common.clone();
                page.next_upload_id_marker = String::new();
                page.common_prefixes.push(common);
            }
            None => {
                page.next_key_marker = upload.key.clone();
                page.next_upload_id_marker = upload.upload_id.clone();
                page.uploads.push(upload);
            }
        }
    }
    if !page.is_truncated {
        page.next_key_marker = String::new();
        page.next_upload_id_marker = String::new();
    }
    Ok(super::bucket::xml_response(page.to_xml(&call.owner())))
}

// ---------------------------------------------------------------------------------------------
// Reading a completed multipart object

/// The part table of a multipart object, read and opened; `opened` must be a multipart object.
pub async fn read_table(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    opened: &Opened,
) -> Result<PartTable, Error> {
    let multipart = multipart_of(bucket, key, opened)?;
    let (again, stored_meta, body) = call.app.backend.get(bucket, key, None).await?;
    if again.size != opened.stored.size
        || ObjectMeta::from_stored(&stored_meta).ok().as_ref() != Some(&opened.meta)
    {
        return Err(Error::ConcurrentOverwrite);
    }
    let sealed = object::collect(body, again.size).await?;
    let completion_key = keys::completion_key(&opened.data_key, &multipart.completion)?;
    let plain = seal::open_part_table(&completion_key, &sealed)
        .map_err(|e| Error::corrupt(bucket, key, e))?;
    let table = PartTable::decode(&plain)
        .filter(|t| t.size() == opened.meta.size && t.parts.len() == multipart.parts as usize)
        .ok_or_else(|| Error::corrupt(bucket, key, "part table does not match the metadata"))?;
    Ok(table)
}

/// The plaintext bytes `wanted` of a multipart object: only the segments of the parts that
/// cover them are read. The first part is opened before this returns, so a missing part is an
/// error response rather than a broken one.
pub async fn read_plaintext(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    opened: &Opened,
    table: &PartTable,
    wanted: Range<u64>,
) -> Result<ByteStream, Error> {
    let multipart = multipart_of(bucket, key, opened)?;
    let mut pieces = table.pieces(wanted).into_iter();
    let Some(first) = pieces.next() else {
        return Ok(futures::stream::empty().boxed());
    };
    let reader = PartReader {
        records: Arc::clone(&call.app.records),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        upload_id: multipart.upload_id.clone(),
        upload_key: Arc::clone(&opened.data_key),
    };
    let first = reader.open(first).await?;
    let rest = futures::stream::iter(pieces)
        .then(move |piece| {
            let reader = reader.clone();
            async move {
                reader
                    .open(piece)
                    .await
                    .map_err(crate::body::BoxError::from)
            }
        })
        .try_flatten();
    Ok(first.chain(rest).boxed())
}

/// What opening the parts of one object needs, owned so the response stream can hold it.
#[derive(Clone)]
struct PartReader {
    records: Arc<dyn Backend>,
    bucket: String,
    key: String,
    upload_id: String,
    upload_key: Arc<DataKey>,
}

impl PartReader {
    /// The authenticated plaintext of one piece of one part.
    async fn open(&self, piece: parts::Piece) -> Result<ByteStream, Error> {
        let part = piece.part;
        let part_key = keys::part_key(&self.upload_key, part.part_number, &part.attempt)?;
        let plan = seal::plan(part.size, piece.range)?;
        let name = parts::part_record(&self.upload_id, part.part_number, &part.attempt);
        let got = self
            .records
            .get(&self.bucket, &name, Some(plan.sealed.clone()))
            .await;
        let (stored, _, sealed) = got.map_err(|e| match e {
            BackendError::NoSuchKey { .. } => {
                Error::corrupt(&self.bucket, &self.key, "a part record is missing")
            }
            other => other.into(),
        })?;
        if seal::plaintext_len(stored.size) != Some(part.size) {
            return Err(Error::corrupt(
                &self.bucket,
                &self.key,
                "a part record has the wrong size",
            ));
        }
        let stream = seal::open_stream(
            Arc::new(part_key),
            part.part_number,
            part.size,
            plan,
            sealed,
        );
        Ok(stream)
    }
}

fn multipart_of<'a>(bucket: &str, key: &str, opened: &'a Opened) -> Result<&'a Multipart, Error> {
    opened
        .meta
        .multipart
        .as_ref()
        .ok_or_else(|| Error::corrupt(bucket, key, "not a multipart object"))
}

// ---------------------------------------------------------------------------------------------
// Cleaning up after objects that are replaced or deleted

/// The upload of the object now under `key`, if it is a multipart object, read before it is
/// replaced so its parts can be removed after.
pub async fn previous_upload(call: &Call<'_>, bucket: &str, key: &str) -> Option<String> {
    let (_, stored) = call.app.backend.head(bucket, key).await.ok()?;
    ObjectMeta::from_stored(&stored)
        .ok()?
        .multipart
        .map(|m| m.upload_id)
}

/// Removes the parts of a multipart object that was replaced or deleted (unless the new object
/// is made of the same upload). Failures leave unreachable ciphertext behind and are logged.
pub async fn discard_previous(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    previous: Option<String>,
    current: Option<&str>,
) {
    if let Some(upload_id) = previous.filter(|p| Some(p.as_str()) != current) {
        tracing::debug!(
            bucket,
            key,
            upload_id,
            "parts of the replaced object removed"
        );
        discard_parts(call, bucket, &upload_id).await;
    }
}

/// Removes every part attempt of an upload.
pub async fn discard_parts(call: &Call<'_>, bucket: &str, upload_id: &str) {
    let prefix = parts::parts_prefix(upload_id);
    let names = match call.app.records.list(bucket, &prefix, None).await {
        Ok(listed) => listed.map_ok(|o| o.key).try_collect().await,
        Err(e) => Err(e),
    };
    match names {
        Ok(names) => delete_records(call, bucket, names).await,
        Err(e) => tracing::warn!(bucket, upload_id, error = %e, "parts not listed for removal"),
    }
}

/// Deletes records, a few at a time. Boxed: the stream of borrowing futures inside would
/// otherwise make every caller's future fail rustc's higher-ranked `Send` check.
fn delete_records<'a>(
    call: &'a Call<'_>,
    bucket: &'a str,
    names: Vec<String>,
) -> futures::future::BoxFuture<'a, ()> {
    async move {
        let _: Vec<()> = futures::stream::iter(names)
            .map(|name| delete_record(call, bucket, name))
            .buffer_unordered(RECORDS_IN_FLIGHT)
            .collect()
            .await;
    }
    .boxed()
}

async fn delete_record(call: &Call<'_>, bucket: &str, name: String) {
    let deleted = call.app.records.delete(bucket, &name).await;
    log_cleanup(deleted, bucket, &name);
}

fn log_cleanup(result: Result<(), BackendError>, bucket: &str, name: &str) {
    if let Err(e) = result {
        tracing::warn!(bucket, name, error = %e, "record not removed; it stays as unreachable ciphertext");
    }
}

// ---------------------------------------------------------------------------------------------
// The records of an upload

/// An upload in progress, opened.
pub struct Upload {
    /// The upload's data key.
    pub key: DataKey,
    /// kms-core's blob of it.
    wrapped_key: Vec<u8>,
    /// The client headers, sealed under the upload's data key.
    sealed_headers: Vec<u8>,
    /// The client headers.
    headers: StoredHeaders,
    /// The encryption it was created with.
    pub sse: Sse,
    /// The ARN of the master key that wraps its data key.
    pub master_key_arn: String,
}

impl Upload {
    /// Sets the SSE headers S3 answers part and completion requests with.
    pub fn report_sse(&self, response: &mut Response<ResponseBody>) {
        self.sse.apply(response.headers_mut(), &self.master_key_arn);
    }
}

/// Reads and opens the upload record of `upload_id`; `NoSuchUpload` if there is none for `key`.
pub async fn read_upload(
    call: &Call<'_>,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<Upload, Error> {
    let no_such_upload = || Error::S3(S3Error::no_such_upload(upload_id));
    if !parts::is_upload_id(upload_id) {
        call.app.backend.head_bucket(bucket).await?;
        return Err(no_such_upload());
    }
    let record = match fetch_record(call, bucket, upload_id).await? {
        Some(record) if record.key == key => record,
        _ => return Err(no_such_upload()),
    };
    let corrupt = |reason| Error::corrupt(bucket, key, reason);
    let wrapped_key = record
        .wrapped_key()
        .ok_or_else(|| corrupt("upload record key"))?;
    let sealed_headers = record
        .sealed_headers()
        .ok_or_else(|| corrupt("upload record headers"))?;
    let sse = record.sse();
    let (data_key, master_key_arn) = call
        .app
        .keys
        .unwrap_with(bucket, key, &wrapped_key, &sse.context()?)
        .map_err(|e| Error::from_unwrap(bucket, key, e))?;
    // Writing parts and completing use the upload's data key, as AWS asks kms:Decrypt for;
    // listing parts and aborting do not.
    use super::route::Operation::{CompleteMultipartUpload, UploadPart, UploadPartCopy};
    let operation = call.route.operation;
    if matches!(
        operation,
        UploadPart | UploadPartCopy | CompleteMultipartUpload
    ) {
        super::access::use_key(call, "kms:Decrypt", &master_key_arn, (bucket, key))?;
    }
    let headers_key = kms_core::aead::Key::new(data_key.as_bytes())?;
    let headers = object::open_headers(bucket, key, &headers_key, &sealed_headers)?;
    Ok(Upload {
        key: data_key,
        wrapped_key,
        sealed_headers,
        headers,
        sse,
        master_key_arn,
    })
}

/// The upload record of `upload_id`, if there is one.
async fn fetch_record(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
) -> Result<Option<UploadRecord>, Error> {
    let name = parts::upload_record(upload_id);
    let (stored, _, body) = match call.app.records.get(bucket, &name, None).await {
        Ok(found) => found,
        Err(BackendError::NoSuchKey { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bytes = object::collect(body, stored.size).await?;
    Ok(UploadRecord::from_bytes(&bytes))
}

/// Every upload in progress in `bucket`, unsorted.
async fn read_upload_records(
    call: &Call<'_>,
    bucket: &str,
) -> Result<Vec<xml::UploadEntry>, Error> {
    let listed = call
        .app
        .records
        .list(bucket, parts::UPLOADS_PREFIX, None)
        .await?;
    let names: Vec<String> = listed.map_ok(|o| o.key).try_collect().await?;
    let entries: Vec<Option<xml::UploadEntry>> = futures::stream::iter(names)
        .map(|name| upload_entry(call, bucket, name))
        .buffered(RECORDS_IN_FLIGHT)
        .collect()
        .await;
    Ok(entries.into_iter().flatten().collect())
}

/// The listing entry of the upload record `name`; `None` if it is gone or not a record.
async fn upload_entry(call: &Call<'_>, bucket: &str, name: String) -> Option<xml::UploadEntry> {
    let upload_id = parts::upload_id_of(&name)?.to_owned();
    let record = fetch_record(call, bucket, &upload_id).await.ok()??;
    Some(xml::UploadEntry {
        initiated: record.initiated(),
        key: record.key,
        upload_id,
        storage_class: "STANDARD".to_owned(),
    })
}

/// Drops the uploads a listing with these markers does not show: keys up to `key_marker`, and
/// of that key the uploads up to the one named by `id_marker` (S3 orders uploads of one key by
/// creation, so the marker is a position in that order).
fn skip_to_markers(uploads: &mut Vec<xml::UploadEntry>, key_marker: &str, id_marker: &str) {
    if key_marker.is_empty() {
        return;
    }
    let marker_at = uploads
        .iter()
        .position(|u| u.key == key_marker && u.upload_id == id_marker);
    let mut index = 0;
    uploads.retain(|upload| {
        let at = index;
        index += 1;
        match upload.key.as_str().cmp(key_marker) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => marker_at.is_some_and(|m| at > m),
        }
    });
}

/// One attempt at one part, as its record is listed.
#[derive(Debug, Clone)]
struct Attempt {
    /// The part it would be in a table.
    entry: PartEntry,
    /// Its record name.
    name: String,
    /// When it was written.
    last_modified: SystemTime,
}

/// Every attempt of every part of an upload, by part number, newest first.
async fn list_attempts(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
) -> Result<BTreeMap<u32, Vec<Attempt>>, Error> {
    let mut listed = call
        .app
        .records
        .list(bucket, &parts::parts_prefix(upload_id), None)
        .await?;
    let mut attempts: BTreeMap<u32, Vec<Attempt>> = BTreeMap::new();
    while let Some(object) = listed.next().await {
        let object = object?;
        let Some((part_number, attempt)) = parts::parse_part_record(upload_id, &object.key) else {
            continue;
        };
        let Some(size) = seal::plaintext_len(object.size) else {
            continue;
        };
        attempts.entry(part_number).or_default().push(Attempt {
            entry: PartEntry {
                part_number,
                attempt,
                size,
            },
            name: object.key,
            last_modified: object.last_modified.into(),
        });
    }
    for list in attempts.values_mut() {
        list.sort_by_key(|a| std::cmp::Reverse(a.last_modified));
    }
    Ok(attempts)
}

/// The plaintext MD5 of one attempt, from its sealed trailer.
async fn attempt_md5(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
    upload_key: &DataKey,
    attempt: &Attempt,
) -> Result<[u8; 16], Error> {
    let part = attempt.entry;
    let sealed_len = seal::sealed_len(part.size);
    let start = sealed_len.saturating_sub(seal::TRAILER_LEN);
    let (_, _, stream) = call
        .app
        .records
        .get(bucket, &attempt.name, Some(start..sealed_len))
        .await?;
    let bytes = object::collect(stream, seal::TRAILER_LEN).await?;
    let part_key = keys::part_key(upload_key, part.part_number, &part.attempt)?;
    let corrupt = |e: &dyn std::fmt::Display| {
        Error::corrupt(
            bucket,
            &parts::part_record(upload_id, part.part_number, &part.attempt),
            e,
        )
    };
    let trailer = seal::open_trailer(
        &part_key,
        part.part_number,
        seal::segment_count(part.size),
        &bytes,
    )
    .map_err(|e| corrupt(&e))?;
    match trailer.md5 {
        Some(md5) if trailer.plaintext_len == part.size => Ok(md5),
        _ => Err(corrupt(&"trailer does not match the record")),
    }
}

/// A part the client named, and the attempt whose ETag matched.
struct Chosen {
    entry: PartEntry,
    md5: [u8; 16],
}

/// For each part the client names, the newest attempt whose MD5 is the ETag the client holds;
/// `InvalidPart` if there is none.
async fn choose_attempts(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
    upload_key: &DataKey,
    attempts: &BTreeMap<u32, Vec<Attempt>>,
    requested: Vec<xml::CompletedPart>,
) -> Result<Vec<Chosen>, Error> {
    futures::stream::iter(requested)
        .map(|wanted| {
            let candidates = attempts
                .get(&wanted.part_number)
                .map_or(&[][..], Vec::as_slice);
            choose_attempt(call, bucket, upload_id, upload_key, candidates, wanted)
        })
        .buffered(RECORDS_IN_FLIGHT)
        .try_collect()
        .await
}

async fn choose_attempt(
    call: &Call<'_>,
    bucket: &str,
    upload_id: &str,
    upload_key: &DataKey,
    candidates: &[Attempt],
    wanted: xml::CompletedPart,
) -> Result<Chosen, Error> {
    let etag = wanted.etag.trim().trim_matches('"').to_ascii_lowercase();
    for attempt in candidates {
        let md5 = attempt_md5(call, bucket, upload_id, upload_key, attempt).await?;
        if hex::encode(md5) == etag {
            return Ok(Chosen {
                entry: attempt.entry,
                md5,
            });
        }
    }
    Err(Error::S3(
        S3Error::new(S3ErrorCode::InvalidPart)
            .with("UploadId", upload_id)
            .with("PartNumber", wanted.part_number.to_string())
            .with("ETag", wanted.etag),
    ))
}

/// Every part but the last must hold at least 5 MiB, as in S3.
fn check_part_sizes(chosen: &[Chosen]) -> Result<(), Error> {
    let Some((_, all_but_last)) = chosen.split_last() else {
        return Ok(());
    };
    match all_but_last
        .iter()
        .find(|c| c.entry.size < parts::MIN_PART_SIZE)
    {
        Some(small) => Err(Error::S3(
            S3Error::new(S3ErrorCode::EntityTooSmall)
                .with("ProposedSize", small.entry.size.to_string())
                .with("MinSizeAllowed", parts::MIN_PART_SIZE.to_string())
                .with("PartNumber", small.entry.part_number.to_string()),
        )),
        None => Ok(()),
    }
}

/// S3's multipart ETag digest: the MD5 of the parts' binary MD5s in order.
fn combined_md5(chosen: &[Chosen]) -> [u8; 16] {
    let mut hasher = md5::Md5::new();
    for part in chosen {
        hasher.update(part.md5);
    }
    hasher.finalize().into()
}

/// Metadata of an upload record.
fn record_meta() -> StoredMeta {
    [(meta::FORMAT.to_owned(), meta::FORMAT_VERSION.to_owned())].into()
}

/// Metadata of a part record: its plaintext size, which its sealed length must agree with.
pub fn part_meta(size: u64) -> StoredMeta {
    [
        (meta::FORMAT.to_owned(), meta::FORMAT_VERSION.to_owned()),
        (meta::SIZE.to_owned(), size.to_string()),
    ]
    .into()
}

/// The `uploadId` parameter, which the operation needs.
pub fn upload_id<'c>(call: &'c Call<'_>) -> Result<&'c str, Error> {
    call.route
        .upload_id()
        .ok_or(Error::S3(S3Error::invalid_argument(
            "This operation needs an upload id",
            "uploadId",
            "",
        )))
}

/// The `partNumber` parameter, which the operation needs.
pub fn required_part_number(call: &Call<'_>) -> Result<u32, Error> {
    match call.route.part_number()? {
        Some(n) => Ok(u32::from(n)),
        None => Err(Error::S3(S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            "",
        ))),
    }
}

/// A non-negative integer query parameter; anything else is `InvalidArgument`.
fn number_param(call: &Call<'_>, name: &'static str) -> Result<Option<u32>, Error> {
    let Some(raw) = call.route.query.get(name) else {
        return Ok(None);
    };
    raw.parse::<u32>().map(Some).map_err(|_| {
        let msg = "Provided value is not a valid non-negative integer";
        Error::S3(S3Error::invalid_argument(msg, name, raw))
    })
}
