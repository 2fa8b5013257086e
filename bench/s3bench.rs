//! `s3bench`: a small, fast S3 client for Sealgate's benchmark (`bench/run.sh`).
//!
//! Streams generated bodies up and discards bodies coming down, signing with SigV4 and
//! `UNSIGNED-PAYLOAD`, so that the client costs next to nothing and the server under test is what
//! is measured. Prints one line of `key=value` results per command.
//!
//! ```text
//! s3bench ENDPOINT BUCKET put KEY SIZE [COUNT]    # COUNT concurrent PUTs of KEY-0..KEY-(COUNT-1)
//! s3bench ENDPOINT BUCKET get KEY [COUNT]         # COUNT concurrent GETs of KEY-0..
//! s3bench ENDPOINT BUCKET range KEY START LEN     # one ranged GET of KEY
//! s3bench ENDPOINT BUCKET small SIZE OPS CONC     # OPS PUT+GET pairs of SIZE bytes, CONC at once
//! s3bench ENDPOINT BUCKET multipart KEY SIZE PART CONC  # one multipart upload, CONC parts at once
//! s3bench ENDPOINT - kms OPS CONC                 # OPS GenerateDataKey, then OPS Decrypt calls
//! s3bench ENDPOINT BUCKET mkbucket
//! ```
//! Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.

use std::time::{Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use futures::StreamExt;

type Failure = Box<dyn std::error::Error + Send + Sync>;

const CHUNK: usize = 1024 * 1024;

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    endpoint: String,
    bucket: String,
    credentials: Credentials,
}

impl Client {
    fn from_env(endpoint: &str, bucket: &str) -> Result<Client, Failure> {
        let id = std::env::var("AWS_ACCESS_KEY_ID")?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY")?;
        Ok(Client {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()?,
            endpoint: endpoint.trim_end_matches('/').to_owned(),
            bucket: bucket.to_owned(),
            credentials: Credentials::new(id, secret, None, None, "bench"),
        })
    }

    fn url(&self, key: &str) -> String {
        if key.is_empty() {
            format!("{}/{}", self.endpoint, self.bucket)
        } else {
            format!("{}/{}/{}", self.endpoint, self.bucket, key)
        }
    }

