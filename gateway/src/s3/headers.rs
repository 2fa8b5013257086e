//! The HTTP headers of S3's object operations: ranges, conditional requests, the content headers
//! and user metadata kept with an object, and the two date formats S3 writes.
//!
//! A GET handler takes the object's plaintext length, ETag and Last-Modified from the backend and
//! asks [`Conditions::evaluate`] whether to proceed, then [`parse_range`] which bytes to send; a
//! PUT handler reads [`StoredHeaders::from_request`] and seals the result (as JSON) with the
//! object; GET and HEAD write it back with [`StoredHeaders::apply`] after
//! [`StoredHeaders::apply_overrides`] for the `response-*` query parameters.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

use super::errors::{S3Error, S3ErrorCode};
use super::route::Query;

// ---------------------------------------------------------------------------------------------
// Ranges

/// What a `Range` header asks of an object of a known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// No usable range: send the whole object with 200. S3 ignores syntactically invalid and
    /// multi-range headers this way.
    Full,
    /// Send these bytes (end exclusive, never past the object) with 206.
    Partial(Range<u64>),
    /// The range does not overlap the object: answer `InvalidRange` (416).
    Unsatisfiable,
}

impl RangeOutcome {
    /// The `Content-Range` value for this outcome (`bytes a-b/LEN`, or `bytes */LEN` for 416).
    pub fn content_range(&self, object_len: u64) -> Option<String> {
        match self {
            RangeOutcome::Full => None,
            RangeOutcome::Partial(r) => Some(format!(
                "bytes {}-{}/{object_len}",
                r.start,
                r.end.saturating_sub(1)
            )),
            RangeOutcome::Unsatisfiable => Some(format!("bytes */{object_len}")),
        }
    }
}

/// Reads one `Range` header against an object of `object_len` bytes, as S3 does.
pub fn parse_range(header: &str, object_len: u64) -> RangeOutcome {
    match parse_byte_range(header) {
        Some(spec) => resolve_range(spec, object_len),
        None => RangeOutcome::Full,
    }
}

/// The `InvalidRange` error S3 sends with a 416, naming the range and the object size.
pub fn invalid_range_error(header: &str, object_len: u64) -> S3Error {
    S3Error::new(S3ErrorCode::InvalidRange)
        .with("RangeRequested", header)
        .with("ActualObjectSize", object_len.to_string())
}

#[derive(Debug, Clone, Copy)]
enum RangeSpec {
    /// `first-last` or `first-` (last = None).
    From(u64, Option<u64>),
    /// `-n`: the last n bytes.
    Suffix(u64),
}

fn parse_byte_range(header: &str) -> Option<RangeSpec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (first, last) = set.trim().split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, true) => None,
        (true, false) => Some(RangeSpec::Suffix(parse_digits(last)?)),
        (false, true) => Some(RangeSpec::From(parse_digits(first)?, None)),
        (false, false) => from_to(parse_digits(first)?, parse_digits(last)?),
    }
}

fn from_to(first: u64, last: u64) -> Option<RangeSpec> {
    (first <= last).then_some(RangeSpec::From(first, Some(last)))
}

/// Parses ASCII digits, saturating at `u64::MAX` (a huge position is still a position).
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u64::MAX))
}

fn resolve_range(spec: RangeSpec, len: u64) -> RangeOutcome {
    match spec {
        RangeSpec::From(first, _) if first >= len => RangeOutcome::Unsatisfiable,
        RangeSpec::From(first, last) => {
            let end = last.map_or(len, |last| last.saturating_add(1).min(len));
            RangeOutcome::Partial(first..end)
        }
        RangeSpec::Suffix(0) => RangeOutcome::Unsatisfiable,
        RangeSpec::Suffix(_) if len == 0 => RangeOutcome::Unsatisfiable,
        RangeSpec::Suffix(n) => RangeOutcome::Partial(len.saturating_sub(n)..len),
    }
}

// ---------------------------------------------------------------------------------------------
// Conditional requests

/// What the conditional headers of a GET or HEAD decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the object.
    Proceed,
    /// Answer `304 Not Modified` without a body.
    NotModified,
    /// Answer `PreconditionFailed` (412).
    PreconditionFailed,
}

