//! The one stream type that carries object bytes between the steps of the request path.
//!
//! Request bodies (after [`crate::auth`] verified them), sealed bodies (from [`crate::seal`]) and
//! backend reads (from [`crate::backend`]) are all a [`ByteStream`]. A stream that fails carries
//! its step's own error boxed in [`BoxError`]; `crate::error` downcasts it to pick the S3 error, so
//! the error a client sees is the one that first went wrong, wherever it surfaced.

use bytes::Bytes;
use futures::stream::BoxStream;

/// Any step's error, boxed so it can travel inside a stream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A stream of object bytes. An `Err` item means the stream is broken: whoever consumes it must
/// abort whatever it was writing, so that nothing partial becomes visible.
pub type ByteStream = BoxStream<'static, Result<Bytes, BoxError>>;
