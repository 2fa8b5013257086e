//! The plaintext MD5, computed beside the encryption rather than after it.
//!
//! The sealer (and, when asked, the opener) feeds each plaintext chunk, as a cheap `Bytes` clone,
//! into a bounded channel drained by a blocking-pool thread, so MD5 (the most expensive step of a
//! PUT, about 1.6 CPU-seconds per GB) runs on the other core. [`Digest`] hands the result to the
//! PUT handler for the ETag.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::oneshot;
use md5::{Digest as _, Md5};
use tokio::sync::mpsc;

use super::SealError;

/// Chunks in flight to the MD5 thread; bounds the memory a slow hash can hold.
const CHANNEL_DEPTH: usize = 8;

/// Free slots a full channel waits for before the sealer goes on.
const WAKE_BATCH: usize = CHANNEL_DEPTH / 2;

/// Resolves to the plaintext MD5 once the sealed stream has ended successfully; to `None` if the
/// stream failed or was dropped, or was sealed without an MD5.
#[derive(Debug)]
pub struct Digest {
    rx: oneshot::Receiver<[u8; 16]>,
}

impl Digest {
    pub(crate) fn channel() -> (oneshot::Sender<[u8; 16]>, Digest) {
        let (tx, rx) = oneshot::channel();
        (tx, Digest { rx })
    }
}

impl Future for Digest {
    type Output = Option<[u8; 16]>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(Result::ok)
    }
}

/// An MD5 in progress: off, on a blocking-pool thread, or inline when no runtime is around.
pub(crate) enum Hasher {
    Off,
    Beside {
        tx: mpsc::Sender<Bytes>,
        done: oneshot::Receiver<[u8; 16]>,
    },
    Inline(Box<Md5>),
}

impl Hasher {
    /// Whether this hasher hashes anything.
    pub(crate) fn is_on(&self) -> bool {
        !matches!(self, Hasher::Off)
    }

    /// Starts hashing when `on`; the thread is taken from tokio's blocking pool.
    pub(crate) fn start(on: bool) -> Hasher {
        if !on {
            return Hasher::Off;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Hasher::Inline(Box::default());
        };

        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let (done_tx, done) = oneshot::channel();
        runtime.spawn_blocking(move || hash_all(rx, done_tx));
        Hasher::Beside { tx, done }
    }

    /// Hands one chunk to the hash; waits only when the hash is `CHANNEL_DEPTH` chunks behind.
    pub(crate) async fn feed(&mut self, chunk: &Bytes) -> Result<(), SealError> {
        match self {
            Hasher::Off => Ok(()),
            Hasher::Inline(md5) => {
                md5.update(chunk);
                Ok(())
            }
            Hasher::Beside { tx, .. } => send_batched(tx, chunk.clone()).await,
        }
    }

    /// Ends the input and waits for the digest (`None` when hashing was off).
    pub(crate) async fn finish(self) -> Result<Option<[u8; 16]>, SealError> {
        match self {
            Hasher::Off => Ok(None),
            Hasher::Inline(md5) => Ok(Some(md5.finalize().into())),
            Hasher::Beside { tx, done } => {
                drop(tx);
                done.await.map(Some).map_err(|_| SealError::DigestLost)
            }
        }
    }
}

/// Sends without waiting while there is room; when the channel is full, waits until a batch of
/// slots is free rather than one, so the sealer is woken once per `WAKE_BATCH` chunks hashed, not
/// once per chunk (a cross-thread wake-up is not cheap in a VM).
async fn send_batched(tx: &mpsc::Sender<Bytes>, chunk: Bytes) -> Result<(), SealError> {
    let chunk = match tx.try_send(chunk) {
        Ok(()) => return Ok(()),
        Err(mpsc::error::TrySendError::Full(chunk)) => chunk,
        Err(mpsc::error::TrySendError::Closed(_)) => return Err(SealError::DigestLost),
    };
    let room = tx.reserve_many(WAKE_BATCH).await;
    let mut room = room.map_err(|_| SealError::DigestLost)?;
    room.next().ok_or(SealError::DigestLost)?.send(chunk);
    Ok(())
}

fn hash_all(mut rx: mpsc::Receiver<Bytes>, done: oneshot::Sender<[u8; 16]>) {
    let mut md5 = Md5::new();
    while let Some(chunk) = rx.blocking_recv() {
        md5.update(&chunk);
    }
    // The sealer may have gone away; then nobody wants the digest.
    let _ = done.send(md5.finalize().into());
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_MD5: &str = "5d41402abc4b2a76b9719d911017c592";

    async fn hash(mut h: Hasher) -> Option<[u8; 16]> {
        h.feed(&Bytes::from_static(b"he")).await.unwrap();
        h.feed(&Bytes::from_static(b"llo")).await.unwrap();
        h.finish().await.unwrap()
    }

    #[tokio::test]
    async fn beside_and_off() {
        assert!(matches!(Hasher::start(true), Hasher::Beside { .. }));
        assert_eq!(
            hex::encode(hash(Hasher::start(true)).await.unwrap()),
            HELLO_MD5
        );
        assert_eq!(hash(Hasher::start(false)).await, None);
    }

    #[tokio::test]
    async fn many_chunks_through_a_full_channel() {
        // Far more chunks than the channel holds, so the sender waits for batches of room.
        let chunk = Bytes::from(vec![0x33; 4096]);
        let mut h = Hasher::start(true);
        let mut direct = Md5::new();
        for _ in 0..2000 {
            h.feed(&chunk).await.unwrap();
            direct.update(&chunk);
        }
        let direct: [u8; 16] = direct.finalize().into();
        assert_eq!(h.finish().await.unwrap(), Some(direct));
    }

    #[test]
    fn inline_without_a_runtime() {
        let h = Hasher::start(true);
        assert!(matches!(h, Hasher::Inline(_)));
        let md5 = futures::executor::block_on(hash(h)).unwrap();
        assert_eq!(hex::encode(md5), HELLO_MD5);
    }
}