/// The conditional headers of a request. Unparsable dates are ignored, as RFC 9110 requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: a list of entity tags or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`: a list of entity tags or `*`.
    pub if_none_match: Option<String>,
    /// `If-Modified-Since`.
    pub if_modified_since: Option<SystemTime>,
    /// `If-Unmodified-Since`.
    pub if_unmodified_since: Option<SystemTime>,
}

impl Conditions {
    /// Reads the four conditional headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let text = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        let date = |name: HeaderName| text(name).and_then(parse_http_date);
        Self {
            if_match: joined_list(headers, header::IF_MATCH),
            if_none_match: joined_list(headers, header::IF_NONE_MATCH),
            if_modified_since: date(header::IF_MODIFIED_SINCE),
            if_unmodified_since: date(header::IF_UNMODIFIED_SINCE),
        }
    }

    /// Whether no conditional header was given.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Evaluates the conditions against the object's ETag (quoted or not) and Last-Modified, in
    /// RFC 9110's order: a true `If-Match` makes `If-Unmodified-Since` irrelevant, and a present
    /// `If-None-Match` makes `If-Modified-Since` irrelevant. Dates compare at second precision.
    pub fn evaluate(&self, etag: &str, last_modified: SystemTime) -> Precondition {
        let modified = truncate_to_second(last_modified);
        if let Some(list) = &self.if_match {
            if !etag_list_matches(list, etag, Comparison::Strong) {
                return Precondition::PreconditionFailed;
            }
        } else if self
            .if_unmodified_since
            .is_some_and(|since| modified > since)
        {
            return Precondition::PreconditionFailed;
        }
        if let Some(list) = &self.if_none_match {
            if etag_list_matches(list, etag, Comparison::Weak) {
                return Precondition::NotModified;
            }
        } else if self
            .if_modified_since
            .is_some_and(|since| modified <= since)
        {
            return Precondition::NotModified;
        }
        Precondition::Proceed
    }
}

/// A list header that may arrive on several lines, joined with commas as RFC 9110 allows.
fn joined_list(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// One entity tag of a list: its opaque text (without quotes) and whether it was weak.
#[derive(Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    opaque: &'a str,
}

fn etag_list_matches(list: &str, object_etag: &str, comparison: Comparison) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let ours = parse_entity_tag(object_etag.trim());
    entity_tags(list).any(|theirs| match comparison {
        Comparison::Strong => !theirs.weak && !ours.weak && theirs.opaque == ours.opaque,
        Comparison::Weak => theirs.opaque == ours.opaque,
    })
}

/// Splits an ETag list at the commas between tags; unquoted tags are accepted, as S3 does.
fn entity_tags(list: &str) -> impl Iterator<Item = EntityTag<'_>> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let end = tag_end(rest);
        let (tag, tail) = rest.split_at(end);
        rest = tail;
        Some(parse_entity_tag(tag.trim()))
    })
}

/// The byte length of the first tag in `s`: through its closing quote, or up to the next comma.
fn tag_end(s: &str) -> usize {
    let body = s.strip_prefix("W/").unwrap_or(s);
    let offset = s.len() - body.len();
    match body.strip_prefix('"').and_then(|b| b.find('"')) {
        Some(close) => offset + close + 2,
        None => s.find(',').unwrap_or(s.len()),
    }
}

fn parse_entity_tag(tag: &str) -> EntityTag<'_> {
    let (weak, tag) = match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    };
    let opaque = tag
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(tag);
    EntityTag { weak, opaque }
}

// ---------------------------------------------------------------------------------------------
// Dates

/// Formats a time as an HTTP date (IMF-fixdate: `Thu, 03 Dec 2026 19:50:49 GMT`).
pub fn http_date(time: SystemTime) -> String {
    httpdate::fmt_http_date(time)
}

/// Parses an HTTP date in any of the three forms RFC 9110 accepts.
pub fn parse_http_date(s: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(s.trim()).ok()
}