    /// One KMS call: `TrentService.<operation>` with a JSON body, signed for service `kms` over
    /// the body's hash, as AWS SDKs sign it. Returns the answer's JSON text.
    async fn kms(&self, operation: &str, body: String) -> Result<String, Failure> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let url = format!("{}/", self.endpoint);
        let host = url.split('/').nth(2).unwrap_or_default().to_owned();
        let target = format!("TrentService.{operation}");
        let headers = [
            ("host", host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(body.as_bytes()),
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let (signed_headers, _) = instructions.into_parts();
        let mut builder = self.http.post(&url).body(body);
        for (name, value) in headers.iter().filter(|(n, _)| *n != "host") {
            builder = builder.header(*name, *value);
        }
        for header in signed_headers {
            builder = builder.header(header.name(), header.value());
        }
        Ok(check(builder.send().await?).await?.text().await?)
    }

    fn signed(
        &self,
        method: &str,
        url: &str,
        extra: &[(&str, String)],
    ) -> Result<Vec<(String, String)>, Failure> {
        let identity = self.credentials.clone().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let host = url.split('/').nth(2).unwrap_or_default().to_owned();
        let mut headers: Vec<(String, String)> = vec![
            ("host".to_owned(), host),
            (
                "x-amz-content-sha256".to_owned(),
                "UNSIGNED-PAYLOAD".to_owned(),
            ),
        ];
        headers.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let signable = SignableRequest::new(
            method,
            url,
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::UnsignedPayload,
        )?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let (signed_headers, _) = instructions.into_parts();
        for header in signed_headers {
            headers.push((header.name().to_owned(), header.value().to_owned()));
        }
        Ok(headers)
    }

    fn request(
        &self,
        method: reqwest::Method,
        key: &str,
        extra: &[(&str, String)],
    ) -> Result<reqwest::RequestBuilder, Failure> {
        let url = self.url(key);
        let headers = self.signed(method.as_str(), &url, extra)?;
        let mut builder = self.http.request(method, &url);
        for (name, value) in headers.into_iter().filter(|(n, _)| n != "host") {
            builder = builder.header(name, value);
        }
        Ok(builder)
    }

    async fn put(&self, key: &str, size: u64, pattern: Bytes) -> Result<(), Failure> {
        let body = generated(size, pattern);
        let response = self
            .request(
                reqwest::Method::PUT,
                key,
                &[("content-length", size.to_string())],
            )?
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await?;
        check(response).await.map(|_| ())
    }

    /// One multipart upload of `size` bytes in parts of `part` bytes, `concurrency` at a time.
    async fn multipart(
        &self,
        key: &str,
        size: u64,
        part: u64,
        concurrency: usize,
        pattern: Bytes,
    ) -> Result<(), Failure> {
        let created = self
            .request(reqwest::Method::POST, &format!("{key}?uploads"), &[])?
            .send()
            .await?;
        let text = check(created).await?.text().await?;
        let upload_id = between(&text, "<UploadId>", "</UploadId>").ok_or("no UploadId")?;
        let parts = size.div_ceil(part);
        let etags: Vec<(u64, String)> = futures::stream::iter(1..=parts)
            .map(|number| {
                let len = part.min(size - (number - 1) * part);
                let url_key = format!("{key}?partNumber={number}&uploadId={upload_id}");
                let (client, pattern) = (self.clone(), pattern.clone());
                async move {
                    let response = client
                        .request(
                            reqwest::Method::PUT,
                            &url_key,
                            &[("content-length", len.to_string())],
                        )?
                        .body(reqwest::Body::wrap_stream(generated(len, pattern)))
                        .send()
                        .await?;
                    let response = check(response).await?;
                    let etag = response
                        .headers()
                        .get("etag")
                        .and_then(|v| v.to_str().ok())
                        .ok_or("no part ETag")?
                        .to_owned();
                    Ok::<_, Failure>((number, etag))
                }
            })
            .buffer_unordered(concurrency)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut etags = etags;
        etags.sort();
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (number, etag) in &etags {
            doc.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{etag}</ETag></Part>"
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        let completed = self
            .request(
                reqwest::Method::POST,
                &format!("{key}?uploadId={upload_id}"),
                &[("content-length", doc.len().to_string())],
            )?
            .body(doc)
            .send()
            .await?;
        let text = check(completed).await?.text().await?;
        if !text.contains("<ETag>") {
            return Err(format!("complete failed: {text}").into());
        }
        Ok(())
    }

    async fn get(&self, key: &str, range: Option<(u64, u64)>) -> Result<u64, Failure> {
        let extra: Vec<(&str, String)> = range
            .map(|(start, len)| ("range", format!("bytes={start}-{}", start + len - 1)))
            .into_iter()
            .collect();
        let response = check(
            self.request(reqwest::Method::GET, key, &extra)?
                .send()
                .await?,
        )
        .await?;
        let mut stream = response.bytes_stream();
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            received += chunk?.len() as u64;
        }
        Ok(received)
    }
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text.get(start..)?.find(close)? + start;
    text.get(start..end)
}

async fn check(response: reqwest::Response) -> Result<reqwest::Response, Failure> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    Err(format!("{status}: {text}").into())
}

/// `size` bytes made of `pattern` repeated, without generating anything per request.
fn generated(
    size: u64,
    pattern: Bytes,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> {
    let chunks = size.div_ceil(CHUNK as u64);
    futures::stream::iter(0..chunks).map(move |index| {
        let left = size - index * CHUNK as u64;
        let len = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        Ok(pattern.slice(..len))
    })
}

fn pattern() -> Bytes {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..CHUNK)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    Bytes::from(bytes)
}

fn arg<T: std::str::FromStr>(args: &[String], index: usize, name: &str) -> Result<T, Failure> {
    args.get(index)
        .ok_or_else(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| format!("bad {name}").into())
}

