//! A small S3 client that sends exactly the request a test asks for.
//!
//! A [`Req`] is built from a method, bucket and key, then given query parameters, headers, a body
//! and a way to sign (normally, anonymously, with other credentials, region or clock, or with a
//! declared payload hash that differs from the body). It is signed with aws-sigv4 the way S3
//! clients sign (single percent-encoding, no path normalisation) and sent with reqwest; the whole
//! response comes back as a [`Resp`].

use crate::xml;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::{Duration, SystemTime};

/// What S3 leaves unescaped in a path segment or query value: `A-Z a-z 0-9 - _ . ~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// [`UNRESERVED`] and `/`, for object keys in paths.
const KEY_PATH: &AsciiSet = &UNRESERVED.remove(b'/');

/// Percent-encodes `s` as SigV4 does, keeping `/` when `keep_slash`.
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let set = if keep_slash { KEY_PATH } else { UNRESERVED };
    utf8_percent_encode(s, set).to_string()
}

/// An access key pair.
#[derive(Debug, Clone)]
pub struct Creds {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
}

impl Creds {
    /// A pair from two strings.
    pub fn new(access_key_id: &str, secret_access_key: &str) -> Creds {
        let (access_key_id, secret_access_key) = (access_key_id.into(), secret_access_key.into());
        Creds {
            access_key_id,
            secret_access_key,
        }
    }
}

/// A client for one endpoint and identity.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port`.
    pub endpoint: String,
    /// The identity requests are signed with.
    pub creds: Creds,
    /// The region requests are signed for.
    pub region: String,
}

/// How the payload is declared in `x-amz-content-sha256`.
#[derive(Debug, Clone)]
pub enum Payload {
    /// The SHA-256 of the body (the default).
    Signed,
    /// `UNSIGNED-PAYLOAD`.
    Unsigned,
    /// This exact value, whatever the body is.
    Declared(String),
}

#[derive(Debug, Clone)]
enum Signing {
    Header,
    Anonymous,
}

/// A request being built.
#[derive(Debug, Clone)]
pub struct Req {
    client: Client,
    method: Method,
    path: String,
    query: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
    body: Bytes,
    payload: Payload,
    signing: Signing,
    time: SystemTime,
    raw_url: Option<String>,
}

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, read to the end.
    pub body: Bytes,
}

impl Client {
    /// A client for `endpoint` signing as `creds` for `region`.
    pub fn new(endpoint: &str, creds: Creds, region: &str) -> Client {
        let http = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .build()
            .expect("reqwest client");
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Client {
            http,
            endpoint,
            creds,
            region: region.into(),
        }
    }

    /// A request for `/bucket/key` (either may be empty).
    pub fn request(&self, method: Method, bucket: &str, key: &str) -> Req {
        let mut path = String::from("/");
        if !bucket.is_empty() {
            path.push_str(&uri_encode(bucket, false));
        }
        if !key.is_empty() {
            path.push('/');
            path.push_str(&uri_encode(key, true));
        }
        Req {
            client: self.clone(),
            method,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            payload: Payload::Signed,
            signing: Signing::Header,
            time: SystemTime::now(),
            raw_url: None,
        }
    }

    /// `GET /bucket/key`.
    pub fn get(&self, bucket: &str, key: &str) -> Req {
        self.request(Method::GET, bucket, key)
    }

    /// `PUT /bucket/key`.
    pub fn put(&self, bucket: &str, key: &str) -> Req {
        self.request(Method::PUT, bucket, key)
    }

    /// `HEAD /bucket/key`.
    pub fn head(&self, bucket: &str, key: &str) -> Req {
        self.request(Method::HEAD, bucket, key)
    }

    /// `DELETE /bucket/key`.
    pub fn delete(&self, bucket: &str, key: &str) -> Req {
        self.request(Method::DELETE, bucket, key)
    }

    /// `POST /bucket/key`.
    pub fn post(&self, bucket: &str, key: &str) -> Req {
        self.request(Method::POST, bucket, key)
    }

