//! S3's XML bodies: the documents handlers answer with and the ones clients send.
//!
//! Responses are built from plain structs ([`ListPage`], [`DeleteResult`], ...) and written by
//! one writer that adds the XML declaration and S3's `xmlns`, escapes text as S3 does, and turns
//! characters XML 1.0 cannot carry into U+FFFD, so a hostile key never breaks a document (S3
//! expects clients to ask for `encoding-type=url` for such keys, which [`url_encode`] serves).
//! Requests ([`parse_delete`], [`parse_complete_multipart_upload`], ...) are parsed leniently
//! about namespaces and unknown elements and strictly about shape: anything else is
//! `MalformedXML`.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::errors::{S3Error, S3ErrorCode};
use super::headers::iso8601_millis;

/// The namespace of every S3 document.
pub const S3_XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The most keys one DeleteObjects request may name.
pub const MAX_DELETE_KEYS: usize = 1000;

const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes `value` as an S3 document with root element `root`. Serialising cannot fail for these
/// documents (fixed element names; strings, numbers and booleans), so a failure yields an empty
/// document of the right type rather than a panic.
fn document<T: Serialize>(root: &str, value: &T) -> String {
    let mut body = String::with_capacity(512);
    let mut ser = match quick_xml::se::Serializer::with_root(&mut body, Some(root)) {
        Ok(ser) => ser,
        Err(_) => return empty_document(root),
    };
    ser.expand_empty_elements(true);
    ser.set_quote_level(quick_xml::se::QuoteLevel::Full);
    if value.serialize(ser).is_err() {
        return empty_document(root);
    }
    finish_document(root, &body)
}

/// Adds the declaration and `xmlns`, and makes every character legal XML 1.0.
fn finish_document(root: &str, body: &str) -> String {
    let open = format!("<{root}");
    let rest = body.strip_prefix(open.as_str()).unwrap_or(body);
    let mut out = String::with_capacity(body.len() + 100);
    out.push_str(DECLARATION);
    out.push('\n');
    out.push_str(&open);
    out.push_str(" xmlns=\"");
    out.push_str(S3_XMLNS);
    out.push('"');
    push_xml_chars(&mut out, rest);
    out
}

fn empty_document(root: &str) -> String {
    finish_document(root, &format!("<{root}></{root}>"))
}

