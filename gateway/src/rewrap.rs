//! `sealgate rewrap`: re-wraps the data keys of a bucket's objects under the newest version of
//! their master key, or under another master key, through a running Sealgate.
//!
//! It is an S3 client of the gateway: it lists the bucket, and copies each object onto itself
//! with its encryption restated (`x-amz-metadata-directive: COPY`). The gateway then has kms-core
//! re-wrap the data key (ReEncrypt, which seals under the master key's newest version) and the
//! backend copy the sealed body itself; nothing is decrypted or re-encrypted. Each copy is
//! conditional on the ETag the listing saw, so an object a client replaced meanwhile is left
//! alone (it was wrapped under the newest version anyway). It prints the last key it finished,
//! and `--start-after` resumes from there.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::body::BoxError;

/// Bytes of a key sent as they are in a URL path or query value.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What to re-wrap, and through which gateway.
#[derive(Debug, Clone, clap::Args)]
pub struct RewrapOptions {
    /// The gateway's S3 endpoint.
    #[arg(
        long,
        env = "SEALGATE_ENDPOINT",
        default_value = "http://127.0.0.1:8300"
    )]
    pub endpoint: String,
    /// The bucket whose objects to re-wrap.
    #[arg(long)]
    pub bucket: String,
    /// Only keys that start with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Move every object under this master key (SSE-KMS); without it each object stays under
    /// its own master key, re-wrapped under its newest version.
    #[arg(long)]
    pub key_id: Option<String>,
    /// Resume after this key (the last one a previous run printed).
    #[arg(long)]
    pub start_after: Option<String>,
    /// The region the gateway serves.
    #[arg(long, env = "SEALGATE_REGION", default_value = "us-east-1")]
    pub region: String,
}

/// What a run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Objects re-wrapped.
    pub rewrapped: u64,
    /// Objects replaced by a client while the run went on, left as they were.
    pub skipped: u64,
    /// The last key finished.
    pub last_key: Option<String>,
}

/// Re-wraps every object of the bucket under the prefix; credentials come from
/// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
pub async fn run(options: &RewrapOptions) -> Result<Summary, BoxError> {
    let client = Client::from_env(options)?;
    let mut summary = Summary::default();
    let mut after = options.start_after.clone();
    loop {
        let page = client.list(&options.prefix, after.as_deref()).await?;
        for (key, etag) in &page.entries {
            match client.rewrap(key, etag, options.key_id.as_deref()).await? {
                true => summary.rewrapped += 1,
                false => summary.skipped += 1,
            }
            summary.last_key = Some(key.clone());
            tracing::info!(key, "rewrapped");
        }
        match page.entries.last() {
            Some((last, _)) if page.truncated => after = Some(last.clone()),
            _ => return Ok(summary),
        }
    }
}

struct Client {
    http: reqwest::Client,
    endpoint: String,
    bucket: String,
    region: String,
    credentials: Credentials,
}

struct Page {
    entries: Vec<(String, String)>,
    truncated: bool,
}

impl Client {
    fn from_env(options: &RewrapOptions) -> Result<Client, BoxError> {
        let id = std::env::var("AWS_ACCESS_KEY_ID")?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")?;
        Ok(Client {
            http: reqwest::Client::new(),
            endpoint: options.endpoint.trim_end_matches('/').to_owned(),
            bucket: options.bucket.clone(),
            region: options.region.clone(),
            credentials: Credentials::new(id, secret, None, None, "sealgate-rewrap"),
        })
    }

    /// One ListObjectsV2 page (keys and ETags).
    async fn list(&self, prefix: &str, after: Option<&str>) -> Result<Page, BoxError> {
        let mut query = format!("list-type=2&prefix={}", encode(prefix));
        if let Some(after) = after {
            query.push_str(&format!("&start-after={}", encode(after)));
        }
        let url = format!("{}/{}?{query}", self.endpoint, self.bucket);
        let (status, headers, body) = self.send("GET", &url, &[]).await?;
        let _ = headers;
        if !status.is_success() {
            return Err(format!("listing {}: {status}: {body}", self.bucket).into());
        }
        let keys = values(&body, "Key");
        let etags = values(&body, "ETag");
        Ok(Page {
            entries: keys.into_iter().zip(etags).collect(),
            truncated: values(&body, "IsTruncated").first().map(String::as_str) == Some("true"),
        })
    }

    /// Copies `key` onto itself, restating its encryption; `false` if it changed meanwhile.
    async fn rewrap(&self, key: &str, etag: &str, key_id: Option<&str>) -> Result<bool, BoxError> {
        let url = format!("{}/{}/{}", self.endpoint, self.bucket, encode_path(key));
        let (status, head, body) = self.send("HEAD", &url, &[]).await?;
        if status.as_u16() == 404 {
            return Ok(false);
        }
        if !status.is_success() {
            return Err(format!("HEAD {key}: {status}: {body}").into());
        }
        let header = |name: &str| {
            head.get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let mut extra = vec![
            (
                "x-amz-copy-source".to_owned(),
                format!("/{}/{}", self.bucket, encode_path(key)),
            ),
            ("x-amz-copy-source-if-match".to_owned(), etag.to_owned()),
            ("x-amz-metadata-directive".to_owned(), "COPY".to_owned()),
        ];
        let current_key = header("x-amz-server-side-encryption-aws-kms-key-id");
        match key_id.map(str::to_owned).or(current_key) {
            Some(master) => {
                extra.push(("x-amz-server-side-encryption".into(), "aws:kms".into()));
                extra.push(("x-amz-server-side-encryption-aws-kms-key-id".into(), master));
                if let Some(context) = header("x-amz-server-side-encryption-context") {
                    extra.push(("x-amz-server-side-encryption-context".into(), context));
                }
            }
            None => extra.push(("x-amz-server-side-encryption".into(), "AES256".into())),
        }
        let (status, _, body) = self.send("PUT", &url, &extra).await?;
        match status.as_u16() {
            200 if !body.contains("<Error>") => Ok(true),
            404 | 412 => Ok(false),
            _ => Err(format!("copying {key} onto itself: {status}: {body}").into()),
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        extra: &[(String, String)],
    ) -> Result<(http::StatusCode, http::HeaderMap, String), BoxError> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let host = url.split('/').nth(2).unwrap_or_default().to_owned();
        let mut headers = vec![
            ("host".to_owned(), host),
            (
                "x-amz-content-sha256".to_owned(),
                "UNSIGNED-PAYLOAD".to_owned(),
            ),
        ];
        headers.extend(extra.iter().cloned());
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let (signed, _) = instructions.into_parts();
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut builder = self.http.request(method, url);
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            builder = builder.header(name, value);
        }
        for header in signed {
            builder = builder.header(header.name(), header.value());
        }
        let response = builder.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await?;
        Ok((status, headers, body))
    }
}

fn encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

fn encode_path(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

/// The unescaped text of every `<tag>` element of a small S3 document.
fn values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(value, _)| unescape(value)))
        .collect()
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