/// Formats a time as S3's XML timestamps do: ISO 8601 in UTC with milliseconds
/// (`2026-12-03T19:50:49.000Z`).
pub fn iso8601_millis(time: SystemTime) -> String {
    let t = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn truncate_to_second(time: SystemTime) -> SystemTime {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

// ---------------------------------------------------------------------------------------------
// Stored headers

/// The most user metadata S3 accepts: names (without `x-amz-meta-`) and values, in UTF-8 bytes.
pub const MAX_USER_METADATA_BYTES: usize = 2048;

/// The `Content-Type` S3 records when a PUT sends none.
pub const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

const META_PREFIX: &str = "x-amz-meta-";
const WEBSITE_REDIRECT: &str = "x-amz-website-redirect-location";
const STORAGE_CLASS: &str = "x-amz-storage-class";
const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "OUTPOSTS",
    "GLACIER_IR",
    "SNOW",
    "EXPRESS_ONEZONE",
];

/// The client headers S3 keeps with an object and returns on GET and HEAD. Sealed with the
/// object as JSON, so field names are part of the stored format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StoredHeaders {
    /// `Content-Type`; `binary/octet-stream` when the PUT sent none.
    pub content_type: String,
    /// `Content-Encoding`, without the `aws-chunked` transfer coding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, kept exactly as sent (S3 does not require a valid date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// `x-amz-website-redirect-location`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    /// `x-amz-storage-class`, only when the PUT sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// `x-amz-meta-*`: lowercased names without the prefix, values as sent (decoded from RFC
    /// 2047 encoded-words, as S3 does).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

impl Default for StoredHeaders {
    fn default() -> Self {
        Self {
            content_type: DEFAULT_CONTENT_TYPE.to_owned(),
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            website_redirect_location: None,
            storage_class: None,
            metadata: BTreeMap::new(),
        }
    }
}

impl StoredHeaders {
    /// Reads the headers of a PUT (or CreateMultipartUpload, or CopyObject with `REPLACE`).
    pub fn from_request(headers: &HeaderMap) -> Result<Self, S3Error> {
        let text = |name: &str| headers.get(name).map(header_text);
        let stored = Self {
            content_type: text("content-type").unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
            content_encoding: text("content-encoding").and_then(|v| strip_aws_chunked(&v)),
            content_disposition: text("content-disposition"),
            content_language: text("content-language"),
            cache_control: text("cache-control"),
            expires: text("expires"),
            website_redirect_location: text(WEBSITE_REDIRECT),
            storage_class: text(STORAGE_CLASS).map(check_storage_class).transpose()?,
            metadata: user_metadata(headers)?,
        };
        Ok(stored)
    }

    /// The storage class to report in listings: `STANDARD` unless another was given.
    pub fn storage_class(&self) -> &str {
        self.storage_class.as_deref().unwrap_or("STANDARD")
    }

    /// Writes the headers onto a GET or HEAD response. Values that are not printable ASCII are
    /// sent as RFC 2047 encoded-words (`=?UTF-8?B?...?=`), as S3 does for metadata, so no
    /// header value is ever invalid.
    pub fn apply(&self, out: &mut HeaderMap) {
        out.insert(header::CONTENT_TYPE, header_value(&self.content_type));
        let optional = [
            (header::CONTENT_ENCODING, &self.content_encoding),
            (header::CONTENT_DISPOSITION, &self.content_disposition),
            (header::CONTENT_LANGUAGE, &self.content_language),
            (header::CACHE_CONTROL, &self.cache_control),
            (header::EXPIRES, &self.expires),
            (
                HeaderName::from_static(WEBSITE_REDIRECT),
                &self.website_redirect_location,
            ),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                out.insert(name, header_value(value));
            }
        }
        self.apply_storage_class(out);
        self.apply_metadata(out);
    }

    /// S3 reports the storage class on GET and HEAD only when it is not `STANDARD`.
    fn apply_storage_class(&self, out: &mut HeaderMap) {
        if let Some(class) = self.storage_class.as_deref().filter(|c| *c != "STANDARD") {
            out.insert(HeaderName::from_static(STORAGE_CLASS), header_value(class));
        }
    }

    fn apply_metadata(&self, out: &mut HeaderMap) {
        for (name, value) in &self.metadata {
            let name = HeaderName::from_bytes(format!("{META_PREFIX}{name}").as_bytes());
            if let Ok(name) = name {
                out.append(name, header_value(value));
            }
        }
    }

    /// Applies the `response-*` query parameters of a GET, which replace the stored values in
    /// this response only.
    pub fn apply_overrides(&mut self, query: &Query) {
        let set = |field: &mut Option<String>, param: &str| {
            if let Some(value) = query.get(param) {
                *field = Some(value.to_owned());
            }
        };
        if let Some(value) = query.get("response-content-type") {
            self.content_type = value.to_owned();
        }
        set(&mut self.content_language, "response-content-language");
        set(&mut self.expires, "response-expires");
        set(&mut self.cache_control, "response-cache-control");
        set(
            &mut self.content_disposition,
            "response-content-disposition",
        );
        set(&mut self.content_encoding, "response-content-encoding");
    }
}

