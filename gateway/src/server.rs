//! The edge of the request path: accept connections, give each request an id and a span, route it.
//!
//! Takes TCP connections on the configured address (HTTP/1.1 and h2c through hyper-util's auto
//! builder), and hands every request to [`App::handle`], which answers `/health/*` and
//! `/metrics` itself and passes everything else to the KMS API, the IAM API or [`crate::s3`],
//! inside the scope of the request's audit draft ([`crate::trail`]); the event is appended when
//! the response is done. Shuts down gracefully on SIGINT or SIGTERM: stops accepting, lets
//! requests in flight finish for up to 30 seconds, seals the audit file.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{Instrument, field};

use crate::auth::{Authenticated, CredentialStore};
use crate::authz::{Authorizer, AuthzError, Grants, Peer};
use crate::backend::Backend;
use crate::body::BoxError;
use crate::keys::DataKeys;
use crate::metrics::Metrics;
use crate::trail::{Draft, Trail};

/// The body of every response Sealgate sends.
pub type ResponseBody = UnsyncBoxBody<Bytes, BoxError>;

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a client may take to send a request's headers before the connection is closed.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a request needs, shared by all connections. Holds no per-request state.
pub struct App {
    /// The store behind the gateway.
    pub backend: Arc<dyn Backend>,
    /// The same store, naming Sealgate's own records: multipart uploads and their parts.
    pub records: Arc<dyn Backend>,
    /// Data keys from kms-core.
    pub keys: DataKeys,
    /// Access keys and their secrets: the root credentials and the identity store's.
    pub credentials: Arc<dyn CredentialStore>,
    /// Who may do what.
    pub authz: Authorizer,
    /// Where every request's audit event goes.
    pub trail: Arc<Trail>,
    /// The region clients sign for.
    pub region: String,
    /// Domains for virtual-hosted-style requests.
    pub virtual_host_domains: Vec<String>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// A response with a small in-memory body.
pub fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<ResponseBody> {
    let body = Full::new(body.into())
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response<ResponseBody> {
    full(status, Bytes::new())
}

impl App {
    /// Answers one request. Never fails: every error has become a response by here.
    pub async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<ResponseBody> {
        let request_id = new_request_id();
        let span = tracing::debug_span!(
            "request",
            request_id = %request_id,
            operation = field::Empty,
            bucket = field::Empty,
            key = field::Empty,
            access_key_id = field::Empty,
        );
        // `/health/live` is also bucket `health`, key `live`: signed requests are S3's.
        let unsigned = !is_signed(&request);
        let mut response = match request.uri().path() {
            "/health/live" if unsigned => full(StatusCode::OK, "ok\n"),
            "/health/ready" if unsigned => self.ready().instrument(span).await,
            "/metrics" if unsigned => full(StatusCode::OK, self.metrics.render()),
            _ => self.audited(request, &request_id).instrument(span).await,
        };
        set_request_id(&mut response, &request_id);
        self.metrics.request(response.status());
        response
    }

    /// Serves a request of one of the APIs inside its audit draft, and finishes the event.
    async fn audited(
        self: &Arc<Self>,
        request: Request<Incoming>,
        request_id: &str,
    ) -> Response<ResponseBody> {
        let service = Service::of(&request);
        let draft = Arc::new(std::sync::Mutex::new(draft(&request, request_id, service)));
        self.trail.probe();
        if !self.trail.is_ready() {
            return service.unavailable(request_id);
        }
        let response = crate::trail::scope(Arc::clone(&draft), async {
            match service {
                Service::Kms => crate::kms_api::handle(self, request).await,
                Service::Iam => crate::iam_api::handle(self, request, request_id).await,
                Service::S3 => crate::s3::handle(self, request, request_id).await,
            }
        })
        .await;
        self.trail
            .finish(draft, response, || service.unavailable(request_id))
    }

    /// Ready when the backend and the key store answer and the audit trail can be written.
    async fn ready(&self) -> Response<ResponseBody> {
        self.trail.probe();
        if !self.trail.is_ready() {
            tracing::warn!("not ready: audit trail");
            return full(StatusCode::SERVICE_UNAVAILABLE, "audit trail unavailable\n");
        }
        let backend = self.backend.ready().await;
        let keys = self.keys.ready();
        match (backend, keys) {
            (Ok(()), Ok(())) => full(StatusCode::OK, "ready\n"),
            (Err(error), _) => {
                tracing::warn!(error = %error, "not ready: backend");
                full(StatusCode::SERVICE_UNAVAILABLE, "backend unavailable\n")
            }
            (_, Err(error)) => {
                tracing::warn!(error = %error, "not ready: key store");
                full(StatusCode::SERVICE_UNAVAILABLE, "key store unavailable\n")
            }
        }
    }
}

/// Which API a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    S3,
    Kms,
    Iam,
}

impl Service {
    fn of<B>(request: &Request<B>) -> Service {
        if crate::kms_api::is_kms(request) {
            Service::Kms
        } else if crate::iam_api::is_iam(request) {
            Service::Iam
        } else {
            Service::S3
        }
    }