async fn many<F, Fut>(count: usize, job: F) -> Result<(), Failure>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), Failure>> + Send + 'static,
{
    let handles: Vec<_> = (0..count).map(|i| tokio::spawn(job(i))).collect();
    for handle in handles {
        handle.await??;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let endpoint: String = arg(&args, 1, "endpoint")?;
    let bucket: String = arg(&args, 2, "bucket")?;
    let command: String = arg(&args, 3, "command")?;
    let client = Client::from_env(&endpoint, &bucket)?;
    let started = Instant::now();
    match command.as_str() {
        "mkbucket" => {
            let response = client
                .request(reqwest::Method::PUT, "", &[])?
                .send()
                .await?;
            let status = response.status();
            if !(status.is_success() || status.as_u16() == 409) {
                return Err(format!("create bucket: {status}").into());
            }
            println!("ok=1");
        }
        "put" => {
            let key: String = arg(&args, 4, "key")?;
            let size: u64 = arg(&args, 5, "size")?;
            let count: usize = arg(&args, 6, "count").unwrap_or(1);
            let data = pattern();
            many(count, |i| {
                let (client, key, data) = (client.clone(), format!("{key}-{i}"), data.clone());
                async move { client.put(&key, size, data).await }
            })
            .await?;
            report(size * count as u64, started);
        }
        "get" => {
            let key: String = arg(&args, 4, "key")?;
            let count: usize = arg(&args, 5, "count").unwrap_or(1);
            let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            many(count, |i| {
                let (client, key, total) = (client.clone(), format!("{key}-{i}"), total.clone());
                async move {
                    let n = client.get(&key, None).await?;
                    total.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                    Ok(())
                }
            })
            .await?;
            report(total.load(std::sync::atomic::Ordering::Relaxed), started);
        }
        "multipart" => {
            let key: String = arg(&args, 4, "key")?;
            let size: u64 = arg(&args, 5, "size")?;
            let part: u64 = arg(&args, 6, "part size")?;
            let concurrency: usize = arg(&args, 7, "concurrency")?;
            client
                .multipart(&key, size, part, concurrency, pattern())
                .await?;
            report(size, started);
        }
        "kms" => {
            let ops: usize = arg(&args, 4, "ops")?;
            let concurrency: usize = arg(&args, 5, "concurrency")?;
            let request = r#"{"KeyId":"alias/sealgate-default","KeySpec":"AES_256"}"#;
            let generated = client.kms("GenerateDataKey", request.to_owned()).await?;
            let blob = between(&generated, r#""CiphertextBlob":""#, r#"""#)
                .ok_or("no CiphertextBlob")?
                .to_owned();
            for (operation, body) in [
                ("GenerateDataKey", request.to_owned()),
                ("Decrypt", format!(r#"{{"CiphertextBlob":"{blob}"}}"#)),
            ] {
                let started = Instant::now();
                many(concurrency, |worker| {
                    let (client, body) = (client.clone(), body.clone());
                    async move {
                        for _ in (worker..ops).step_by(concurrency) {
                            client.kms(operation, body.clone()).await?;
                        }
                        Ok(())
                    }
                })
                .await?;
                let seconds = started.elapsed().as_secs_f64();
                println!("{operation}_per_second={:.0}", ops as f64 / seconds);
            }
        }
        "range" => {
            let key: String = arg(&args, 4, "key")?;
            let start: u64 = arg(&args, 5, "start")?;
            let len: u64 = arg(&args, 6, "len")?;
            let received = client.get(&key, Some((start, len))).await?;
            println!("bytes={received}");
        }
        "small" => {
            let size: u64 = arg(&args, 4, "size")?;
            let ops: usize = arg(&args, 5, "ops")?;
            let concurrency: usize = arg(&args, 6, "concurrency")?;
            let data = pattern();
            many(concurrency, |worker| {
                let (client, data) = (client.clone(), data.clone());
                async move {
                    for op in (worker..ops).step_by(concurrency) {
                        let key = format!("small-{op}");
                        client.put(&key, size, data.clone()).await?;
                        client.get(&key, None).await?;
                    }
                    Ok(())
                }
            })
            .await?;
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "ops={ops} seconds={seconds:.3} ops_per_second={:.0}",
                ops as f64 / seconds
            );
        }
        other => return Err(format!("unknown command {other}").into()),
    }
    Ok(())
}

fn report(bytes: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let rate = bytes as f64 / seconds / 1e6;
    println!("bytes={bytes} seconds={seconds:.3} mb_per_second={rate:.1}");
}
