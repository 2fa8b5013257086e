//! The IAM API: a subset of AWS IAM's query protocol on Sealgate's listener, so
//! `aws iam --endpoint-url` and the SDKs manage Sealgate's users, groups, access keys and
//! policies.
//!
//! A request is `POST /` with a form body (`Action=CreateUser&UserName=...`) signed for service
//! `iam`. It walks the KMS API's path: read the small body, check the signature over it, ask the
//! authorizer about `iam:<Action>` on the user, group or policy named, then let the
//! [`iam`] crate run the call and answer XML. Errors are IAM's `ErrorResponse` documents.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use iam::{Caller, IamError};
use policy::Context;

use crate::auth::{self, AuthSettings, Principal};
use crate::authz::Ask;
use crate::s3::route::Query;
use crate::server::{App, ResponseBody, full};
use crate::trail::{self, DraftExt as _};

/// The largest form body read: a 6144-character policy percent-encoded is under 20 KiB.
const MAX_BODY: usize = 128 * 1024;

/// Whether `request` is an IAM request: `POST /` signed for service `iam`.
pub fn is_iam<B>(request: &Request<B>) -> bool {
    let signed_for_iam = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("/iam/aws4_request"));
    request.method() == http::Method::POST && request.uri().path() == "/" && signed_for_iam
}

/// Answers one IAM request.
pub async fn handle(
    app: &App,
    request: Request<Incoming>,
    request_id: &str,
) -> Response<ResponseBody> {
    match run(app, request, request_id).await {
        Ok(document) => xml(StatusCode::OK, document),
        Err(error) => error_response(&error, request_id),
    }
}

/// The answer while the audit trail cannot be written.
pub fn unavailable(request_id: &str) -> Response<ResponseBody> {
    error_response(&service_failure(), request_id)
}

async fn run(app: &App, request: Request<Incoming>, request_id: &str) -> Result<String, IamError> {
    let (parts, body) = request.into_parts();
    let body = read_body(body).await?;
    let settings = AuthSettings::new(&app.region);
    let who = auth::authenticate_buffered(&parts, &body, app.credentials.as_ref(), &settings)
        .await
        .map_err(not_authenticated)?;
    tracing::Span::current().record("access_key_id", who.access_key_id.as_str());
    if who.service != "iam" {
        return Err(error(
            "InvalidClientTokenId",
            403,
            "Credential should be scoped to iam",
        ));
    }
    let text = std::str::from_utf8(&body).map_err(|_| malformed_form())?;
    let params = Query::parse(text).map_err(|_| malformed_form())?;
    let params = params.pairs().to_vec();

    let identities = app.authz.identities();
    let (action, resource) = iam::action_and_resource(identities.account_id(), &params);
    tracing::Span::current().record("operation", action.as_str());
    trail::note(|e| {
        e.action = action.clone();
        e.add_resource(&resource);
    });
    let grants = crate::server::grants(app, &who, &parts).map_err(|e| {
        tracing::error!(error = %e, "iam request not authorized: policies unreadable");
        service_failure()
    })?;
    let context: Context = grants.context();
    let ask = Ask {
        action: &action,
        resource: &resource,
        policy: None,
        context: &context,
    };
    grants.check(&ask).map_err(|_| access_denied())?;

    let caller = match &who.principal {
        Principal::Root => Caller::Root,
        Principal::User { name, .. } => Caller::User { name: name.clone() },
    };
    // Writes go to the identity store with fsync: off the runtime's threads.
    let identities = std::sync::Arc::clone(identities);
    let request_id = request_id.to_owned();
    tokio::task::spawn_blocking(move || identities.call(&caller, &params, &request_id))
        .await
        .map_err(|_| service_failure())?
}

async fn read_body(body: Incoming) -> Result<Bytes, IamError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(error(
            "ValidationError",
            400,
            "The request body is too large or incomplete",
        )),
    }
}

fn error(code: &'static str, status: u16, message: &str) -> IamError {
    IamError {
        code,
        status,
        message: message.to_owned(),
    }
}

fn malformed_form() -> IamError {
    error(
        "MalformedQueryString",
        400,
        "The request body is not a form",
    )
}

fn service_failure() -> IamError {
    error("ServiceFailure", 500, "An internal error occurred")
}

fn access_denied() -> IamError {
    error(
        "AccessDenied",
        403,
        "The caller is not authorized to perform this operation.",
    )
}

fn not_authenticated(error_: auth::AuthError) -> IamError {
    tracing::debug!(error = %error_, "iam request not authenticated");
    match error_ {
        auth::AuthError::InvalidAccessKeyId { .. } => error(
            "InvalidClientTokenId",
            403,
            "The security token included in the request is invalid.",
        ),
        auth::AuthError::RequestTimeTooSkewed { .. } | auth::AuthError::Expired { .. } => {
            error("RequestExpired", 403, "Signature expired")
        }
        _ => error(
            "SignatureDoesNotMatch",
            403,
            "The request signature we calculated does not match the signature you provided.",
        ),
    }
}

fn error_response(error: &IamError, request_id: &str) -> Response<ResponseBody> {
    tracing::debug!(code = error.code, message = %error.message, "iam request refused");
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = xml(status, error.to_xml(request_id));
    let code = trail::ErrorCode(error.code.to_owned());
    response.extensions_mut().insert(code);
    response
}

fn xml(status: StatusCode, document: String) -> Response<ResponseBody> {
    let mut response = full(status, document);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml"),
    );
    response
}
