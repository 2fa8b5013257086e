//! S3 calls that object_store lacks (ListBuckets, CreateBucket, HeadBucket, DeleteBucket, and
//! CopyObject with new metadata), as requests of our own signed with aws-sigv4 and sent with
//! reqwest.
//!
//! It takes a method and a bucket and hands back the status and body; the backend's 404, 409 and
//! 412 answers become precise [`BackendError`] variants, everything else `Unavailable`.

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Deserialize;

use crate::backend::{BackendError, BucketInfo, SecretKey};
use crate::body::BoxError;

/// How long to wait for a connection to the backend.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a bucket-level request may take in all.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long a server-side copy (up to 5 GiB) may take.
const COPY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Bytes of a backend name sent as they are in a URL path; everything else is percent-encoded.
const PATH_SAFE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The source and destination of a server-side copy.
pub(super) struct CopyNames<'a> {
    pub from_bucket: &'a str,
    /// The source's key, for errors.
    pub from_key: &'a str,
    /// The source's backend name.
    pub from_name: &'a str,
    pub to_bucket: &'a str,
    /// The destination's backend name.
    pub to_name: &'a str,
}

/// Signs and sends bucket-level requests to one S3 endpoint.
#[derive(Debug)]
pub(super) struct BucketApi {
    client: reqwest::Client,
    /// For streamed uploads, which may take as long as the client takes to send them.
    stream_client: reqwest::Client,
    endpoint: String,
    region: String,
    access_key_id: String,
    secret: SecretKey,
}

/// An answer other than success, as the backend gave it.
#[derive(Debug, thiserror::Error)]
#[error("backend answered {status} {code}")]
struct Refused {
    status: StatusCode,
    code: String,
}