/// A header value as text: UTF-8 when it is, otherwise each byte as ISO-8859-1, as HTTP reads.
fn header_text(value: &HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) => text.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// Drops the `aws-chunked` coding S3 removes before storing `Content-Encoding`.
fn strip_aws_chunked(value: &str) -> Option<String> {
    let codings: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
        .collect();
    (!codings.is_empty()).then(|| codings.join(","))
}

fn check_storage_class(class: String) -> Result<String, S3Error> {
    if STORAGE_CLASSES.contains(&class.as_str()) {
        return Ok(class);
    }
    Err(S3Error::new(S3ErrorCode::InvalidStorageClass).with("StorageClassRequested", class))
}

/// The `x-amz-meta-*` headers, repeated names joined with `,`, within S3's 2 KB limit.
fn user_metadata(headers: &HeaderMap) -> Result<BTreeMap<String, String>, S3Error> {
    let mut metadata: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let Some(short) = name.as_str().strip_prefix(META_PREFIX) else {
            continue;
        };
        let value = decode_encoded_words(&header_text(value));
        metadata
            .entry(short.to_owned())
            .and_modify(|v| {
                v.push(',');
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_USER_METADATA_BYTES {
        let err = S3Error::new(S3ErrorCode::MetadataTooLarge)
            .with("Size", size.to_string())
            .with("MaxSizeAllowed", MAX_USER_METADATA_BYTES.to_string());
        return Err(err);
    }
    Ok(metadata)
}

/// A header value for text: as is when printable ASCII, else one RFC 2047 `B` encoded-word.
fn header_value(text: &str) -> HeaderValue {
    let printable = text
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
    let encoded;
    let text = if printable {
        text
    } else {
        encoded = format!("=?UTF-8?B?{}?=", BASE64.encode(text));
        &encoded
    };
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Decodes a value made only of RFC 2047 encoded-words (UTF-8 or ISO-8859-1, `B` or `Q`), as
/// S3 does before storing metadata; anything else is returned unchanged.
fn decode_encoded_words(value: &str) -> String {
    let words: Option<Vec<String>> = value.split_ascii_whitespace().map(decode_word).collect();
    match words {
        Some(words) if !words.is_empty() => words.concat(),
        _ => value.to_owned(),
    }
}

fn decode_word(word: &str) -> Option<String> {
    let inner = word.strip_prefix("=?")?.strip_suffix("?=")?;
    let mut parts = inner.splitn(3, '?');
    let (charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = match encoding {
        "B" | "b" => BASE64.decode(text).ok()?,
        "Q" | "q" => decode_q(text)?,
        _ => return None,
    };
    match charset.to_ascii_lowercase().as_str() {
        "utf-8" => String::from_utf8(bytes).ok(),
        "iso-8859-1" | "us-ascii" => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        _ => None,
    }
}

fn decode_q(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = [bytes.next()?, bytes.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            b => out.push(b),
        }
    }
    Some(out)
}

/// A header map of `(name, value)` pairs, for tests of request parsing.
#[cfg(test)]
pub(crate) fn header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn range_table() {
        use RangeOutcome::*;
        let cases: &[(&str, u64, RangeOutcome)] = &[
            ("bytes=0-0", 10, Partial(0..1)),
            ("bytes=0-9", 10, Partial(0..10)),
            ("bytes=2-5", 10, Partial(2..6)),
            ("bytes=5-100", 10, Partial(5..10)),
            ("bytes=9-9", 10, Partial(9..10)),
            ("bytes=0-18446744073709551615", 10, Partial(0..10)),
            ("bytes=0-99999999999999999999999", 10, Partial(0..10)),
            ("bytes=3-", 10, Partial(3..10)),
            ("bytes=0-", 10, Partial(0..10)),
            ("bytes=-3", 10, Partial(7..10)),
            ("bytes=-10", 10, Partial(0..10)),
            ("bytes=-100", 10, Partial(0..10)),
            ("BYTES=1-2", 10, Partial(1..3)),
            (" bytes = 1 - 2 ", 10, Partial(1..3)),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=0-0", 0, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=99999999999999999999999-", 10, Unsatisfiable),
            ("bytes=5-2", 10, Full),
            ("bytes=0-1,3-4", 10, Full),
            ("bytes=-", 10, Full),
            ("bytes=", 10, Full),
            ("bytes=a-b", 10, Full),
            ("bytes=1-2-3", 10, Full),
            ("bytes=+1-2", 10, Full),
            ("items=0-1", 10, Full),
            ("0-1", 10, Full),
            ("", 10, Full),
        ];
        for (header, len, want) in cases {
            assert_eq!(parse_range(header, *len), *want, "{header:?} of {len}");
        }
    }

    #[test]
    fn content_range_values() {
        assert_eq!(
            RangeOutcome::Partial(2..6).content_range(10).unwrap(),
            "bytes 2-5/10"
        );
        assert_eq!(
            RangeOutcome::Unsatisfiable.content_range(10).unwrap(),
            "bytes */10"
        );
        assert_eq!(RangeOutcome::Full.content_range(10), None);
        let err = invalid_range_error("bytes=20-", 10);
        assert_eq!(err.status().as_u16(), 416);
        assert!(err.extra.contains(&("ActualObjectSize", "10".into())));
    }

    proptest! {
        #[test]
        fn any_header_is_safe(header in ".{0,40}", len in 0u64..1_000_000) {
            if let RangeOutcome::Partial(r) = parse_range(&header, len) {
                prop_assert!(r.start < r.end && r.end <= len);
            }
        }

        #[test]
        fn first_last_is_clamped(first in 0u64..2000, extra in 0u64..2000, len in 0u64..2000) {
            let last = first + extra;
            let got = parse_range(&format!("bytes={first}-{last}"), len);
            if first >= len {
                prop_assert_eq!(got, RangeOutcome::Unsatisfiable);
            } else {
                prop_assert_eq!(got, RangeOutcome::Partial(first..(last + 1).min(len)));
            }
        }

        #[test]
        fn suffix_is_the_tail(n in 0u64..2000, len in 0u64..2000) {
            let got = parse_range(&format!("bytes=-{n}"), len);
            if n == 0 || len == 0 {
                prop_assert_eq!(got, RangeOutcome::Unsatisfiable);
            } else {
                prop_assert_eq!(got, RangeOutcome::Partial(len.saturating_sub(n)..len));
            }
        }

        #[test]
        fn open_range_runs_to_the_end(first in 0u64..2000, len in 0u64..2000) {
            let got = parse_range(&format!("bytes={first}-"), len);
            let want = if first < len { RangeOutcome::Partial(first..len) }
                else { RangeOutcome::Unsatisfiable };
            prop_assert_eq!(got, want);
        }
    }

    const ETAG: &str = "\"abc\"";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn conditional_table() {
        use Precondition::*;
        // The object was last modified at 1000.5 s; dates compare at whole seconds.
        let modified = UNIX_EPOCH + Duration::from_millis(1_000_500);
        let cond =
            |im: Option<&str>, inm: Option<&str>, ims: Option<u64>, ius: Option<u64>| Conditions {
                if_match: im.map(str::to_owned),
                if_none_match: inm.map(str::to_owned),
                if_modified_since: ims.map(at),
                if_unmodified_since: ius.map(at),
            };
        let cases: &[(Conditions, Precondition)] = &[
            (cond(None, None, None, None), Proceed),
            (cond(Some("\"abc\""), None, None, None), Proceed),
            (cond(Some("abc"), None, None, None), Proceed),
            (cond(Some("*"), None, None, None), Proceed),
            (cond(Some("\"x\", \"abc\""), None, None, None), Proceed),
            (cond(Some("\"x\",\"abc\""), None, None, None), Proceed),
            (cond(Some("\"x\""), None, None, None), PreconditionFailed),
            (
                cond(Some("W/\"abc\""), None, None, None),
                PreconditionFailed,
            ),
            (cond(Some("\"ab\""), None, None, None), PreconditionFailed),
            (cond(None, Some("\"abc\""), None, None), NotModified),
            (cond(None, Some("W/\"abc\""), None, None), NotModified),
            (cond(None, Some("*"), None, None), NotModified),
            (
                cond(None, Some("\"x\", W/\"abc\""), None, None),
                NotModified,
            ),
            (cond(None, Some("\"x\""), None, None), Proceed),
            (cond(None, None, Some(1000), None), NotModified),
            (cond(None, None, Some(1001), None), NotModified),
            (cond(None, None, Some(999), None), Proceed),
            (cond(None, None, None, Some(1000)), Proceed),
            (cond(None, None, None, Some(999)), PreconditionFailed),
            // If-Match true makes If-Unmodified-Since irrelevant.
            (cond(Some("\"abc\""), None, None, Some(999)), Proceed),
            (
                cond(Some("\"x\""), None, None, Some(2000)),
                PreconditionFailed,
            ),
            // If-None-Match false (the tag matches) and If-Modified-Since true: 304.
            (cond(None, Some("\"abc\""), Some(999), None), NotModified),
            // If-None-Match true makes If-Modified-Since irrelevant.
            (cond(None, Some("\"x\""), Some(2000), None), Proceed),
            // 412 wins over 304.
            (
                cond(Some("\"x\""), Some("\"abc\""), None, None),
                PreconditionFailed,
            ),
            (
                cond(None, Some("\"abc\""), None, Some(999)),
                PreconditionFailed,
            ),
            (
                cond(Some("\"abc\""), Some("\"abc\""), None, None),
                NotModified,
            ),
            (cond(Some("\"abc\""), None, Some(1000), None), NotModified),
        ];
        for (i, (c, want)) in cases.iter().enumerate() {
            assert_eq!(c.evaluate(ETAG, modified), *want, "case {i}: {c:?}");
        }
    }

    #[test]
    fn object_etag_may_be_unquoted() {
        let c = Conditions {
            if_match: Some("\"abc\"".into()),
            ..Conditions::default()
        };
        assert_eq!(c.evaluate("abc", at(5)), Precondition::Proceed);
    }

    #[test]
    fn conditions_from_headers() {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"a\""));
        h.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Thu, 01 Jan 1970 00:16:40 GMT"),
        );
        h.insert(
            header::IF_UNMODIFIED_SINCE,
            HeaderValue::from_static("not a date"),
        );
        let c = Conditions::from_headers(&h);
        assert_eq!(c.if_match.as_deref(), Some("\"a\""));
        assert_eq!(c.if_modified_since, Some(at(1000)));
        assert_eq!(c.if_unmodified_since, None);
        assert!(!c.is_empty());
        assert!(Conditions::from_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn etag_lists_may_span_header_lines() {
        let mut h = HeaderMap::new();
        h.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\""));
        h.append(header::IF_NONE_MATCH, HeaderValue::from_static("\"abc\""));
        let c = Conditions::from_headers(&h);
        assert_eq!(c.evaluate(ETAG, at(0)), Precondition::NotModified);
    }

    #[test]
    fn dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_327_449_123);
        assert_eq!(http_date(t), "Thu, 03 Dec 2026 19:50:49 GMT");
        assert_eq!(iso8601_millis(t), "2026-12-03T19:50:49.123Z");
        assert_eq!(iso8601_millis(at(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            parse_http_date("Thu, 03 Dec 2026 19:50:49 GMT"),
            Some(at(1_796_327_449))
        );
        assert_eq!(
            parse_http_date("Thursday, 03-Dec-26 19:50:49 GMT"),
            Some(at(1_796_327_449))
        );
        assert_eq!(
            parse_http_date("Thu Dec  3 19:50:49 2026"),
            Some(at(1_796_327_449))
        );
        assert_eq!(parse_http_date("2026-12-03"), None);
    }

    fn request(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
            h.append(name, HeaderValue::from_bytes(value).unwrap());
        }
        h
    }

    #[test]
    fn stored_headers_defaults() {
        let s = StoredHeaders::from_request(&HeaderMap::new()).unwrap();
        assert_eq!(s, StoredHeaders::default());
        assert_eq!(s.content_type, "binary/octet-stream");
        assert_eq!(s.storage_class(), "STANDARD");
        let mut out = HeaderMap::new();
        s.apply(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out["content-type"], "binary/octet-stream");
    }

    #[test]
    fn stored_headers_round_trip() {
        let h = request(&[
            ("content-type", b"text/plain; charset=utf-8"),
            ("content-encoding", b"aws-chunked, gzip"),
            ("content-disposition", b"attachment; filename=\"a b.txt\""),
            ("content-language", b"de-DE"),
            ("cache-control", b"max-age=60"),
            ("expires", b"not even a date"),
            ("x-amz-website-redirect-location", b"/other"),
            ("x-amz-storage-class", b"STANDARD_IA"),
            ("X-Amz-Meta-Color", b"Blue Sky"),
            ("x-amz-meta-tag", b"a"),
            ("x-amz-meta-tag", b"b"),
            ("x-amz-meta-utf8", "grün 中文".as_bytes()),
            ("x-amz-meta-word", b"=?UTF-8?B?Z3LDvG4=?="),
            ("x-amz-meta-empty", b""),
            ("x-amz-content-sha256", b"UNSIGNED-PAYLOAD"),
        ]);
        let s = StoredHeaders::from_request(&h).unwrap();
        assert_eq!(s.content_encoding.as_deref(), Some("gzip"));
        assert_eq!(s.expires.as_deref(), Some("not even a date"));
        assert_eq!(s.metadata["color"], "Blue Sky");
        assert_eq!(s.metadata["tag"], "a,b");
        assert_eq!(s.metadata["utf8"], "grün 中文");
        assert_eq!(s.metadata["word"], "grün");
        assert_eq!(s.metadata["empty"], "");
        assert_eq!(s.metadata.len(), 5);

        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<StoredHeaders>(&json).unwrap(), s);

        let mut out = HeaderMap::new();
        s.apply(&mut out);
        assert_eq!(out["content-type"], "text/plain; charset=utf-8");
        assert_eq!(out["content-encoding"], "gzip");
        assert_eq!(
            out["content-disposition"],
            "attachment; filename=\"a b.txt\""
        );
        assert_eq!(out["expires"], "not even a date");
        assert_eq!(out["x-amz-storage-class"], "STANDARD_IA");
        assert_eq!(out["x-amz-website-redirect-location"], "/other");
        assert_eq!(out["x-amz-meta-color"], "Blue Sky");
        assert_eq!(out["x-amz-meta-utf8"], "=?UTF-8?B?Z3LDvG4g5Lit5paH?=");
        assert_eq!(out["x-amz-meta-word"], "=?UTF-8?B?Z3LDvG4=?=");
        assert!(!out.contains_key("x-amz-content-sha256"));
    }

    #[test]
    fn aws_chunked_alone_is_no_encoding() {
        let s = StoredHeaders::from_request(&request(&[("content-encoding", b"aws-chunked")]));
        assert_eq!(s.unwrap().content_encoding, None);
    }

    #[test]
    fn standard_storage_class_is_not_echoed() {
        let s = StoredHeaders::from_request(&request(&[("x-amz-storage-class", b"STANDARD")]));
        let s = s.unwrap();
        assert_eq!(s.storage_class(), "STANDARD");
        let mut out = HeaderMap::new();
        s.apply(&mut out);
        assert!(!out.contains_key("x-amz-storage-class"));
    }

    #[test]
    fn bad_storage_class_is_refused() {
        let err = StoredHeaders::from_request(&request(&[("x-amz-storage-class", b"FAST")]));
        assert_eq!(err.unwrap_err().code, S3ErrorCode::InvalidStorageClass);
    }

    #[test]
    fn metadata_limit_is_2_kb() {
        let fits = "v".repeat(MAX_USER_METADATA_BYTES - 1);
        assert!(
            StoredHeaders::from_request(&request(&[("x-amz-meta-k", fits.as_bytes())])).is_ok()
        );
        let over = "v".repeat(MAX_USER_METADATA_BYTES);
        let err = StoredHeaders::from_request(&request(&[("x-amz-meta-k", over.as_bytes())]));
        assert_eq!(err.unwrap_err().code, S3ErrorCode::MetadataTooLarge);
    }

    #[test]
    fn latin1_bytes_and_control_characters_never_break_headers() {
        let h = request(&[
            ("x-amz-meta-l", b"caf\xe9"),
            ("x-amz-meta-q", b"=?utf-8?Q?a=01b?="),
        ]);
        let s = StoredHeaders::from_request(&h).unwrap();
        assert_eq!(s.metadata["l"], "café");
        assert_eq!(s.metadata["q"], "a\u{1}b");
        let mut out = HeaderMap::new();
        s.apply(&mut out);
        assert_eq!(out["x-amz-meta-l"], "=?UTF-8?B?Y2Fmw6k=?=");
        assert_eq!(out["x-amz-meta-q"], "=?UTF-8?B?YQFi?=");
    }

    #[test]
    fn encoded_words() {
        assert_eq!(decode_encoded_words("=?UTF-8?Q?gr=C3=BCn_ok?="), "grün ok");
        assert_eq!(decode_encoded_words("=?ISO-8859-1?Q?caf=E9?="), "café");
        assert_eq!(
            decode_encoded_words("=?UTF-8?B?YQ==?= =?UTF-8?B?Yg==?="),
            "ab"
        );
        assert_eq!(decode_encoded_words("=?UTF-8?B?!!?="), "=?UTF-8?B?!!?=");
        assert_eq!(
            decode_encoded_words("plain =?UTF-8?B?YQ==?="),
            "plain =?UTF-8?B?YQ==?="
        );
        assert_eq!(
            decode_encoded_words("=?KOI8-R?B?YQ==?="),
            "=?KOI8-R?B?YQ==?="
        );
    }

    #[test]
    fn response_overrides() {
        let mut s = StoredHeaders::default();
        let q = Query::parse(
            "response-content-type=text%2Fhtml&response-content-language=fr\
             &response-expires=Thu%2C%2001%20Dec%202094%2016%3A00%3A00%20GMT\
             &response-cache-control=no-cache\
             &response-content-disposition=attachment%3B%20filename%3Dx.txt\
             &response-content-encoding=identity&other=1",
        )
        .unwrap();
        s.apply_overrides(&q);
        let mut out = HeaderMap::new();
        s.apply(&mut out);
        assert_eq!(out["content-type"], "text/html");
        assert_eq!(out["content-language"], "fr");
        assert_eq!(out["expires"], "Thu, 01 Dec 2094 16:00:00 GMT");
        assert_eq!(out["cache-control"], "no-cache");
        assert_eq!(out["content-disposition"], "attachment; filename=x.txt");
        assert_eq!(out["content-encoding"], "identity");
    }

    proptest! {
        #[test]
        fn any_metadata_value_gives_a_valid_header(value in any::<String>()) {
            let s = StoredHeaders {
                metadata: [("k".to_string(), value)].into_iter().collect(),
                ..StoredHeaders::default()
            };
            let mut out = HeaderMap::new();
            s.apply(&mut out);
            prop_assert!(out["x-amz-meta-k"].to_str().is_ok());
        }

        #[test]
        fn encoded_metadata_round_trips(value in any::<String>()) {
            let sent = header_value(&value);
            let back = decode_encoded_words(&header_text(&sent));
            let printable = value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b));
            if !printable {
                prop_assert_eq!(back, value);
            }
        }
    }
}