    /// Creates `bucket`, asserting success.
    pub async fn create_bucket(&self, bucket: &str) {
        self.put(bucket, "")
            .send()
            .await
            .expect_status(200, "CreateBucket");
    }

    /// Puts `body` at `bucket/key`, asserting success.
    pub async fn put_object(&self, bucket: &str, key: &str, body: impl Into<Bytes>) -> Resp {
        self.put(bucket, key)
            .body(body)
            .send()
            .await
            .expect_status(200, "PutObject")
    }

    /// Gets `bucket/key`, asserting success, and returns the body.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Bytes {
        self.get(bucket, key)
            .send()
            .await
            .expect_status(200, "GetObject")
            .body
    }

    /// Deletes every object in `bucket`, then the bucket.
    pub async fn remove_bucket(&self, bucket: &str) {
        for key in self.list_all(bucket, "").await {
            self.delete(bucket, &key)
                .send()
                .await
                .expect_status(204, "DeleteObject");
        }
        self.delete(bucket, "")
            .send()
            .await
            .expect_status(204, "DeleteBucket");
    }

    /// Every key under `prefix`, following continuation tokens.
    pub async fn list_all(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .get(bucket, "")
                .query("list-type", "2")
                .query("prefix", prefix);
            if let Some(t) = &token {
                req = req.query("continuation-token", t);
            }
            let resp = req.send().await.expect_status(200, "ListObjectsV2");
            let text = resp.text();
            keys.extend(xml::values(&text, "Key"));
            token = xml::value(&text, "NextContinuationToken");
            if token.is_none() {
                return keys;
            }
        }
    }

    /// A presigned URL for `method /bucket/key`, valid for `expires` from `time`.
    pub fn presign(
        &self,
        method: &Method,
        bucket: &str,
        key: &str,
        expires: Duration,
        time: SystemTime,
    ) -> String {
        let req = self.request(method.clone(), bucket, key);
        let url = req.url();
        let headers = [("host".to_owned(), host_of(&self.endpoint))];
        let mut settings = settings();
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
        let mut request = http::Request::builder()
            .uri(&url)
            .body(())
            .expect("request");
        sign_into(
            &mut request,
            method,
            &headers,
            &self.creds,
            &self.region,
            time,
            settings,
            SignableBody::UnsignedPayload,
        );
        request.uri().to_string()
    }

    /// An unsigned request to this absolute URL (a presigned one, say).
    pub fn url(&self, method: Method, url: &str) -> Req {
        let mut req = self.request(method, "", "").anonymous();
        req.raw_url = Some(url.to_owned());
        req
    }
}

impl Req {
    /// Adds a query parameter with a value.
    pub fn query(mut self, name: &str, value: &str) -> Req {
        self.query.push((name.into(), Some(value.into())));
        self
    }

    /// Adds a query parameter without a value (`?delete`).
    pub fn flag(mut self, name: &str) -> Req {
        self.query.push((name.into(), None));
        self
    }

    /// Adds a header (sent and signed).
    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Req {
        self.body = body.into();
        self
    }

    /// The body as set so far.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// Sets how the payload is declared.
    pub fn payload(mut self, payload: Payload) -> Req {
        self.payload = payload;
        self
    }

    /// Sends no signature at all.
    pub fn anonymous(mut self) -> Req {
        self.signing = Signing::Anonymous;
        self
    }

    /// Signs with other credentials.
    pub fn creds(mut self, creds: Creds) -> Req {
        self.client.creds = creds;
        self
    }

    /// Signs for another region.
    pub fn region(mut self, region: &str) -> Req {
        self.client.region = region.into();
        self
    }

    /// Signs as if the clock read `time`.
    pub fn time(mut self, time: SystemTime) -> Req {
        self.time = time;
        self
    }

