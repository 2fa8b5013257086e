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

/// Pulls `stream` from a task of its own, up to `chunks` chunks ahead of the consumer, so that
/// the steps before and after it work at the same time: a PUT keeps receiving and sealing while
/// the backend is busy taking what came before. Errors travel in order; when the consumer drops
/// the returned stream, the task stops and drops `stream`.
pub fn read_ahead(mut stream: ByteStream, chunks: usize) -> ByteStream {
    use futures::StreamExt;

    let (tx, rx) = tokio::sync::mpsc::channel(chunks.max(1));
    tokio::spawn(async move {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, BoxError>>) -> ByteStream {
    use futures::StreamExt;

    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