fn push_xml_chars(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\r' => out.push_str("&#13;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// Escapes text content for XML 1.0, as S3 does (`&`, `<`, `>`, `"`, `'`); characters XML 1.0
/// cannot carry become U+FFFD.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => push_xml_chars(&mut out, c.encode_utf8(&mut [0; 4])),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'' | '\r') || !is_xml_char(c)
}

/// Whether XML 1.0 allows `c` in a document.
pub fn is_xml_char(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..
    )
}

/// S3's `encoding-type=url`: UTF-8 percent-encoding with `+` for a space, keeping ASCII letters,
/// digits, `-`, `_`, `.`, `*` and `/` (so `a b+c/d` becomes `a+b%2Bc/d`).
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' | b'/' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `"etag"`, whether or not the stored ETag carries its quotes.
fn quoted(etag: &str) -> String {
    if etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"') {
        etag.to_owned()
    } else {
        format!("\"{etag}\"")
    }
}

// ---------------------------------------------------------------------------------------------
// Service and bucket documents

/// The owner of buckets and objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// The canonical user id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The display name.
    #[serde(rename = "DisplayName")]
    pub display_name: String,
}

/// One bucket in ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    /// The bucket name.
    pub name: String,
    /// When it was created.
    pub creation_date: SystemTime,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListAllMyBucketsXml<'a> {
    owner: &'a Owner,
    buckets: BucketsXml,
}

#[derive(Serialize)]
struct BucketsXml {
    #[serde(rename = "Bucket")]
    bucket: Vec<BucketXml>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BucketXml {
    name: String,
    creation_date: String,
}

/// The `ListAllMyBucketsResult` of ListBuckets.
pub fn list_all_my_buckets(owner: &Owner, buckets: &[BucketEntry]) -> String {
    let bucket = buckets
        .iter()
        .map(|b| BucketXml {
            name: b.name.clone(),
            creation_date: iso8601_millis(b.creation_date),
        })
        .collect();
    let doc = ListAllMyBucketsXml {
        owner,
        buckets: BucketsXml { bucket },
    };
    document("ListAllMyBucketsResult", &doc)
}

/// The `LocationConstraint` of GetBucketLocation: empty for `us-east-1`, as S3 answers.
pub fn location_constraint(region: &str) -> String {
    if region.is_empty() || region == "us-east-1" {
        return empty_document("LocationConstraint");
    }
    finish_document(
        "LocationConstraint",
        &format!(
            "<LocationConstraint>{}</LocationConstraint>",
            escape_text(region)
        ),
    )
}

/// The `VersioningConfiguration` of a bucket that never had versioning: an empty element.
pub fn versioning_configuration() -> String {
    empty_document("VersioningConfiguration")
}

/// A parsed `CreateBucketConfiguration`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CreateBucketConfiguration {
    /// The region asked for, if any.
    #[serde(rename = "LocationConstraint", default)]
    pub location_constraint: Option<String>,
}

/// Parses CreateBucket's optional body: an empty body means no configuration.
pub fn parse_create_bucket_configuration(
    body: &[u8],
) -> Result<Option<CreateBucketConfiguration>, S3Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_root("CreateBucketConfiguration", body).map(Some)
}

// ---------------------------------------------------------------------------------------------
// Listings

/// One object in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEntry {
    /// The key (decoded).
    pub key: String,
    /// Last-Modified.
    pub last_modified: SystemTime,
    /// The ETag, quoted or not.
    pub etag: String,
    /// The plaintext size.
    pub size: u64,
    /// The storage class (`STANDARD` unless another was given).
    pub storage_class: String,
}

/// What ListObjects and ListObjectsV2 have in common: one page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The bucket name.
    pub bucket: String,
    /// The `prefix` asked for (empty when none).
    pub prefix: String,
    /// The `delimiter` asked for; an empty delimiter is not reported, as S3 does.
    pub delimiter: Option<String>,
    /// The `max-keys` in effect.
    pub max_keys: usize,
    /// Whether more results follow.
    pub is_truncated: bool,
    /// Whether `encoding-type=url` was asked for.
    pub url_encoded: bool,
    /// The objects of this page, in S3 order.
    pub objects: Vec<ObjectEntry>,
    /// The common prefixes of this page, in S3 order.
    pub common_prefixes: Vec<String>,
}

/// The ListObjectsV2 parameters echoed in its result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListV2Tokens {
    /// The `continuation-token` sent (echoed as is, never url-encoded).
    pub continuation_token: Option<String>,
    /// The token for the next page, when truncated.
    pub next_continuation_token: Option<String>,
    /// The `start-after` sent.
    pub start_after: Option<String>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ListBucketResultXml {
    name: String,
    prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_marker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_count: Option<usize>,
    max_keys: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<&'static str>,
    is_truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_after: Option<String>,
    contents: Vec<ContentsXml>,
    common_prefixes: Vec<PrefixXml>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContentsXml {
    key: String,
    last_modified: String,
    #[serde(rename = "ETag")]
    etag: String,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<Owner>,
    storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PrefixXml {
    prefix: String,
}

/// How a page's names are written: as they are, or url-encoded.
struct NameEncoder(bool);

impl NameEncoder {
    fn apply(&self, s: &str) -> String {
        if self.0 { url_encode(s) } else { s.to_owned() }
    }
}

impl ListPage {
    fn base_xml(&self, owner: Option<&Owner>) -> ListBucketResultXml {
        let enc = NameEncoder(self.url_encoded);
        let contents = self
            .objects
            .iter()
            .map(|o| contents_xml(o, &enc, owner))
            .collect();
        let prefixes = self.common_prefixes.iter().map(|p| PrefixXml {
            prefix: enc.apply(p),
        });
        ListBucketResultXml {
            name: self.bucket.clone(),
            prefix: enc.apply(&self.prefix),
            max_keys: self.max_keys,
            delimiter: self
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| enc.apply(d)),
            encoding_type: self.url_encoded.then_some("url"),
            is_truncated: self.is_truncated,
            contents,
            common_prefixes: prefixes.collect(),
            ..ListBucketResultXml::default()
        }
    }

    fn has_delimiter(&self) -> bool {
        self.delimiter.as_deref().is_some_and(|d| !d.is_empty())
    }
}

fn contents_xml(o: &ObjectEntry, enc: &NameEncoder, owner: Option<&Owner>) -> ContentsXml {
    ContentsXml {
        key: enc.apply(&o.key),
        last_modified: iso8601_millis(o.last_modified),
        etag: quoted(&o.etag),
        size: o.size,
        owner: owner.cloned(),
        storage_class: o.storage_class.clone(),
    }
}

/// The `ListBucketResult` of ListObjects (v1). Owner is always reported; `NextMarker` only when
/// the page is truncated and a delimiter was given, as S3 does.
pub fn list_objects_v1(
    page: &ListPage,
    marker: &str,
    next_marker: Option<&str>,
    owner: &Owner,
) -> String {
    let enc = NameEncoder(page.url_encoded);
    let next_marker = next_marker.filter(|_| page.is_truncated && page.has_delimiter());
    let doc = ListBucketResultXml {
        marker: Some(enc.apply(marker)),
        next_marker: next_marker.map(|m| enc.apply(m)),
        ..page.base_xml(Some(owner))
    };
    document("ListBucketResult", &doc)
}

/// The `ListBucketResult` of ListObjectsV2. Owner is reported only with `fetch-owner=true`.
pub fn list_objects_v2(page: &ListPage, tokens: &ListV2Tokens, owner: Option<&Owner>) -> String {
    let enc = NameEncoder(page.url_encoded);
    let doc = ListBucketResultXml {
        continuation_token: tokens.continuation_token.clone(),
        next_continuation_token: tokens.next_continuation_token.clone(),
        key_count: Some(page.objects.len() + page.common_prefixes.len()),
        start_after: tokens.start_after.as_deref().map(|s| enc.apply(s)),
        ..page.base_xml(owner)
    };
    document("ListBucketResult", &doc)
}

/// The `Tagging` document of an object without tags.
pub fn empty_tagging() -> String {
    finish_document("Tagging", "<Tagging><TagSet></TagSet></Tagging>")
}

// ---------------------------------------------------------------------------------------------
// DeleteObjects

/// One object named in a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ObjectIdentifier {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The version id, if one was given.
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

/// A parsed DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeleteRequest {
    /// The objects to delete, in the order sent.
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
    /// Quiet mode: report only errors.
    #[serde(rename = "Quiet", default)]
    pub quiet: bool,
}

/// Parses a `Delete` document: 1 to 1000 objects, else `MalformedXML` (as S3 answers).
pub fn parse_delete(body: &[u8]) -> Result<DeleteRequest, S3Error> {
    let request: DeleteRequest = parse_root("Delete", body)?;
    if request.objects.is_empty() || request.objects.len() > MAX_DELETE_KEYS {
        return Err(malformed_xml());
    }
    Ok(request)
}

/// One key DeleteObjects deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deleted {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The version id asked for, if any.
    #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// One key DeleteObjects could not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteError {
    /// The key.
    #[serde(rename = "Key")]
    pub key: String,
    /// The version id asked for, if any.
    #[serde(rename = "VersionId", skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The S3 error code.
    #[serde(rename = "Code")]
    pub code: String,
    /// The message.
    #[serde(rename = "Message")]
    pub message: String,
}

impl DeleteError {
    /// The entry for a key that failed with `error`.
    pub fn new(key: String, version_id: Option<String>, error: &S3Error) -> Self {
        let code = error.code.as_str().to_owned();
        Self {
            key,
            version_id,
            code,
            message: error.message.to_string(),
        }
    }
}

/// The `DeleteResult` of DeleteObjects. In quiet mode pass no `deleted` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeleteResult {
    /// Keys deleted.
    #[serde(rename = "Deleted")]
    pub deleted: Vec<Deleted>,
    /// Keys that failed.
    #[serde(rename = "Error")]
    pub errors: Vec<DeleteError>,
}

impl DeleteResult {
    /// The document.
    pub fn to_xml(&self) -> String {
        document("DeleteResult", self)
    }
}

// ---------------------------------------------------------------------------------------------
// Copies and multipart uploads

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CopyResultXml {
    last_modified: String,
    #[serde(rename = "ETag")]
    etag: String,
}

/// The `CopyObjectResult` of CopyObject.
pub fn copy_object_result(etag: &str, last_modified: SystemTime) -> String {
    let doc = CopyResultXml {
        last_modified: iso8601_millis(last_modified),
        etag: quoted(etag),
    };
    document("CopyObjectResult", &doc)
}

/// The `CopyPartResult` of UploadPartCopy.
pub fn copy_part_result(etag: &str, last_modified: SystemTime) -> String {
    let doc = CopyResultXml {
        last_modified: iso8601_millis(last_modified),
        etag: quoted(etag),
    };
    document("CopyPartResult", &doc)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateXml<'a> {
    bucket: &'a str,
    key: &'a str,
    upload_id: &'a str,
}

/// The `InitiateMultipartUploadResult` of CreateMultipartUpload.
pub fn initiate_multipart_upload_result(bucket: &str, key: &str, upload_id: &str) -> String {
    document(
        "InitiateMultipartUploadResult",
        &InitiateXml {
            bucket,
            key,
            upload_id,
        },
    )
}

/// One part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CompletedPart {
    /// The part number (1 to 10000).
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    /// The part's ETag as the client sent it (quoted or not).
    #[serde(rename = "ETag")]
    pub etag: String,
    /// The part's CRC32 checksum, if the client sent one.
    #[serde(rename = "ChecksumCRC32", default)]
    pub checksum_crc32: Option<String>,
    /// The part's CRC32C checksum, if the client sent one.
    #[serde(rename = "ChecksumCRC32C", default)]
    pub checksum_crc32c: Option<String>,
    /// The part's SHA-1 checksum, if the client sent one.
    #[serde(rename = "ChecksumSHA1", default)]
    pub checksum_sha1: Option<String>,
    /// The part's SHA-256 checksum, if the client sent one.
    #[serde(rename = "ChecksumSHA256", default)]
    pub checksum_sha256: Option<String>,
}

#[derive(Deserialize)]
struct CompleteXml {
    #[serde(rename = "Part", default)]
    parts: Vec<CompletedPart>,
}

/// Parses a `CompleteMultipartUpload` document: at least one part, part numbers 1 to 10000
/// (`MalformedXML` / `InvalidArgument`), in ascending order (`InvalidPartOrder`).
pub fn parse_complete_multipart_upload(body: &[u8]) -> Result<Vec<CompletedPart>, S3Error> {
    let parts = parse_root::<CompleteXml>("CompleteMultipartUpload", body)?.parts;
    if parts.is_empty() {
        return Err(malformed_xml());
    }
    if let Some(bad) = parts
        .iter()
        .find(|p| !(1..=10_000).contains(&p.part_number))
    {
        let value = bad.part_number.to_string();
        let msg = "Part number must be an integer between 1 and 10000, inclusive";
        return Err(S3Error::invalid_argument(msg, "partNumber", &value));
    }
    if parts
        .windows(2)
        .any(|w| matches!(w, [a, b] if a.part_number >= b.part_number))
    {
        return Err(S3Error::new(S3ErrorCode::InvalidPartOrder));
    }
    Ok(parts)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteResultXml<'a> {
    location: &'a str,
    bucket: &'a str,
    key: &'a str,
    #[serde(rename = "ETag")]
    etag: String,
}

/// The `CompleteMultipartUploadResult`; `location` is the object's URL.
pub fn complete_multipart_upload_result(
    location: &str,
    bucket: &str,
    key: &str,
    etag: &str,
) -> String {
    let doc = CompleteResultXml {
        location,
        bucket,
        key,
        etag: quoted(etag),
    };
    document("CompleteMultipartUploadResult", &doc)
}

/// One part in ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartEntry {
    /// The part number.
    pub part_number: u32,
    /// When it was uploaded.
    pub last_modified: SystemTime,
    /// Its ETag, quoted or not.
    pub etag: String,
    /// Its plaintext size.
    pub size: u64,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsPage {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// The `part-number-marker` sent (0 when none).
    pub part_number_marker: u32,
    /// The marker for the next page (the last part listed).
    pub next_part_number_marker: u32,
    /// The `max-parts` in effect.
    pub max_parts: u32,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// The parts of this page.
    pub parts: Vec<PartEntry>,
    /// The initiator and owner of the upload.
    pub owner: Owner,
    /// The storage class of the upload.
    pub storage_class: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListPartsXml<'a> {
    bucket: &'a str,
    key: &'a str,
    upload_id: &'a str,
    part_number_marker: u32,
    next_part_number_marker: u32,
    max_parts: u32,
    is_truncated: bool,
    part: Vec<PartXml>,
    initiator: &'a Owner,
    owner: &'a Owner,
    storage_class: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PartXml {
    part_number: u32,
    last_modified: String,
    #[serde(rename = "ETag")]
    etag: String,
    size: u64,
}

impl ListPartsPage {
    /// The `ListPartsResult` document.
    pub fn to_xml(&self) -> String {
        let part = self
            .parts
            .iter()
            .map(|p| PartXml {
                part_number: p.part_number,
                last_modified: iso8601_millis(p.last_modified),
                etag: quoted(&p.etag),
                size: p.size,
            })
            .collect();
        let doc = ListPartsXml {
            bucket: &self.bucket,
            key: &self.key,
            upload_id: &self.upload_id,
            part_number_marker: self.part_number_marker,
            next_part_number_marker: self.next_part_number_marker,
            max_parts: self.max_parts,
            is_truncated: self.is_truncated,
            part,
            initiator: &self.owner,
            owner: &self.owner,
            storage_class: &self.storage_class,
        };
        document("ListPartsResult", &doc)
    }
}

/// One upload in ListMultipartUploads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadEntry {
    /// The key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was initiated.
    pub initiated: SystemTime,
    /// Its storage class.
    pub storage_class: String,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsPage {
    /// The bucket.
    pub bucket: String,
    /// The `key-marker` sent.
    pub key_marker: String,
    /// The `upload-id-marker` sent.
    pub upload_id_marker: String,
    /// The key marker for the next page.
    pub next_key_marker: String,
    /// The upload id marker for the next page.
    pub next_upload_id_marker: String,
    /// The `prefix` sent.
    pub prefix: String,
    /// The `delimiter` sent.
    pub delimiter: Option<String>,
    /// The `max-uploads` in effect.
    pub max_uploads: u32,
    /// Whether more uploads follow.
    pub is_truncated: bool,
    /// Whether `encoding-type=url` was asked for.
    pub url_encoded: bool,
    /// The uploads of this page.
    pub uploads: Vec<UploadEntry>,
    /// The common prefixes of this page.
    pub common_prefixes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListUploadsXml<'a> {
    bucket: &'a str,
    key_marker: String,
    upload_id_marker: &'a str,
    next_key_marker: String,
    next_upload_id_marker: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delimiter: Option<String>,
    prefix: String,
    max_uploads: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    encoding_type: Option<&'static str>,
    is_truncated: bool,
    upload: Vec<UploadXml<'a>>,
    common_prefixes: Vec<PrefixXml>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UploadXml<'a> {
    key: String,
    upload_id: &'a str,
    initiator: &'a Owner,
    owner: &'a Owner,
    storage_class: &'a str,
    initiated: String,
}

impl ListUploadsPage {
    /// The `ListMultipartUploadsResult` document; uploads are reported as owned by `owner`.
    pub fn to_xml(&self, owner: &Owner) -> String {
        let enc = NameEncoder(self.url_encoded);
        let upload = self.uploads.iter().map(|u| UploadXml {
            key: enc.apply(&u.key),
            upload_id: &u.upload_id,
            initiator: owner,
            owner,
            storage_class: &u.storage_class,
            initiated: iso8601_millis(u.initiated),
        });
        let prefixes = self.common_prefixes.iter().map(|p| PrefixXml {
            prefix: enc.apply(p),
        });
        let doc = ListUploadsXml {
            bucket: &self.bucket,
            key_marker: enc.apply(&self.key_marker),
            upload_id_marker: &self.upload_id_marker,
            next_key_marker: enc.apply(&self.next_key_marker),
            next_upload_id_marker: &self.next_upload_id_marker,
            delimiter: self
                .delimiter
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| enc.apply(d)),
            prefix: enc.apply(&self.prefix),
            max_uploads: self.max_uploads,
            encoding_type: self.url_encoded.then_some("url"),
            is_truncated: self.is_truncated,
            upload: upload.collect(),
            common_prefixes: prefixes.collect(),
        };
        document("ListMultipartUploadsResult", &doc)
    }
}

// ---------------------------------------------------------------------------------------------
// Bucket encryption

/// The server-side encryption algorithms S3 accepts in a bucket's default encryption.
const SSE_ALGORITHMS: &[&str] = &["AES256", "aws:kms", "aws:kms:dsse"];

/// A bucket's default encryption (`ServerSideEncryptionConfiguration`, one rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSideEncryptionConfiguration {
    /// The rules; S3 allows exactly one.
    #[serde(rename = "Rule", default)]
    pub rules: Vec<EncryptionRule>,
}

/// One rule of a bucket's default encryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionRule {
    /// The default applied to objects stored without SSE headers.
    #[serde(rename = "ApplyServerSideEncryptionByDefault")]
    pub default: SseDefault,
    /// Whether an S3 Bucket Key is used (accepted and echoed).
    #[serde(
        rename = "BucketKeyEnabled",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub bucket_key_enabled: Option<bool>,
}

/// `ApplyServerSideEncryptionByDefault`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SseDefault {
    /// `AES256`, `aws:kms` or `aws:kms:dsse`.
    #[serde(rename = "SSEAlgorithm")]
    pub sse_algorithm: String,
    /// The KMS key id or ARN, only with `aws:kms` and `aws:kms:dsse`.
    #[serde(
        rename = "KMSMasterKeyID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub kms_master_key_id: Option<String>,
}

impl ServerSideEncryptionConfiguration {
    /// The configuration with one rule.
    pub fn new(sse_algorithm: &str, kms_master_key_id: Option<String>) -> Self {
        let default = SseDefault {
            sse_algorithm: sse_algorithm.to_owned(),
            kms_master_key_id,
        };
        Self {
            rules: vec![EncryptionRule {
                default,
                bucket_key_enabled: None,
            }],
        }
    }

    /// The document, for GetBucketEncryption.
    pub fn to_xml(&self) -> String {
        document("ServerSideEncryptionConfiguration", self)
    }

    /// Parses PutBucketEncryption's body: exactly one rule with a known algorithm
    /// (`MalformedXML`), and a KMS key only for a KMS algorithm (`InvalidArgument`).
    pub fn parse(body: &[u8]) -> Result<Self, S3Error> {
        let config: Self = parse_root("ServerSideEncryptionConfiguration", body)?;
        let [rule] = config.rules.as_slice() else {
            return Err(malformed_xml());
        };
        let default = &rule.default;
        if !SSE_ALGORITHMS.contains(&default.sse_algorithm.as_str()) {
            return Err(malformed_xml());
        }
        if default.sse_algorithm == "AES256" && default.kms_master_key_id.is_some() {
            let msg =
                "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms";
            return Err(S3Error::with_message(S3ErrorCode::InvalidArgument, msg));
        }
        Ok(config)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

/// Parses a request document whose root element must be `root` (any namespace).
fn parse_root<T: DeserializeOwned>(root: &str, body: &[u8]) -> Result<T, S3Error> {
    let text = std::str::from_utf8(body).map_err(|_| malformed_xml())?;
    if !has_root(text, root) {
        return Err(malformed_xml());
    }
    quick_xml::de::from_str(text).map_err(|_| malformed_xml())
}

/// Whether the first element of a document is named `root` (ignoring any namespace prefix).
fn has_root(text: &str, root: &str) -> bool {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return e.local_name().into_inner() == root;
            }
            Ok(Event::Eof) | Err(_) => return false,
            Ok(_) => {}
        }
    }
}

fn malformed_xml() -> S3Error {
    S3Error::new(S3ErrorCode::MalformedXML)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

    fn at(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(millis)
    }

    fn owner() -> Owner {
        Owner {
            id: "abc123".into(),
            display_name: "sealgate".into(),
        }
    }

    /// Reads a whole document with a strict reader: it must be well-formed XML 1.0.
    fn assert_well_formed(xml: &str) {
        let mut reader = quick_xml::Reader::from_str(xml);
        reader.config_mut().check_end_names = true;
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::Text(t)) => {
                    let text = t.xml10_content();
                    assert!(text.chars().all(is_xml_char), "{xml}");
                }
                Ok(_) => {}
                Err(e) => panic!("{e}: {xml}"),
            }
        }
        assert!(xml.chars().all(is_xml_char), "{xml}");
    }

    fn entry(key: &str) -> ObjectEntry {
        ObjectEntry {
            key: key.into(),
            last_modified: at(1_796_327_449_000),
            etag: "d41d8cd98f00b204e9800998ecf8427e".into(),
            size: 3,
            storage_class: "STANDARD".into(),
        }
    }

    fn page(keys: &[&str], prefixes: &[&str]) -> ListPage {
        ListPage {
            bucket: "bkt".into(),
            prefix: String::new(),
            delimiter: None,
            max_keys: 1000,
            is_truncated: false,
            url_encoded: false,
            objects: keys.iter().map(|k| entry(k)).collect(),
            common_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn list_buckets_document() {
        let buckets = [BucketEntry {
            name: "b1".into(),
            creation_date: at(1_000),
        }];
        let xml = list_all_my_buckets(&owner(), &buckets);
        let want = format!(
            "{HEAD}<ListAllMyBucketsResult xmlns=\"{S3_XMLNS}\"><Owner><ID>abc123</ID>\
             <DisplayName>sealgate</DisplayName></Owner><Buckets><Bucket><Name>b1</Name>\
             <CreationDate>1970-01-01T00:00:01.000Z</CreationDate></Bucket></Buckets>\
             </ListAllMyBucketsResult>"
        );
        assert_eq!(xml, want);
        let empty = list_all_my_buckets(&owner(), &[]);
        assert!(empty.contains("<Buckets></Buckets>"), "{empty}");
        assert_well_formed(&empty);
    }

    #[test]
    fn location_and_versioning_documents() {
        let empty = format!("{HEAD}<LocationConstraint xmlns=\"{S3_XMLNS}\"></LocationConstraint>");
        assert_eq!(location_constraint("us-east-1"), empty);
        assert_eq!(location_constraint(""), empty);
        let eu = format!(
            "{HEAD}<LocationConstraint xmlns=\"{S3_XMLNS}\">eu-west-1</LocationConstraint>"
        );
        assert_eq!(location_constraint("eu-west-1"), eu);
        let versioning = versioning_configuration();
        assert_eq!(
            versioning,
            format!(
                "{HEAD}<VersioningConfiguration xmlns=\"{S3_XMLNS}\"></VersioningConfiguration>"
            )
        );
    }

    #[test]
    fn list_v2_document() {
        let mut p = page(&["a&b.txt"], &["dir/"]);
        p.delimiter = Some("/".into());
        let xml = list_objects_v2(&p, &ListV2Tokens::default(), None);
        let want = format!(
            "{HEAD}<ListBucketResult xmlns=\"{S3_XMLNS}\"><Name>bkt</Name><Prefix></Prefix>\
             <KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter>\
             <IsTruncated>false</IsTruncated><Contents><Key>a&amp;b.txt</Key>\
             <LastModified>2026-12-03T19:50:49.000Z</LastModified>\
             <ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag><Size>3</Size>\
             <StorageClass>STANDARD</StorageClass></Contents>\
             <CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes></ListBucketResult>"
        );
        assert_eq!(xml, want);
    }

    #[test]
    fn list_v2_tokens_owner_and_encoding() {
        let mut p = page(&["a b+c/ü"], &["x y/"]);
        p.prefix = "a b".into();
        p.delimiter = Some("/".into());
        p.url_encoded = true;
        p.is_truncated = true;
        let tokens = ListV2Tokens {
            continuation_token: Some("tok+/=".into()),
            next_continuation_token: Some("next".into()),
            start_after: Some("s t".into()),
        };
        let xml = list_objects_v2(&p, &tokens, Some(&owner()));
        assert_well_formed(&xml);
        for part in [
            "<Prefix>a+b</Prefix>",
            "<ContinuationToken>tok+/=</ContinuationToken>",
            "<NextContinuationToken>next</NextContinuationToken>",
            "<KeyCount>2</KeyCount>",
            "<EncodingType>url</EncodingType>",
            "<IsTruncated>true</IsTruncated>",
            "<StartAfter>s+t</StartAfter>",
            "<Key>a+b%2Bc/%C3%BC</Key>",
            "<Owner><ID>abc123</ID><DisplayName>sealgate</DisplayName></Owner>",
            "<CommonPrefixes><Prefix>x+y/</Prefix></CommonPrefixes>",
        ] {
            assert!(xml.contains(part), "{part} missing from {xml}");
        }
    }

    #[test]
    fn list_v1_markers_and_owner() {
        let mut p = page(&["k1"], &[]);
        p.is_truncated = true;
        let xml = list_objects_v1(&p, "m 1", Some("k1"), &owner());
        assert!(xml.contains("<Marker>m 1</Marker>"));
        assert!(
            !xml.contains("NextMarker"),
            "no delimiter, no NextMarker: {xml}"
        );
        assert!(xml.contains("<Owner><ID>abc123</ID>"));
        assert!(!xml.contains("KeyCount"));

        p.delimiter = Some("/".into());
        p.url_encoded = true;
        let xml = list_objects_v1(&p, "m 1", Some("k 1"), &owner());
        assert!(xml.contains("<Marker>m+1</Marker>"));
        assert!(xml.contains("<NextMarker>k+1</NextMarker>"));
        assert!(xml.contains("<Delimiter>/</Delimiter>"));

        p.is_truncated = false;
        let xml = list_objects_v1(&p, "", Some("k1"), &owner());
        assert!(xml.contains("<Marker></Marker>"));
        assert!(!xml.contains("NextMarker"));
    }

    #[test]
    fn empty_delimiter_is_not_reported() {
        let mut p = page(&[], &[]);
        p.delimiter = Some(String::new());
        let xml = list_objects_v2(&p, &ListV2Tokens::default(), None);
        assert!(!xml.contains("Delimiter"), "{xml}");
        assert!(xml.contains("<KeyCount>0</KeyCount>"));
    }

    #[test]
    fn hostile_keys_never_break_the_document() {
        let keys = [
            "\u{1}\u{8}\u{b}\u{c}\u{1f}",
            "a\rb\nc\td",
            "<&>\"'",
            "\u{fffe}\u{ffff}",
            "]]>",
        ];
        let p = page(&keys, &["\u{0}/"]);
        let xml = list_objects_v2(&p, &ListV2Tokens::default(), None);
        assert_well_formed(&xml);
        assert!(xml.contains("<Key>\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}</Key>"));
        assert!(xml.contains("<Key>a&#13;b\nc\td</Key>"));
        assert!(xml.contains("<Key>&lt;&amp;&gt;&quot;&apos;</Key>"));
        assert!(xml.contains("<Key>]]&gt;</Key>"));

        let mut encoded = p.clone();
        encoded.url_encoded = true;
        let xml = list_objects_v2(&encoded, &ListV2Tokens::default(), None);
        assert!(xml.contains("<Key>%01%08%0B%0C%1F</Key>"));
        assert!(xml.contains("<Prefix>%00/</Prefix>"));
    }

    #[test]
    fn url_encoding_table() {
        let cases = [
            ("a b.txt", "a+b.txt"),
            ("a+b.txt", "a%2Bb.txt"),
            ("100%.csv", "100%25.csv"),
            ("한글/x.txt", "%ED%95%9C%EA%B8%80/x.txt"),
            ("test_file(3).png", "test_file%283%29.png"),
            ("a-b_c.d*e/f", "a-b_c.d*e/f"),
            ("~!@#$&=?,;:'\"", "%7E%21%40%23%24%26%3D%3F%2C%3B%3A%27%22"),
            ("\u{1}\n", "%01%0A"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(url_encode(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn parse_delete_as_boto3_sends_it() {
        // botocore: ElementTree with a declaration in single quotes, no whitespace.
        let body = "<?xml version='1.0' encoding='utf-8'?>\n<Delete xmlns=\"http://s3.amazonaws.\
                    com/doc/2006-03-01/\"><Object><Key>a</Key></Object><Object><Key> sp ace </Key>\
                    </Object><Object><Key>x&amp;y&lt;z\"</Key><VersionId>v1</VersionId></Object>\
                    <Object><Key>中文/ü</Key></Object><Quiet>true</Quiet></Delete>";
        let d = parse_delete(body.as_bytes()).unwrap();
        assert!(d.quiet);
        let keys: Vec<&str> = d.objects.iter().map(|o| o.key.as_str()).collect();
        assert_eq!(keys, ["a", " sp ace ", "x&y<z\"", "中文/ü"]);
        assert_eq!(d.objects[2].version_id.as_deref(), Some("v1"));
        assert_eq!(d.objects[0].version_id, None);
    }

    #[test]
    fn parse_delete_as_aws_cli_sends_it() {
        // aws-cli s3 rm --recursive: the same serializer, Quiet false, pretty-printed variants.
        let body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Object>\n    \
                    <Key>dir/</Key>\n  </Object>\n  <Quiet>false</Quiet>\n</Delete>\n";
        let d = parse_delete(body.as_bytes()).unwrap();
        assert!(!d.quiet);
        assert_eq!(d.objects.len(), 1);
        assert_eq!(d.objects[0].key, "dir/");
        let no_quiet = parse_delete(b"<Delete><Object><Key>k</Key></Object></Delete>").unwrap();
        assert!(!no_quiet.quiet);
    }

    #[test]
    fn parse_delete_refuses_bad_documents() {
        let many: String = (0..=MAX_DELETE_KEYS)
            .map(|i| format!("<Object><Key>{i}</Key></Object>"))
            .collect();
        let exactly: String = (0..MAX_DELETE_KEYS)
            .map(|i| format!("<Object><Key>{i}</Key></Object>"))
            .collect();
        assert_eq!(
            parse_delete(format!("<Delete>{exactly}</Delete>").as_bytes())
                .unwrap()
                .objects
                .len(),
            1000
        );
        let many = format!("<Delete>{many}</Delete>");
        let bad: &[&[u8]] = &[
            many.as_bytes(),
            b"<Delete></Delete>",
            b"<Delete/>",
            b"",
            b"not xml",
            b"<Delete><Object><Key>a</Key></Object>",
            b"<Remove><Object><Key>a</Key></Object></Remove>",
            b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",
            b"<Delete><Object><Key>a</Key></Object><Quiet>maybe</Quiet></Delete>",
            b"<Delete><Object><Key>\xff</Key></Object></Delete>",
        ];
        for body in bad {
            let err = parse_delete(body).unwrap_err();
            assert_eq!(
                err.code,
                S3ErrorCode::MalformedXML,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn delete_result_document() {
        let result = DeleteResult {
            deleted: vec![Deleted {
                key: "a".into(),
                version_id: None,
            }],
            errors: vec![DeleteError::new(
                "b".into(),
                Some("v".into()),
                &S3Error::new(S3ErrorCode::AccessDenied),
            )],
        };
        let want = format!(
            "{HEAD}<DeleteResult xmlns=\"{S3_XMLNS}\"><Deleted><Key>a</Key></Deleted><Error>\
             <Key>b</Key><VersionId>v</VersionId><Code>AccessDenied</Code>\
             <Message>Access Denied</Message></Error></DeleteResult>"
        );
        assert_eq!(result.to_xml(), want);
        assert_eq!(
            DeleteResult::default().to_xml(),
            format!("{HEAD}<DeleteResult xmlns=\"{S3_XMLNS}\"></DeleteResult>")
        );
    }

    #[test]
    fn copy_and_initiate_documents() {
        let xml = copy_object_result("abc", at(0));
        assert_eq!(
            xml,
            format!(
                "{HEAD}<CopyObjectResult xmlns=\"{S3_XMLNS}\"><LastModified>\
                 1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag>\
                 </CopyObjectResult>"
            )
        );
        assert!(copy_part_result("\"abc\"", at(0)).contains("<CopyPartResult xmlns="));
        let xml = initiate_multipart_upload_result("bkt", "a/b c", "up-1");
        assert_eq!(
            xml,
            format!(
                "{HEAD}<InitiateMultipartUploadResult xmlns=\"{S3_XMLNS}\"><Bucket>bkt</Bucket>\
                 <Key>a/b c</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>"
            )
        );
    }

    #[test]
    fn parse_complete_as_boto3_sends_it() {
        let body = "<?xml version='1.0' encoding='utf-8'?>\n<CompleteMultipartUpload xmlns=\"\
                    http://s3.amazonaws.com/doc/2006-03-01/\"><Part><ETag>\"e1\"</ETag>\
                    <ChecksumCRC32>AAAAAA==</ChecksumCRC32><PartNumber>1</PartNumber></Part>\
                    <Part><ETag>&quot;e2&quot;</ETag><PartNumber>2</PartNumber></Part>\
                    </CompleteMultipartUpload>";
        let parts = parse_complete_multipart_upload(body.as_bytes()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].etag, "\"e1\"");
        assert_eq!(parts[0].checksum_crc32.as_deref(), Some("AAAAAA=="));
        assert_eq!(parts[1].part_number, 2);
        assert_eq!(parts[1].etag, "\"e2\"");
    }

    #[test]
    fn parse_complete_refuses_bad_documents() {
        let part = |n: i64| format!("<Part><ETag>e</ETag><PartNumber>{n}</PartNumber></Part>");
        let doc =
            |parts: String| format!("<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>");
        let cases = [
            (doc(String::new()), S3ErrorCode::MalformedXML),
            (doc(part(-1)), S3ErrorCode::MalformedXML),
            (doc(part(0)), S3ErrorCode::InvalidArgument),
            (doc(part(10_001)), S3ErrorCode::InvalidArgument),
            (doc(part(2) + &part(1)), S3ErrorCode::InvalidPartOrder),
            (doc(part(1) + &part(1)), S3ErrorCode::InvalidPartOrder),
            ("<Complete/>".to_string(), S3ErrorCode::MalformedXML),
            (
                doc("<Part><PartNumber>1</PartNumber></Part>".into()),
                S3ErrorCode::MalformedXML,
            ),
        ];
        for (body, code) in cases {
            let err = parse_complete_multipart_upload(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
        assert!(parse_complete_multipart_upload(doc(part(1) + &part(3)).as_bytes()).is_ok());
    }

    #[test]
    fn complete_result_document() {
        let xml = complete_multipart_upload_result("http://h/bkt/k", "bkt", "k", "abc-2");
        assert_eq!(
            xml,
            format!(
                "{HEAD}<CompleteMultipartUploadResult xmlns=\"{S3_XMLNS}\">\
                 <Location>http://h/bkt/k</Location><Bucket>bkt</Bucket><Key>k</Key>\
                 <ETag>&quot;abc-2&quot;</ETag></CompleteMultipartUploadResult>"
            )
        );
    }

    #[test]
    fn list_parts_document() {
        let page = ListPartsPage {
            bucket: "bkt".into(),
            key: "k".into(),
            upload_id: "u".into(),
            part_number_marker: 0,
            next_part_number_marker: 1,
            max_parts: 1000,
            is_truncated: false,
            parts: vec![PartEntry {
                part_number: 1,
                last_modified: at(0),
                etag: "e".into(),
                size: 5,
            }],
            owner: owner(),
            storage_class: "STANDARD".into(),
        };
        let xml = page.to_xml();
        assert_well_formed(&xml);
        let want = format!(
            "{HEAD}<ListPartsResult xmlns=\"{S3_XMLNS}\"><Bucket>bkt</Bucket><Key>k</Key>\
             <UploadId>u</UploadId><PartNumberMarker>0</PartNumberMarker>\
             <NextPartNumberMarker>1</NextPartNumberMarker><MaxParts>1000</MaxParts>\
             <IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber>\
             <LastModified>1970-01-01T00:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag>\
             <Size>5</Size></Part><Initiator><ID>abc123</ID><DisplayName>sealgate</DisplayName>\
             </Initiator><Owner><ID>abc123</ID><DisplayName>sealgate</DisplayName></Owner>\
             <StorageClass>STANDARD</StorageClass></ListPartsResult>"
        );
        assert_eq!(xml, want);
    }

    #[test]
    fn list_uploads_document() {
        let page = ListUploadsPage {
            bucket: "bkt".into(),
            prefix: "p q".into(),
            delimiter: Some("/".into()),
            max_uploads: 1000,
            url_encoded: true,
            uploads: vec![UploadEntry {
                key: "p q/1".into(),
                upload_id: "u1".into(),
                initiated: at(0),
                storage_class: "STANDARD".into(),
            }],
            common_prefixes: vec!["p q/d/".into()],
            ..ListUploadsPage::default()
        };
        let xml = page.to_xml(&owner());
        assert_well_formed(&xml);
        for part in [
            "<ListMultipartUploadsResult xmlns=",
            "<Bucket>bkt</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>",
            "<Delimiter>/</Delimiter><Prefix>p+q</Prefix><MaxUploads>1000</MaxUploads>",
            "<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>",
            "<Upload><Key>p+q/1</Key><UploadId>u1</UploadId><Initiator><ID>abc123</ID>",
            "<StorageClass>STANDARD</StorageClass><Initiated>1970-01-01T00:00:00.000Z</Initiated>",
            "<CommonPrefixes><Prefix>p+q/d/</Prefix></CommonPrefixes>",
        ] {
            assert!(xml.contains(part), "{part} missing from {xml}");
        }
    }

    #[test]
    fn create_bucket_configuration() {
        assert_eq!(parse_create_bucket_configuration(b"").unwrap(), None);
        assert_eq!(parse_create_bucket_configuration(b" \n").unwrap(), None);
        let body = b"<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                     <LocationConstraint>eu-west-1</LocationConstraint>\
                     </CreateBucketConfiguration>";
        let config = parse_create_bucket_configuration(body).unwrap().unwrap();
        assert_eq!(config.location_constraint.as_deref(), Some("eu-west-1"));
        let bare = parse_create_bucket_configuration(b"<CreateBucketConfiguration/>").unwrap();
        assert_eq!(bare, Some(CreateBucketConfiguration::default()));
        for bad in [&b"<CreateBucketConfiguration>"[..], b"<Other/>", b"garbage"] {
            let err = parse_create_bucket_configuration(bad).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MalformedXML);
        }
    }

    #[test]
    fn encryption_configuration_round_trips() {
        let kms = ServerSideEncryptionConfiguration::new("aws:kms", Some("key-1".into()));
        let xml = kms.to_xml();
        assert_eq!(
            xml,
            format!(
                "{HEAD}<ServerSideEncryptionConfiguration xmlns=\"{S3_XMLNS}\"><Rule>\
                 <ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm>\
                 <KMSMasterKeyID>key-1</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>\
                 </Rule></ServerSideEncryptionConfiguration>"
            )
        );
        assert_eq!(
            ServerSideEncryptionConfiguration::parse(xml.as_bytes()).unwrap(),
            kms
        );
        let aes = ServerSideEncryptionConfiguration::new("AES256", None);
        assert_eq!(
            ServerSideEncryptionConfiguration::parse(aes.to_xml().as_bytes()).unwrap(),
            aes
        );
    }

    #[test]
    fn encryption_configuration_as_aws_cli_sends_it() {
        let body = "<ServerSideEncryptionConfiguration \
                    xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm>\
                    </ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled>\
                    </Rule></ServerSideEncryptionConfiguration>";
        let config = ServerSideEncryptionConfiguration::parse(body.as_bytes()).unwrap();
        assert_eq!(config.rules[0].bucket_key_enabled, Some(true));
        assert_eq!(config.rules[0].default.sse_algorithm, "AES256");
        assert!(
            config
                .to_xml()
                .contains("<BucketKeyEnabled>true</BucketKeyEnabled>")
        );
    }

    #[test]
    fn encryption_configuration_refuses_bad_documents() {
        let rule = |alg: &str, key: &str| {
            format!(
                "<Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>{alg}</SSEAlgorithm>\
                 {key}</ApplyServerSideEncryptionByDefault></Rule>"
            )
        };
        let doc = |rules: String| {
            format!(
                "<ServerSideEncryptionConfiguration>{rules}</ServerSideEncryptionConfiguration>"
            )
        };
        let key = "<KMSMasterKeyID>k</KMSMasterKeyID>";
        let cases = [
            (doc(String::new()), S3ErrorCode::MalformedXML),
            (
                doc(rule("AES256", "") + &rule("AES256", "")),
                S3ErrorCode::MalformedXML,
            ),
            (doc(rule("DES", "")), S3ErrorCode::MalformedXML),
            (doc(rule("AES256", key)), S3ErrorCode::InvalidArgument),
            (
                "<ServerSideEncryptionConfiguration>".into(),
                S3ErrorCode::MalformedXML,
            ),
        ];
        for (body, code) in cases {
            let err = ServerSideEncryptionConfiguration::parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.code, code, "{body}");
        }
        assert!(
            ServerSideEncryptionConfiguration::parse(doc(rule("aws:kms", key)).as_bytes()).is_ok()
        );
        assert!(
            ServerSideEncryptionConfiguration::parse(doc(rule("aws:kms", "")).as_bytes()).is_ok()
        );
    }

    /// Keys made of characters XML 1.0 can carry (and no CR, which XML normalises).
    const XML_SAFE_KEY: &str = "[^\\x00-\\x08\\x0B\\x0C\\x0E-\\x1F\\r\\u{FFFE}\\u{FFFF}]{1,50}";

    proptest::proptest! {
        #[test]
        fn any_key_gives_a_well_formed_listing(key in proptest::prelude::any::<String>()) {
            let p = page(&[key.as_str()], &[key.as_str()]);
            assert_well_formed(&list_objects_v2(&p, &ListV2Tokens::default(), None));
        }

        #[test]
        fn url_encoding_decodes_back(key in proptest::prelude::any::<String>()) {
            let encoded = url_encode(&key);
            proptest::prop_assert!(encoded.bytes().all(|b| b.is_ascii_graphic()));
            let spaced = encoded.replace('+', " ");
            let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8().unwrap();
            proptest::prop_assert_eq!(decoded, key);
        }

        #[test]
        fn delete_keys_round_trip_through_xml(key in XML_SAFE_KEY) {
            let key_xml = escape_text(&key);
            let body = format!("<Delete><Object><Key>{key_xml}</Key></Object></Delete>");
            let parsed = parse_delete(body.as_bytes()).unwrap();
            proptest::prop_assert_eq!(&parsed.objects[0].key, &key);
        }
    }

    #[test]
    fn escape_text_table() {
        assert_eq!(escape_text("plain"), "plain");
        assert_eq!(escape_text("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(escape_text("\u{0}x\r"), "\u{FFFD}x&#13;");
    }
}
