//! Body verification: the request body, wrapped in a stream that checks it as it flows.
//!
//! Takes the [`Authenticated`] identity, the request head and the body, and hands on a
//! [`VerifiedBody`]: the decoded payload as a [`ByteStream`]. On the way it undoes aws-chunked
//! framing (checking chunk signatures), counts bytes against Content-Length and
//! x-amz-decoded-content-length, and hashes for x-amz-content-sha256, Content-MD5 and
//! x-amz-checksum-*. Whatever can only be decided at the end is decided when the inner body
//! ends and, if it fails, surfaces as an `Err` item *instead of* the clean end of the stream, so
//! the consumer aborts its write and nothing partial becomes visible.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::request::Parts;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::checksum::{self, ExpectedChecksum, Hasher, Source};
use super::chunked::ChunkDecoder;
use super::parse::header_str;
use super::{AuthError, Authenticated, Payload};
use crate::body::{BoxError, ByteStream};

/// The verified request body.
pub struct VerifiedBody {
    /// The payload, decoded; an `Err` item means the body failed verification.
    pub stream: ByteStream,
    /// The payload length the client declared (x-amz-decoded-content-length or Content-Length).
    pub decoded_length: Option<u64>,
}

impl std::fmt::Debug for VerifiedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedBody")
            .field("decoded_length", &self.decoded_length)
            .finish()
    }
}

/// Wraps `body` in the checks its request announces; malformed announcements fail here.
pub fn verify_body<B>(
    who: &Authenticated,
    parts: &Parts,
    body: B,
) -> Result<VerifiedBody, AuthError>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<BoxError>,
{
    let checks = Checks::for_request(who, parts)?;
    let decoded_length = checks.decoded_length;
    let stream = Verifying {
        body,
        checks,
        pending: VecDeque::new(),
        finished: false,
    };
    Ok(VerifiedBody {
        stream: Box::pin(stream),
        decoded_length,
    })
}

/// Every check one body goes through.
struct Checks {
    decoder: Option<ChunkDecoder>,
    content_length: Option<u64>,
    decoded_length: Option<u64>,
    raw_seen: u64,
    decoded_seen: u64,
    sha256: Option<(Sha256, [u8; 32])>,
    md5: Option<(Md5, [u8; 16])>,
    checksum: Option<(ExpectedChecksum, Hasher)>,
}

impl Checks {
    /// The checks `parts` announces for a body of `who`'s payload mode.
    fn for_request(who: &Authenticated, parts: &Parts) -> Result<Self, AuthError> {
        let content_length = length_header(parts, "content-length")?;
        let decoder = decoder_for(who);
        let decoded_length = match decoder {
            Some(_) => Some(
                length_header(parts, "x-amz-decoded-content-length")?
                    .ok_or(AuthError::MissingContentLength)?,
            ),
            None => content_length,
        };
        let checksum = checksum::expected_checksum(parts, who.payload.has_trailer())?
            .map(|expected| (expected.clone(), expected.algorithm.hasher()));
        let md5 = checksum::content_md5(parts)?.map(|digest| (Md5::new(), digest));
        let sha256 = match who.payload {
            Payload::Sha256(digest) => Some((Sha256::new(), digest)),
            _ => None,
        };
        let (raw_seen, decoded_seen) = (0, 0);
        Ok(Self {
            decoder,
            content_length,
            decoded_length,
            raw_seen,
            decoded_seen,
            sha256,
            md5,
            checksum,
        })
    }

    /// Takes one piece of the raw body; the payload it carries goes onto `out`.
    fn on_data(&mut self, raw: Bytes, out: &mut VecDeque<Bytes>) -> Result<(), AuthError> {
        self.raw_seen += raw.len() as u64;
        if let Some(expected) = self.content_length.filter(|l| self.raw_seen > *l) {
            return Err(AuthError::BodyTooLong { expected });
        }
        let first_new = out.len();
        match &mut self.decoder {
            Some(decoder) => decoder.feed(raw, out)?,
            None => out.push_back(raw),
        }
        for piece in out.iter().skip(first_new) {
            self.hash(piece);
        }
        match self.decoded_length {
            Some(expected) if self.decoded_seen > expected => {
                Err(AuthError::BodyTooLong { expected })
            }
            _ => Ok(()),
        }
    }

    fn hash(&mut self, piece: &[u8]) {
        self.decoded_seen += piece.len() as u64;
        if let Some((hasher, _)) = &mut self.sha256 {
            hasher.update(piece);
        }
        if let Some((hasher, _)) = &mut self.md5 {
            hasher.update(piece);
        }
        if let Some((_, hasher)) = &mut self.checksum {
            hasher.update(piece);
        }
    }

    /// The checks decided at the end of the body, in the order S3 reports them.
    fn on_end(&mut self) -> Result<(), AuthError> {
        let trailers = match &mut self.decoder {
            Some(decoder) => decoder.finish()?,
            None => Vec::new(),
        };
        self.check_lengths()?;
        self.check_sha256()?;
        self.check_md5()?;
        self.check_checksum(&trailers)
    }

