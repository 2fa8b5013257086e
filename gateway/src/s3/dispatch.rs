//! The S3 request path, in order: route, authenticate, authorize, run the operation's handler.
//!
//! Takes a request from [`crate::server`] and answers it; every error becomes S3 error XML through
//! [`crate::error::response`]. Handlers get a [`Call`]: the request head, who signed it, and the
//! shared [`App`].

use bytes::Bytes;
use http::{Method, Request, Response};
use hyper::body::Incoming;

use super::route::{Operation, Route, Router};
use super::{access, bucket, copy, list, multipart, object, policy, xml};
use crate::auth::{self, AuthSettings, Authenticated};
use crate::authz::Grants;
use crate::error::Error;
use crate::server::{App, ResponseBody};
use crate::trail;

/// One request being answered: its head, who signed it, and the gateway.
pub struct Call<'a> {
    /// The gateway's shared parts.
    pub app: &'a App,
    /// The request head.
    pub parts: http::request::Parts,
    /// Who signed the request.
    pub who: Authenticated,
    /// Where the request was routed.
    pub route: Route,
    /// What the principal may do.
    pub grants: Grants,
}

impl Call<'_> {
    /// The owner reported in listings: the principal that signed the request.
    pub fn owner(&self) -> xml::Owner {
        xml::Owner {
            id: self.who.principal.name().to_owned(),
            display_name: self.who.principal.name().to_owned(),
        }
    }
}

/// Answers one S3 request.
pub async fn handle(
    app: &App,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let with_body = parts.method != Method::HEAD;
    let close = expects_continue_for_nothing(&parts);
    let mut response = match run(app, parts, body).await {
        Ok(response) => response,
        Err(error) => crate::error::response(&error, request_id, with_body),
    };
    if close {
        let close = http::HeaderValue::from_static("close");
        response
            .headers_mut()
            .insert(http::header::CONNECTION, close);
    }
    response
}

async fn run(
    app: &App,
    parts: http::request::Parts,
    body: Incoming,
) -> Result<Response<ResponseBody>, Error> {
    let route = Router::new(app.virtual_host_domains.iter().cloned()).route_parts(&parts)?;
    record_route(&route);

    let who = authenticate(app, &parts).await?;
    tracing::Span::current().record("access_key_id", who.access_key_id.as_str());
    let grants = crate::server::grants(app, &who, &parts)?;

    let call = Call {
        app,
        parts,
        who,
        route,
        grants,
    };
    access::authorize(&call).await?;
    execute(&call, body).await
}

fn record_route(route: &Route) {
    let span = tracing::Span::current();
    span.record("operation", route.operation.name());
    if let Some(bucket) = &route.bucket {
        span.record("bucket", bucket.as_str());
    }
    if let Some(key) = &route.key {
        span.record("key", key.as_str());
    }
    trail::note(|e| {
        e.action = format!("s3:{}", route.operation.name());
        e.bucket.clone_from(&route.bucket);
        e.key.clone_from(&route.key);
    });
}

async fn authenticate(app: &App, parts: &http::request::Parts) -> Result<Authenticated, Error> {
    let settings = AuthSettings::new(&app.region);
    let who = auth::authenticate(parts, app.credentials.as_ref(), &settings).await?;
    if who.service != "s3" {
        return Err(auth::AuthError::MalformedAuthorization {
            reason: format!("credential scope names service {:?}, not s3", who.service),
        }
        .into());
    }
    Ok(who)
}

/// Whether the request announced an empty body with `Expect: 100-continue`. hyper sends no
/// `100 Continue` for an empty body, and botocore (aws-cli, boto3) then misreads the next
/// response on the same connection and stalls until it times out; closing the connection after
/// such a request spares it that.
fn expects_continue_for_nothing(parts: &http::request::Parts) -> bool {
    let expects = parts
        .headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let empty = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() == b"0");
    expects && empty
}

/// Runs the handler of the routed operation.
async fn execute(call: &Call<'_>, body: Incoming) -> Result<Response<ResponseBody>, Error> {
    let bucket = call.route.bucket.as_deref().unwrap_or_default();
    let key = call.route.key.as_deref().unwrap_or_default();
    match call.route.operation {
        Operation::ListBuckets => bucket::list(call).await,
        Operation::CreateBucket => bucket::create(call, bucket, body).await,
        Operation::HeadBucket => bucket::head(call, bucket).await,
        Operation::DeleteBucket => bucket::delete(call, bucket).await,
        Operation::GetBucketLocation => bucket::location(call, bucket).await,
        Operation::ListObjects => list::list(call, bucket, false).await,
        Operation::ListObjectsV2 => list::list(call, bucket, true).await,
        Operation::PutObject => object::put(call, bucket, key, body).await,
        Operation::GetObject => object::get(call, bucket, key, true).await,
        Operation::HeadObject => object::get(call, bucket, key, false).await,
        Operation::DeleteObject => object::delete(call, bucket, key).await,
        Operation::DeleteObjects => object::delete_many(call, bucket, body).await,
        Operation::GetBucketVersioning => bucket::versioning(call, bucket).await,
        Operation::PutBucketEncryption => bucket::put_encryption(call, bucket, body).await,
        Operation::GetBucketEncryption => bucket::get_encryption(call, bucket).await,
        Operation::DeleteBucketEncryption => bucket::delete_encryption(call, bucket).await,
        Operation::PutBucketPolicy => policy::put(call, bucket, body).await,
        Operation::GetBucketPolicy => policy::get(call, bucket).await,
        Operation::DeleteBucketPolicy => policy::delete(call, bucket).await,
        Operation::GetObjectTagging => object::tagging(call, bucket, key).await,
        Operation::CopyObject => copy::copy_object(call, bucket, key).await,
        Operation::UploadPartCopy => copy::upload_part_copy(call, bucket, key).await,
        Operation::CreateMultipartUpload => multipart::create(call, bucket, key).await,
        Operation::UploadPart => multipart::upload_part(call, bucket, key, body).await,
        Operation::CompleteMultipartUpload => multipart::complete(call, bucket, key, body).await,
        Operation::AbortMultipartUpload => multipart::abort(call, bucket, key).await,
        Operation::ListParts => multipart::list_parts(call, bucket, key).await,
        Operation::ListMultipartUploads => multipart::list_uploads(call, bucket).await,
        other => Err(Error::NotImplemented {
            operation: other.name(),
        }),
    }
}

/// Reads a small request body (XML documents), verified like any body, up to `limit` bytes.
pub async fn read_small_body(call: &Call<'_>, body: Incoming, limit: u64) -> Result<Bytes, Error> {
    let verified = auth::verify_body(&call.who, &call.parts, body)?;
    let length = verified.decoded_length.unwrap_or(0);
    if length > limit {
        return Err(Error::EntityTooLarge { size: length });
    }
    object::collect(verified.stream, length).await
}