    fn audited_as(self) -> audit::Service {
        match self {
            Service::S3 => audit::Service::S3,
            Service::Kms => audit::Service::Kms,
            Service::Iam => audit::Service::Iam,
        }
    }

    /// The answer when the audit trail cannot be written, in the API's own error shape.
    fn unavailable(self, request_id: &str) -> Response<ResponseBody> {
        match self {
            Service::S3 => {
                let error = crate::error::Error::AuditUnavailable;
                crate::error::response(&error, request_id, true)
            }
            Service::Kms => crate::kms_api::unavailable(),
            Service::Iam => crate::iam_api::unavailable(request_id),
        }
    }
}

/// The draft of a request's audit event, with what the request head tells.
fn draft<B>(request: &Request<B>, request_id: &str, service: Service) -> Draft {
    let header = |name| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let source_ip = request.extensions().get::<Peer>().map(|p| p.0.ip());
    let bytes_in = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    Draft::new(service.audited_as(), "", request_id)
        .client(source_ip, header(http::header::USER_AGENT))
        .bytes(bytes_in.unwrap_or(0), 0)
}

/// The grants of an authenticated principal, for any of the APIs; notes who it is on the audit
/// event.
pub fn grants(
    app: &App,
    who: &Authenticated,
    parts: &http::request::Parts,
) -> Result<Grants, AuthzError> {
    let source = parts.extensions.get::<Peer>().map(|p| p.0.ip());
    let user_agent = parts
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let grants = app.authz.grants(who, source, user_agent)?;
    crate::trail::note(|e| {
        e.principal = grants.principal_arn().to_owned();
        e.access_key_id = Some(who.access_key_id.clone());
    });
    Ok(grants)
}

/// Whether a request carries a signature, in its headers or its query.
fn is_signed<B>(request: &Request<B>) -> bool {
    let query = request.uri().query().unwrap_or("");
    request.headers().contains_key(http::header::AUTHORIZATION)
        || query.contains("X-Amz-Signature=")
        || query.contains("Signature=")
}

fn new_request_id() -> String {
    let bytes: [u8; 8] = rand::random();
    hex::encode_upper(bytes)
}

fn set_request_id(response: &mut Response<ResponseBody>, request_id: &str) {
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        response
            .headers_mut()
            .insert("x-amz-request-id", value.clone());
        response.headers_mut().insert("x-amz-id-2", value);
    }
}

/// Serves `app` on `listener` until a shutdown signal, then drains connections.
pub async fn serve(app: Arc<App>, listener: TcpListener) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        // A client may shut down its sending side and still wait for the answer.
        .half_close(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());

    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let app = app.clone();
                    let service = service_fn(move |mut request: Request<Incoming>| {
                        request.extensions_mut().insert(Peer(peer));
                        let app = app.clone();
                        async move { Ok::<_, Infallible>(app.handle(request).await) }
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection.into_owned());
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(error = %error, "connection ended with an error");
                        }
                    });
                }
                Err(error) => tracing::warn!(error = %error, "accept failed"),
            },
            () = &mut shutdown => break,
        }
    }

    tracing::info!("shutting down: draining connections");
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain timeout");
    }
    app.trail.close();
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {},
            () = terminate => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