impl BucketApi {
    pub(super) fn new(
        endpoint: &str,
        region: &str,
        access_key_id: &str,
        secret: SecretKey,
    ) -> Result<Self, BackendError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| BackendError::Config {
                reason: "no HTTP client",
                source: Some(e.into()),
            })?;
        let stream_client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| BackendError::Config {
                reason: "no HTTP client",
                source: Some(e.into()),
            })?;
        Ok(Self {
            client,
            stream_client,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: region.to_string(),
            access_key_id: access_key_id.to_string(),
            secret,
        })
    }

    pub(super) async fn list_buckets(&self) -> Result<Vec<BucketInfo>, BackendError> {
        let (status, body) = self.send(Method::GET, "", "", Bytes::new()).await?;
        if !status.is_success() {
            return Err(refused("", status, &body));
        }
        let parsed: ListAllMyBucketsResult = quick_xml::de::from_reader(body.as_ref())
            .map_err(|e| BackendError::unavailable("", "", e))?;
        let mut buckets: Vec<_> = parsed
            .buckets
            .bucket
            .into_iter()
            .map(BucketInfo::from)
            .collect();
        buckets.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(buckets)
    }

    pub(super) async fn create_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        // S3 in us-east-1 answers 200 to the owner re-creating a bucket, so ask first.
        if self.head_bucket(bucket).await.is_ok() {
            return Err(BackendError::BucketAlreadyExists {
                bucket: bucket.to_string(),
            });
        }
        let (status, body) = self
            .send(Method::PUT, bucket, "", self.location_body())
            .await?;
        outcome(bucket, status, &body)
    }

    pub(super) async fn head_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        let (status, body) = self.send(Method::HEAD, bucket, "", Bytes::new()).await?;
        outcome(bucket, status, &body)
    }

    pub(super) async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        let (status, body) = self.send(Method::DELETE, bucket, "", Bytes::new()).await?;
        outcome(bucket, status, &body)
    }

    /// CopyObject, replacing the metadata with `meta` (`x-amz-meta-*`).
    pub(super) async fn copy_object(
        &self,
        names: &CopyNames<'_>,
        meta: &crate::backend::StoredMeta,
    ) -> Result<(), BackendError> {
        let url = format!(
            "{}/{}/{}",
            self.endpoint,
            names.to_bucket,
            encode_path(names.to_name)
        );
        let source = format!("/{}/{}", names.from_bucket, encode_path(names.from_name));
        let mut headers = vec![
            ("x-amz-copy-source".to_owned(), source),
            ("x-amz-metadata-directive".to_owned(), "REPLACE".to_owned()),
        ];
        headers.extend(meta_headers(meta));
        let bucket = names.to_bucket;
        let request = self
            .signed_with(Method::PUT, &url, &headers, Bytes::new())
            .map_err(|e| unavailable(bucket, e))?;
        let mut request =
            reqwest::Request::try_from(request).map_err(|e| unavailable(bucket, e))?;
        *request.timeout_mut() = Some(COPY_TIMEOUT);
        let (status, body) = exchange(&self.client, bucket, request).await?;
        // S3 may answer 200 and still report a failure in the body.
        let code = error_code(&body);
        match (status, code.as_str()) {
            (StatusCode::OK, "") => Ok(()),
            (_, "NoSuchKey") => Err(BackendError::NoSuchKey {
                bucket: names.from_bucket.to_string(),
                key: names.from_key.to_string(),
            }),
            (_, "NoSuchBucket") => Err(BackendError::NoSuchBucket {
                bucket: if self.head_bucket(names.from_bucket).await.is_err() {
                    names.from_bucket.to_string()
                } else {
                    bucket.to_string()
                },
            }),
            _ => Err(unavailable(bucket, Refused { status, code })),
        }
    }

    /// PutObject of a body streamed as it arrives, `size` bytes long, with `meta` as
    /// `x-amz-meta-*`. The payload is not hashed (`UNSIGNED-PAYLOAD`): the sealed body carries
    /// its own authentication, and a body cut short is never stored by the server.
    pub(super) async fn put_stream(
        &self,
        bucket: &str,
        name: &str,
        meta: &crate::backend::StoredMeta,
        size: u64,
        body: crate::body::ByteStream,
    ) -> Result<(), BackendError> {
        let url = format!("{}/{bucket}/{}", self.endpoint, encode_path(name));
        let mut headers = vec![("content-length".to_owned(), size.to_string())];
        headers.extend(meta_headers(meta));
        let request = self
            .signed_unsigned_payload(Method::PUT, &url, &headers)
            .map_err(|e| unavailable(bucket, e))?;
        let (parts, ()) = request.into_parts();
        let request = http::Request::from_parts(parts, reqwest::Body::wrap_stream(body));
        let request = reqwest::Request::try_from(request).map_err(|e| unavailable(bucket, e))?;
        let (status, body) = exchange(&self.stream_client, bucket, request).await?;
        outcome(bucket, status, &body)
    }

    /// How many multipart uploads are open in `bucket` (ListMultipartUploads).
    #[cfg(test)]
    pub(super) async fn open_uploads(&self, bucket: &str) -> Result<usize, BackendError> {
        let (status, body) = self
            .send(Method::GET, bucket, "?uploads", Bytes::new())
            .await?;
        if !status.is_success() {
            return Err(refused(bucket, status, &body));
        }
        let parsed: ListMultipartUploadsResult = quick_xml::de::from_reader(body.as_ref())
            .map_err(|e| BackendError::unavailable(bucket, "", e))?;
        Ok(parsed.upload.len())
    }

    fn location_body(&self) -> Bytes {
        if self.region == "us-east-1" {
            return Bytes::new();
        }
        let xml = format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            quick_xml::escape::escape(&self.region)
        );
        Bytes::from(xml)
    }

    /// Signs and sends one request to `/{bucket}{query}` (`/` for an empty bucket).
    async fn send(
        &self,
        method: Method,
        bucket: &str,
        query: &str,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), BackendError> {
        let url = format!("{}/{bucket}{query}", self.endpoint);
        let request = self
            .signed(method, &url, body)
            .map_err(|e| unavailable(bucket, e))?;
        let request = reqwest::Request::try_from(request).map_err(|e| unavailable(bucket, e))?;
        exchange(&self.client, bucket, request).await
    }

    fn signed(
        &self,
        method: Method,
        url: &str,
        body: Bytes,
    ) -> Result<http::Request<Bytes>, BoxError> {
        self.signed_with(method, url, &[], body)
    }

    /// A request with `headers` and a body to come, signed with `UNSIGNED-PAYLOAD`.
    fn signed_unsigned_payload(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
    ) -> Result<http::Request<()>, BoxError> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder.body(())?;
        self.sign(&mut request, SignableBody::UnsignedPayload)?;
        Ok(request)
    }

    /// A request with `headers`, signed (the headers too).
    fn signed_with(
        &self,
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<http::Request<Bytes>, BoxError> {
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder.body(body)?;
        let body = request.body().clone();
        self.sign(&mut request, SignableBody::Bytes(&body))?;
        Ok(request)
    }

    /// Adds the SigV4 headers to `request`, whose payload is `payload`.
    fn sign<B>(
        &self,
        request: &mut http::Request<B>,
        payload: SignableBody<'_>,
    ) -> Result<(), BoxError> {
        let identity = aws_credential_types::Credentials::new(
            &self.access_key_id,
            self.secret.expose(),
            None,
            None,
            "sealgate-backend",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()?
            .into();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new(
            request.method().as_str(),
            request.uri().to_string(),
            headers,
            payload,
        )?;
        let (instructions, _signature) = sign(signable, &params)?.into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

/// Sends `request` with `client` and reads the whole answer.
async fn exchange(
    client: &reqwest::Client,
    bucket: &str,
    request: reqwest::Request,
) -> Result<(StatusCode, Bytes), BackendError> {
    let response = client
        .execute(request)
        .await
        .map_err(|e| unavailable(bucket, e))?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| unavailable(bucket, e))?;
    Ok((status, body))
}

/// Object metadata as `x-amz-meta-*` request headers.
fn meta_headers(meta: &crate::backend::StoredMeta) -> impl Iterator<Item = (String, String)> + '_ {
    meta.iter()
        .map(|(name, value)| (format!("x-amz-meta-{name}"), value.clone()))
}

/// A backend name as a URL path: every byte but unreserved ones and `/` percent-encoded.
fn encode_path(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, PATH_SAFE).to_string()
}