    /// The full URL, query included.
    pub fn url(&self) -> String {
        if let Some(url) = &self.raw_url {
            return url.clone();
        }
        let mut url = format!("{}{}", self.client.endpoint, self.path);
        for (i, (name, value)) in self.query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&uri_encode(name, false));
            if let Some(v) = value {
                url.push('=');
                url.push_str(&uri_encode(v, false));
            }
        }
        url
    }

    /// Signs and sends the request; panics if the connection fails.
    pub async fn send(self) -> Resp {
        self.try_send()
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"))
    }

    /// Signs and sends the request; an error if the connection fails or the body is cut.
    pub async fn try_send(self) -> Result<Resp, String> {
        let request = self.signed();
        let (parts, body) = request.into_parts();
        let resp = self
            .client
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Resp::read(resp).await
    }

    /// The request with its signature applied.
    fn signed(&self) -> http::Request<Bytes> {
        let mut headers = self.headers.clone();
        headers.push(("host".into(), host_of(&self.client.endpoint)));
        let mut builder = http::Request::builder()
            .method(self.method.clone())
            .uri(self.url());
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let has_length = self
            .headers
            .iter()
            .any(|(name, _)| name == "content-length");
        if !has_length && (self.method == Method::PUT || self.method == Method::POST) {
            builder = builder.header("content-length", self.body.len()); // also for empty bodies
        }
        let mut request = builder.body(self.body.clone()).expect("valid request");
        if let Signing::Anonymous = self.signing {
            return request;
        }

        let body = match &self.payload {
            Payload::Signed => SignableBody::Bytes(&self.body),
            Payload::Unsigned => SignableBody::UnsignedPayload,
            Payload::Declared(v) => SignableBody::Precomputed(v.clone()),
        };
        let (creds, region) = (&self.client.creds, &self.client.region);
        sign_into(
            &mut request,
            &self.method,
            &headers,
            creds,
            region,
            self.time,
            settings(),
            body,
        );
        request
    }
}

/// Settings that make aws-sigv4 sign as S3 clients do.
fn settings() -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = aws_sigv4::http_request::PayloadChecksumKind::XAmzSha256;
    settings
}

/// Signs `request` (whose URI is already final) and applies the signature to it.
#[allow(clippy::too_many_arguments)]
fn sign_into<B>(
    request: &mut http::Request<B>,
    method: &Method,
    headers: &[(String, String)],
    creds: &Creds,
    region: &str,
    time: SystemTime,
    settings: SigningSettings,
    body: SignableBody<'_>,
) {
    let credentials = Credentials::new(
        &creds.access_key_id,
        &creds.secret_access_key,
        None,
        None,
        "tests",
    );
    let identity = credentials.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("s3")
        .time(time)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();

    let uri = request.uri().to_string();
    let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    let signable = SignableRequest::new(method.as_str(), uri, pairs, body).expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    instructions.apply_to_request_http1x(request);
}

/// `host:port` of an endpoint URL.
fn host_of(endpoint: &str) -> String {
    endpoint
        .split("://")
        .nth(1)
        .unwrap_or(endpoint)
        .trim_end_matches('/')
        .to_owned()
}

impl Resp {
    async fn read(resp: reqwest::Response) -> Result<Resp, String> {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(|e| format!("body cut: {e:?}"))?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    /// A header's value, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `<Code>` of an S3 error body.
    pub fn error_code(&self) -> Option<String> {
        xml::value(&self.text(), "Code")
    }

    /// Panics with the response unless the status is `status`.
    #[track_caller]
    pub fn expect_status(self, status: u16, what: &str) -> Resp {
        assert_eq!(self.status.as_u16(), status, "{what}: {}", self.describe());
        self
    }

    /// Panics unless this is an S3 error with this status and code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Resp {
        let what = format!("expected {status} {code}");
        let resp = self.expect_status(status, &what);
        assert_eq!(
            resp.error_code().as_deref(),
            Some(code),
            "{}",
            resp.describe()
        );
        resp
    }

    /// Status, headers and the start of the body, for failure messages.
    pub fn describe(&self) -> String {
        let text = self.text();
        let body: String = text.chars().take(2000).collect();
        format!(
            "status {}, headers {:?}, body {body:?}",
            self.status, self.headers
        )
    }
}
