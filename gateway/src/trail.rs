//! The audit step: the last of the request path. Every request, whatever became of it, leaves
//! exactly one event on the audit trail.
//!
//! [`crate::server`] opens a [`Draft`] for each request and runs the request inside its scope;
//! the steps on the way [`note`] what they learn (the operation and its action, the principal,
//! bucket and key, the master key used, the authorizer's decision and the statement that made it).
//! When the response is ready, [`Trail::finish`] adds the status, error code and byte counts and
//! appends the event to the [`audit`] log: at once for a response held in memory, or when a
//! streamed body ends. A request whose event cannot be appended is answered with an error
//! instead, and while the log is failing no request is served at all ([`Trail::is_ready`]).
//! The trail never carries a secret, a data key or plaintext: only names, ids and counts.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use audit::{Decision, Event, Service};
use bytes::Bytes;
use http::Response;
use http_body::{Body, Frame, SizeHint};

use crate::body::BoxError;
use crate::server::ResponseBody;

tokio::task_local! {
    static DRAFT: Arc<Mutex<Draft>>;
}

/// The event of the request being answered, as far as the path has filled it in. Its status,
/// error code and bytes out are set when the response is done.
pub type Draft = Event;

/// What the steps of the path add to a draft beside plain fields.
pub trait DraftExt {
    /// A decision of the authorizer. A request asks several questions (a GET asks about the
    /// object, then its master key; a copy reads one object and writes another): the event keeps
    /// the first denial, or else the first allow, the one about the operation itself.
    fn decide(&mut self, decision: Decision, by: Option<String>, reason: Option<String>);
    /// A resource the request acts on, once.
    fn add_resource(&mut self, arn: &str);
}

impl DraftExt for Event {
    fn decide(&mut self, decision: Decision, by: Option<String>, reason: Option<String>) {
        let kept = match self.decision {
            Decision::Deny => true,
            Decision::Allow => decision == Decision::Allow,
            Decision::None => false,
        };
        if kept {
            return;
        }
        self.decision = decision;
        self.decided_by = by;
        self.reason = reason;
    }

    fn add_resource(&mut self, arn: &str) {
        if !self.resources.iter().any(|r| r == arn) {
            self.resources.push(arn.to_owned());
        }
    }
}

/// Adds to the current request's draft; does nothing outside a request.
pub fn note(edit: impl FnOnce(&mut Draft)) {
    let _ = DRAFT.try_with(|draft| edit(&mut lock(draft)));
}

/// Runs `request` with `draft` as the draft [`note`] adds to.
pub async fn scope<F: std::future::Future>(draft: Arc<Mutex<Draft>>, request: F) -> F::Output {
    DRAFT.scope(draft, request).await
}

fn lock(draft: &Mutex<Draft>) -> std::sync::MutexGuard<'_, Draft> {
    draft.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error code of an error response, for the audit event (set where errors meet the wire).
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

/// The audit trail of this gateway: where events go, and whether the last append worked.
pub struct Trail {
    log: audit::AuditLog,
    failing: AtomicBool,
}

impl Trail {
    /// A trail appending to `log`.
    pub fn new(log: audit::AuditLog) -> Trail {
        Trail {
            log,
            failing: AtomicBool::new(false),
        }
    }

    /// Whether requests may be served: the last append succeeded.
    pub fn is_ready(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }

    /// Appends one event; a failure marks the trail failing until an append works again.
    pub fn append(&self, event: &Event) -> Result<(), audit::Error> {
        match self.log.append(event) {
            Ok(()) => {
                self.failing.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(error) => {
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::error!(error = %error, "audit trail cannot be written; refusing requests");
                }
                Err(error)
            }
        }
    }

    /// Tries the log again while it is failing, so a freed disk lets requests through again.
    pub fn probe(&self) {
        if self.is_ready() {
            return;
        }
        let probe = Event::new(Service::Admin, "sealgate:AuditProbe", "-").principal("sealgate");
        if self.append(&probe).is_ok() {
            tracing::info!("audit trail writable again");
        }
    }

    /// Seals the current file of the log (at shutdown).
    pub fn close(&self) {
        if let Err(error) = self.log.close() {
            tracing::error!(error = %error, "audit trail could not be sealed");
        }
    }