    fn check_lengths(&self) -> Result<(), AuthError> {
        let short = |expected: Option<u64>, received: u64| match expected {
            Some(expected) if received < expected => {
                Err(AuthError::IncompleteBody { expected, received })
            }
            _ => Ok(()),
        };
        short(self.content_length, self.raw_seen)?;
        short(self.decoded_length, self.decoded_seen)
    }

    fn check_sha256(&mut self) -> Result<(), AuthError> {
        let Some((hasher, expected)) = self.sha256.take() else {
            return Ok(());
        };
        let equal: bool =
            subtle::ConstantTimeEq::ct_eq(&hasher.finalize()[..], &expected[..]).into();
        if equal {
            Ok(())
        } else {
            Err(AuthError::ContentSha256Mismatch)
        }
    }

    fn check_md5(&mut self) -> Result<(), AuthError> {
        let Some((hasher, expected)) = self.md5.take() else {
            return Ok(());
        };
        if hasher.finalize()[..] == expected[..] {
            Ok(())
        } else {
            Err(AuthError::BadDigest)
        }
    }

    fn check_checksum(&mut self, trailers: &[(String, String)]) -> Result<(), AuthError> {
        let Some((expected, hasher)) = self.checksum.take() else {
            return no_unexpected_trailer(trailers);
        };
        let algorithm = expected.algorithm;
        let sent = match expected.source {
            Source::Header(value) => value,
            Source::Trailer => trailer_value(trailers, algorithm)?,
        };
        match hasher.finish() == sent {
            true => Ok(()),
            false => Err(AuthError::ChecksumMismatch {
                algorithm: algorithm.name(),
            }),
        }
    }
}

/// The aws-chunked decoder for the payload mode, if the body is aws-chunked.
fn decoder_for(who: &Authenticated) -> Option<ChunkDecoder> {
    let seed = || Some(who.chain.clone());
    match who.payload {
        Payload::StreamingSigned => Some(ChunkDecoder::new(seed(), false)),
        Payload::StreamingSignedTrailer => Some(ChunkDecoder::new(seed(), true)),
        Payload::StreamingUnsignedTrailer => Some(ChunkDecoder::new(None, true)),
        Payload::Unsigned | Payload::Sha256(_) => None,
    }
}

/// The decoded value of the announced trailing checksum; any other trailer is refused.
fn trailer_value(
    trailers: &[(String, String)],
    algorithm: checksum::Algorithm,
) -> Result<Vec<u8>, AuthError> {
    let mut value = None;
    for (name, text) in trailers {
        if name != algorithm.header() || value.is_some() {
            return Err(AuthError::invalid_checksum(format!(
                "unexpected trailer {name}"
            )));
        }
        value = Some(algorithm.decode(text)?);
    }
    value.ok_or_else(|| {
        AuthError::invalid_checksum(format!("trailer {} missing", algorithm.header()))
    })
}

fn no_unexpected_trailer(trailers: &[(String, String)]) -> Result<(), AuthError> {
    match trailers.first() {
        Some((name, _)) => Err(AuthError::invalid_checksum(format!(
            "unannounced trailer {name}"
        ))),
        None => Ok(()),
    }
}

/// A decimal length header, when present.
fn length_header(parts: &Parts, name: &'static str) -> Result<Option<u64>, AuthError> {
    let Some(value) = parts.headers.get(name) else {
        return Ok(None);
    };
    let text = header_str(value, name)?;
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let length = text
        .parse()
        .ok()
        .filter(|_| digits)
        .ok_or(AuthError::InvalidHeader { name })?;
    Ok(Some(length))
}

/// The stream that runs [`Checks`] over a body.
struct Verifying<B> {
    body: B,
    checks: Checks,
    pending: VecDeque<Bytes>,
    finished: bool,
}

impl<B> Verifying<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// Ends the stream with `error`.
    fn fail(&mut self, error: AuthError) -> Poll<Option<Result<Bytes, BoxError>>> {
        tracing::debug!(error = %error, "request body failed verification");
        self.finished = true;
        self.pending.clear();
        Poll::Ready(Some(Err(Box::new(error))))
    }

    /// Runs the checks over one frame of the inner body.
    fn on_frame(&mut self, frame: http_body::Frame<Bytes>) -> Result<(), AuthError> {
        // HTTP trailers carry nothing S3 clients sign; only data frames matter.
        let Ok(data) = frame.into_data() else {
            return Ok(());
        };
        let mut pending = std::mem::take(&mut self.pending);
        let fed = self.checks.on_data(data, &mut pending);
        self.pending = pending;
        fed
    }

    /// The inner body ended: the end checks decide between a clean end and an error.
    fn end(&mut self) -> Poll<Option<Result<Bytes, BoxError>>> {
        self.finished = true;
        match self.checks.on_end() {
            Ok(()) => Poll::Ready(None),
            Err(error) => self.fail(error),
        }
    }
}

impl<B> Stream for Verifying<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(piece) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(piece)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let frame = match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return this.end(),
                Poll::Ready(Some(Err(e))) => {
                    return this.fail(AuthError::Body { source: e.into() });
                }
                Poll::Ready(Some(Ok(frame))) => frame,
            };
            if let Err(error) = this.on_frame(frame) {
                return this.fail(error);
            }
        }
    }
}