fn unavailable(bucket: &str, source: impl Into<BoxError>) -> BackendError {
    BackendError::unavailable(bucket, "", source)
}

fn outcome(bucket: &str, status: StatusCode, body: &[u8]) -> Result<(), BackendError> {
    match status.is_success() {
        true => Ok(()),
        false => Err(refused(bucket, status, body)),
    }
}

/// The error for a refused bucket-level request: 404, 409 and 412 precisely (409 by its S3
/// error code), anything else `Unavailable` carrying the status and code.
fn refused(bucket: &str, status: StatusCode, body: &[u8]) -> BackendError {
    let code = error_code(body);
    let name = bucket.to_string();
    match (status, code.as_str()) {
        (StatusCode::NOT_FOUND, _) => BackendError::NoSuchBucket { bucket: name },
        (StatusCode::CONFLICT, "BucketAlreadyExists" | "BucketAlreadyOwnedByYou") => {
            BackendError::BucketAlreadyExists { bucket: name }
        }
        (StatusCode::CONFLICT, "BucketNotEmpty") => BackendError::BucketNotEmpty { bucket: name },
        (StatusCode::PRECONDITION_FAILED, _) => BackendError::PreconditionFailed {
            bucket: name,
            key: String::new(),
        },
        _ => unavailable(bucket, Refused { status, code }),
    }
}

/// The `<Code>` of an S3 error document; empty for anything else.
fn error_code(body: &[u8]) -> String {
    quick_xml::de::from_reader::<_, ErrorXml>(body)
        .map(|e| e.code)
        .unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorXml {
    #[serde(default)]
    code: String,
}

#[cfg(test)]
#[derive(Deserialize)]
struct ListMultipartUploadsResult {
    #[serde(rename = "Upload", default)]
    upload: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListAllMyBucketsResult {
    #[serde(default)]
    buckets: BucketsXml,
}

#[derive(Deserialize, Default)]
struct BucketsXml {
    #[serde(rename = "Bucket", default)]
    bucket: Vec<BucketXml>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BucketXml {
    name: String,
    #[serde(default)]
    creation_date: String,
}

impl From<BucketXml> for BucketInfo {
    fn from(b: BucketXml) -> Self {
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        let created = time::OffsetDateTime::parse(&b.creation_date, rfc3339)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        BucketInfo {
            name: b.name,
            created,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_buckets_xml_parses() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>x</ID></Owner>
<Buckets><Bucket><Name>a</Name><CreationDate>2026-12-03T20:00:00.000Z</CreationDate></Bucket>
<Bucket><Name>b</Name><CreationDate>2026-12-03T20:00:01Z</CreationDate></Bucket></Buckets>
</ListAllMyBucketsResult>"#;
        let parsed: ListAllMyBucketsResult = quick_xml::de::from_str(xml).unwrap();
        let names: Vec<_> = parsed
            .buckets
            .bucket
            .into_iter()
            .map(BucketInfo::from)
            .collect();
        assert_eq!(names.len(), 2);
        assert_eq!(names[1].name, "b");
        assert_eq!(names[0].created.unix_timestamp(), 1_796_328_000);
    }

    #[test]
    fn refusals_map_precisely() {
        let xml = |code: &str| format!("<Error><Code>{code}</Code><Message>m</Message></Error>");
        let map = |status: u16, code: &str| {
            refused(
                "b",
                StatusCode::from_u16(status).unwrap(),
                xml(code).as_bytes(),
            )
        };
        assert!(matches!(
            map(404, "NoSuchBucket"),
            BackendError::NoSuchBucket { .. }
        ));
        assert!(matches!(
            map(409, "BucketAlreadyOwnedByYou"),
            BackendError::BucketAlreadyExists { .. }
        ));
        assert!(matches!(
            map(409, "BucketNotEmpty"),
            BackendError::BucketNotEmpty { .. }
        ));
        assert!(matches!(
            map(409, "OperationAborted"),
            BackendError::Unavailable { .. }
        ));
        assert!(matches!(
            map(412, "PreconditionFailed"),
            BackendError::PreconditionFailed { .. }
        ));
        assert!(matches!(
            map(403, "AccessDenied"),
            BackendError::Unavailable { .. }
        ));
        let head_404 = refused("b", StatusCode::NOT_FOUND, b"");
        assert!(matches!(head_404, BackendError::NoSuchBucket { .. }));
    }

    #[test]
    fn empty_bucket_list_parses() {
        let xml = "<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>";
        let parsed: ListAllMyBucketsResult = quick_xml::de::from_str(xml).unwrap();
        assert!(parsed.buckets.bucket.is_empty());
    }
}