    /// Finishes the request's event: appended now for a body held in memory (an append that
    /// fails turns the response into `unavailable`), or when a streamed body ends.
    pub fn finish(
        self: &Arc<Self>,
        draft: Arc<Mutex<Draft>>,
        mut response: Response<ResponseBody>,
        unavailable: impl FnOnce() -> Response<ResponseBody>,
    ) -> Response<ResponseBody> {
        let status = response.status().as_u16();
        {
            let mut draft = lock(&draft);
            draft.status = status;
            if let Some(code) = response.extensions_mut().remove::<ErrorCode>() {
                draft.error_code = Some(code.0);
            }
        }
        if let Some(size) = response.body().size_hint().exact() {
            // Nothing notes on the draft once the response is ready: take it whole.
            let mut event = Arc::try_unwrap(draft)
                .map(|d| d.into_inner().unwrap_or_else(|e| e.into_inner()))
                .unwrap_or_else(|shared| lock(&shared).clone());
            event.bytes_out = size;
            return match self.append(&event) {
                Ok(()) => response,
                Err(_) => unavailable(),
            };
        }
        let trail = Arc::clone(self);
        // hyper stops polling once Content-Length bytes are out, and drops the body unfinished.
        let length = response
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        response.map(|body| {
            let audited = Audited {
                body,
                sent: 0,
                pending: Some(Pending {
                    trail,
                    draft,
                    length,
                }),
            };
            http_body_util::BodyExt::boxed_unsync(audited)
        })
    }

    /// An event of the gateway itself (scheduled rotation, deletion), not of a request.
    pub fn system(&self, action: &str, key_id: &str, key_version: Option<u32>) {
        let event = Event::new(Service::System, action, "-")
            .principal("sealgate")
            .master_key(key_id, key_version);
        if let Err(error) = self.append(&event) {
            tracing::error!(error = %error, key_id, action, "key event not audited");
        }
    }
}

/// What a streamed body appends when it ends.
struct Pending {
    trail: Arc<Trail>,
    draft: Arc<Mutex<Draft>>,
    /// The response's Content-Length, if it has one.
    length: Option<u64>,
}

impl Pending {
    fn append(self, sent: u64, ended: bool) {
        let mut event = lock(&self.draft).clone();
        event.bytes_out = sent;
        let complete = ended || self.length.is_some_and(|length| sent >= length);
        if !complete {
            event.reason = Some("the body was not sent in full".to_owned());
        }
        // The response is on its way: a failure here can only stop later requests.
        let _ = self.trail.append(&event);
    }
}

pin_project_lite::pin_project! {
    /// A streamed response body that counts what it sends and appends the event at its end
    /// (or when dropped early: the client went away).
    struct Audited {
        #[pin]
        body: ResponseBody,
        sent: u64,
        pending: Option<Pending>,
    }

    impl PinnedDrop for Audited {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(pending) = this.pending.take() {
                pending.append(*this.sent, false);
            }
        }
    }
}

impl Body for Audited {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.project();
        let polled = this.body.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                *this.sent += frame.data_ref().map_or(0, |d| d.len() as u64);
            }
            Poll::Ready(None) => {
                if let Some(pending) = this.pending.take() {
                    pending.append(*this.sent, true);
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{empty, full};
    use http::StatusCode;

    fn trail(dir: &std::path::Path) -> Arc<Trail> {
        let key = audit::SealKey::from_bytes([7; audit::SEAL_KEY_LEN]);
        let log = audit::AuditLog::open(dir, key, audit::AuditOptions::default()).unwrap();
        Arc::new(Trail::new(log))
    }

    fn draft() -> Arc<Mutex<Draft>> {
        Arc::new(Mutex::new(Draft::new(Service::S3, "s3:GetObject", "REQ1")))
    }

    #[test]
    fn an_event_that_cannot_be_appended_fails_the_request_and_stops_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let trail = trail(dir.path());
        let answered = trail.finish(draft(), full(StatusCode::OK, "x"), || {
            empty(StatusCode::SERVICE_UNAVAILABLE)
        });
        assert_eq!(answered.status(), StatusCode::OK);
        assert!(trail.is_ready());

        // A closed log refuses appends, as a full disk would.
        trail.close();
        let answered = trail.finish(draft(), full(StatusCode::OK, "x"), || {
            empty(StatusCode::SERVICE_UNAVAILABLE)
        });
        assert_eq!(answered.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!trail.is_ready());
    }

    #[test]
    fn the_first_denial_is_kept() {
        let mut event = Draft::new(Service::S3, "s3:CopyObject", "REQ2");
        event.decide(Decision::Allow, Some("a".into()), None);
        event.decide(Decision::Deny, Some("b".into()), Some("denied".into()));
        event.decide(Decision::Allow, Some("c".into()), None);
        assert_eq!(event.decision, Decision::Deny);
        assert_eq!(event.decided_by.as_deref(), Some("b"));
        event.add_resource("arn:aws:s3:::b/k");
        event.add_resource("arn:aws:s3:::b/k");
        assert_eq!(event.resources.len(), 1);
    }
}
