//! The folder backend: buckets are directories under a root folder, objects are files written
//! through object_store's `LocalFileSystem`.
//!
//! It takes the same calls as every [`Backend`] and hands back the same answers. Because
//! `LocalFileSystem` keeps no metadata, each object file starts with a fixed-size header (module
//! `header`) holding the [`StoredMeta`], followed by the stored body; the file is staged and
//! published by one rename (object_store's multipart upload, with fsync), so body and metadata
//! become visible together or not at all, also across overwrites and crashes. Names follow module
//! `layout`. Reads of a range open the file twice (header, then the range), the second read
//! conditional on the first one's entity tag, so a concurrent overwrite never mixes two versions.

mod header;
mod layout;

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetResultPayload, ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::write::{self, Target};
use super::{Backend, BackendError, BucketInfo, ListStream, Space, StoredMeta, StoredObject};
use crate::body::ByteStream;

/// Size of the parts a body is written in; with [`write::MAX_PARTS_IN_FLIGHT`] this bounds the
/// memory of one upload.
const PART_SIZE: usize = 1024 * 1024;

/// Size of the pieces a body is read in.
const READ_CHUNK: usize = 1024 * 1024;

/// Reads retried when an object is replaced between reading its header and its body.
const READ_ATTEMPTS: usize = 3;

/// Buckets as directories of a local folder.
#[derive(Debug)]
pub struct FolderBackend {
    root: PathBuf,
    store: Arc<LocalFileSystem>,
    /// Which names this view stores.
    space: Space,
}

impl FolderBackend {
    /// Opens (and creates if needed) the folder `root`.
    pub async fn open(root: &FsPath) -> Result<Self, BackendError> {
        tokio::fs::create_dir_all(root)
            .await
            .map_err(|e| config_error("cannot create root", e))?;
        let store = LocalFileSystem::new_with_prefix(root)
            .map_err(|e| config_error("cannot open root", e))?
            .with_fsync(true)
            .with_automatic_cleanup(true);
        Ok(Self {
            root: root.to_path_buf(),
            store: Arc::new(store),
            space: Space::Objects,
        })
    }

    fn bucket_dir(&self, bucket: &str) -> PathBuf {
        self.root.join(bucket)
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, BackendError> {
        super::check_bucket(bucket)?;
        match tokio::fs::metadata(self.bucket_dir(bucket)).await {
            Ok(meta) => Ok(meta.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(BackendError::unavailable(bucket, "", e)),
        }
    }

    async fn require_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        match self.bucket_exists(bucket).await? {
            true => Ok(()),
            false => Err(BackendError::NoSuchBucket {
                bucket: bucket.to_string(),
            }),
        }
    }

    /// Maps an object_store error; a missing file is a missing key or a missing bucket.
    async fn store_error(&self, bucket: &str, key: &str, e: object_store::Error) -> BackendError {
        match e {
            object_store::Error::NotFound { .. } => match self.require_bucket(bucket).await {
                Ok(()) => BackendError::NoSuchKey {
                    bucket: bucket.into(),
                    key: key.into(),
                },
                Err(e) => e,
            },
            object_store::Error::Precondition { .. } => BackendError::PreconditionFailed {
                bucket: bucket.into(),
                key: key.into(),
            },
            e => BackendError::unavailable(bucket, key, e),
        }
    }

    fn object_path(&self, bucket: &str, key: &str) -> Result<Path, BackendError> {
        super::check_bucket(bucket)?;
        super::check_key(self.space, bucket, key)?;
        Ok(layout::path(bucket, &layout::object_parts(self.space, key)))
    }

    async fn read_header(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(StoredObject, StoredMeta), BackendError> {
        let path = self.object_path(bucket, key)?;
        let opts = GetOptions {
            range: Some((0..header::HEADER_LEN).into()),
            ..Default::default()
        };
        let result = match self.store.get_opts(&path, opts).await {
            Ok(result) => result,
            Err(e) => return Err(self.store_error(bucket, key, e).await),
        };
        let object = stored_object(key.to_string(), &result.meta)
            .ok_or_else(|| corrupt(bucket, key, "shorter than its header"))?;
        let bytes = result
            .bytes()
            .await
            .map_err(|e| BackendError::unavailable(bucket, key, e))?;
        let meta = header::decode(&bytes).ok_or_else(|| corrupt(bucket, key, "bad header"))?;
        Ok((object, meta))
    }

    /// Reads `range` of the body if the file is still the one `object` describes.
    async fn read_body(
        &self,
        bucket: &str,
        key: &str,
        object: &StoredObject,
        range: Range<u64>,
    ) -> Result<Option<ByteStream>, BackendError> {
        let path = self.object_path(bucket, key)?;
        let start = header::HEADER_LEN + range.start;
        let end = header::HEADER_LEN + range.end;
        let opts = GetOptions {
            range: Some((start..end).into()),
            if_match: object.backend_etag.clone(),
            ..Default::default()
        };
        match self.store.get_opts(&path, opts).await {
            Ok(result) => Ok(Some(body_stream(result))),
            Err(object_store::Error::Precondition { .. }) => Ok(None),
            Err(e) => Err(self.store_error(bucket, key, e).await),
        }
    }

    /// All objects of `space` under the directory `dir` of `bucket`, unsorted.
    async fn scan(
        &self,
        space: Space,
        bucket: &str,
        dir: &Path,
    ) -> Result<Vec<StoredObject>, BackendError> {
        let mut entries = self.store.list(Some(dir));
        let mut out = Vec::new();
        while let Some(entry) = entries.next().await {
            let meta = entry.map_err(|e| BackendError::unavailable(bucket, "", e))?;
            let parts: Vec<_> = meta.location.parts().collect();
            let names = parts.iter().skip(1).map(|p| p.as_ref());
            let Some(key) = layout::key_of(space, names) else {
                continue;
            };
            out.extend(stored_object(key, &meta));
        }
        Ok(out)
    }

    async fn created(&self, bucket: &str) -> time::OffsetDateTime {
        let dir = self.bucket_dir(bucket);
        let marker = tokio::fs::read_to_string(dir.join(layout::BUCKET_MARKER)).await;
        let rfc3339 = &time::format_description::well_known::Rfc3339;
        if let Some(t) = marker
            .ok()
            .and_then(|s| time::OffsetDateTime::parse(s.trim(), rfc3339).ok())
        {
            return t;
        }
        let modified = tokio::fs::metadata(&dir).await.and_then(|m| m.modified());
        modified
            .map(Into::into)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }
}

#[async_trait::async_trait]
impl Backend for FolderBackend {
    async fn list_buckets(&self) -> Result<Vec<BucketInfo>, BackendError> {
        let mut dir = tokio::fs::read_dir(&self.root)
            .await
            .map_err(|e| BackendError::unavailable("", "", e))?;
        let mut buckets = Vec::new();
        while let Some(entry) = dir.next_entry().await.map_err(root_error)? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_dir = entry.file_type().await.is_ok_and(|t| t.is_dir());
            if is_dir && super::check_bucket(&name).is_ok() {
                let created = self.created(&name).await;
                buckets.push(BucketInfo { name, created });
            }
        }
        buckets.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(buckets)
    }

    async fn create_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        super::check_bucket(bucket)?;
        let dir = self.bucket_dir(bucket);
        match tokio::fs::create_dir(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(BackendError::BucketAlreadyExists {
                    bucket: bucket.to_string(),
                });
            }
            Err(e) => return Err(BackendError::unavailable(bucket, "", e)),
        }
        let now = time::OffsetDateTime::now_utc();
        let stamp = now.format(&time::format_description::well_known::Rfc3339);
        let stamp = stamp.map_err(|e| BackendError::unavailable(bucket, "", e))?;
        let marker = dir.join(layout::BUCKET_MARKER);
        tokio::fs::write(marker, stamp)
            .await
            .map_err(|e| BackendError::unavailable(bucket, "", e))
    }

    async fn head_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.require_bucket(bucket).await
    }

    async fn delete_bucket(&self, bucket: &str) -> Result<(), BackendError> {
        self.require_bucket(bucket).await?;
        let objects = self
            .scan(Space::Objects, bucket, &Path::from(bucket))
            .await?;
        if !objects.is_empty() {
            return Err(BackendError::BucketNotEmpty {
                bucket: bucket.to_string(),
            });
        }
        // What remains is the marker, empty directories, staged writes that never finished and
        // records (uploads in progress, parts no object refers to).
        let removed = tokio::fs::remove_dir_all(self.bucket_dir(bucket)).await;
        removed.map_err(|e| BackendError::unavailable(bucket, "", e))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        meta: &StoredMeta,
        size: u64,
        body: ByteStream,
    ) -> Result<StoredObject, BackendError> {
        let path = self.object_path(bucket, key)?;
        super::check_meta(bucket, key, meta)?;
        let header = header::encode(meta).ok_or_else(|| BackendError::InvalidMetadata {
            bucket: bucket.to_string(),
            key: key.to_string(),
            reason: "metadata does not fit the object header",
        })?;
        self.require_bucket(bucket).await?;

        let upload = match self
            .store
            .put_multipart_opts(&path, Default::default())
            .await
        {
            Ok(upload) => upload,
            Err(e) => return Err(self.store_error(bucket, key, e).await),
        };
        let target = Target { bucket, key, size };
        let result = write::write_all(&target, upload, PART_SIZE, header, body).await?;
        tracing::debug!(bucket, key, size, "object stored in folder");
        let last_modified = time::OffsetDateTime::now_utc();
        Ok(StoredObject {
            key: key.to_string(),
            size,
            last_modified,
            backend_etag: result.e_tag,
        })
    }

    async fn head(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(StoredObject, StoredMeta), BackendError> {
        self.read_header(bucket, key).await
    }

    async fn get(
        &self,
        bucket: &str,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<(StoredObject, StoredMeta, ByteStream), BackendError> {
        for _ in 0..READ_ATTEMPTS {
            let (object, meta) = self.read_header(bucket, key).await?;
            let range = super::check_range(bucket, key, range.clone(), object.size)?;
            if range.is_empty() {
                return Ok((object, meta, futures::stream::empty().boxed()));
            }
            if let Some(body) = self.read_body(bucket, key, &object, range).await? {
                return Ok((object, meta, body));
            }
        }
        let source = "the object was replaced during every read attempt";
        Err(BackendError::unavailable(bucket, key, source))
    }

    /// A local copy: the body streams from one file into the staging file of the other.
    async fn copy(
        &self,
        from_bucket: &str,
        from: &str,
        to_bucket: &str,
        to: &str,
        meta: &StoredMeta,
    ) -> Result<StoredObject, BackendError> {
        let (object, _, body) = self.get(from_bucket, from, None).await?;
        self.put(to_bucket, to, meta, object.size, body).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), BackendError> {
        let path = self.object_path(bucket, key)?;
        match self.store.delete(&path).await {
            Ok(()) => Ok(()),
            Err(object_store::Error::NotFound { .. }) => self.require_bucket(bucket).await,
            Err(e) => Err(self.store_error(bucket, key, e).await),
        }
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
    ) -> Result<ListStream, BackendError> {
        self.require_bucket(bucket).await?;
        let dir = match self.space.encode_dir_prefix(prefix) {
            Some(encoded) => layout::path(bucket, &layout::dir_parts(&encoded)),
            None => Path::from(bucket),
        };
        let objects = super::s3_order(
            self.scan(self.space, bucket, &dir).await?,
            prefix,
            start_after,
        );
        Ok(futures::stream::iter(objects.into_iter().map(Ok)).boxed())
    }

    async fn ready(&self) -> Result<(), BackendError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(root_error("the backend root is not a directory")),
            Err(e) => Err(root_error(e)),
        }
    }

    fn records(&self) -> Arc<dyn Backend> {
        Arc::new(FolderBackend {
            root: self.root.clone(),
            store: Arc::clone(&self.store),
            space: Space::Records,
        })
    }
}

/// The body of a read; a local file is read in [`READ_CHUNK`] pieces rather than object_store's
/// 8 KiB ones, which cost one blocking-pool round trip each.
fn body_stream(result: object_store::GetResult) -> ByteStream {
    let object_store::GetResult { payload, range, .. } = result;
    match payload {
        GetResultPayload::File(file, _) => file_stream(tokio::fs::File::from_std(file), range),
        GetResultPayload::Stream(stream) => stream.map_err(Into::into).boxed(),
    }
}

fn file_stream(mut file: tokio::fs::File, range: Range<u64>) -> ByteStream {
    let opened = async move {
        file.seek(std::io::SeekFrom::Start(range.start)).await?;
        let length = range.end.saturating_sub(range.start);
        let body = tokio_util::io::ReaderStream::with_capacity(file.take(length), READ_CHUNK);
        Ok::<_, std::io::Error>(body)
    };
    futures::stream::once(opened)
        .try_flatten()
        .map_err(Into::into)
        .boxed()
}

/// The listing entry of an object file; `None` if the file is shorter than a header.
fn stored_object(key: String, meta: &ObjectMeta) -> Option<StoredObject> {
    Some(StoredObject {
        key,
        size: meta.size.checked_sub(header::HEADER_LEN)?,
        last_modified: super::timestamp(meta.last_modified.timestamp_nanos_opt()),
        backend_etag: meta.e_tag.clone(),
    })
}

fn corrupt(bucket: &str, key: &str, reason: &'static str) -> BackendError {
    BackendError::Corrupt {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason,
    }
}

fn root_error(source: impl Into<crate::body::BoxError>) -> BackendError {
    BackendError::unavailable("", "", source)
}

fn config_error(reason: &'static str, e: impl Into<crate::body::BoxError>) -> BackendError {
    BackendError::Config {
        reason,
        source: Some(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    fn copy_tree(from: &FsPath, to: &FsPath) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            match entry.file_type().unwrap().is_dir() {
                true => copy_tree(&entry.path(), &target),
                false => drop(std::fs::copy(entry.path(), target).unwrap()),
            }
        }
    }

    async fn body(backend: &FolderBackend, key: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let (_, _, body) = backend.get("photos", key, range).await.unwrap();
        body.map_ok(|c| c.to_vec()).try_concat().await.unwrap()
    }

    async fn keys(backend: &FolderBackend, bucket: &str) -> Vec<String> {
        let listed: Vec<_> = backend
            .list(bucket, "", None)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        listed.into_iter().map(|o| o.key).collect()
    }

    /// Objects written by version 1 of the folder format (checked in) must stay readable.
    #[tokio::test]
    async fn frozen_format_v1_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let testdata = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("src/backend/folder/testdata");
        copy_tree(&testdata.join("frozen-v1"), dir.path());
        let backend = FolderBackend::open(dir.path()).await.unwrap();

        let buckets = backend.list_buckets().await.unwrap();
        assert_eq!(buckets.len(), 1);
        assert_eq!(
            (
                buckets[0].name.as_str(),
                buckets[0].created.unix_timestamp()
            ),
            ("photos", 1_796_328_000)
        );
        assert_eq!(
            keys(&backend, "photos").await,
            ["100% sure", "2024/cat.jpg", "dir/"]
        );

        let (object, meta) = backend.head("photos", "2024/cat.jpg").await.unwrap();
        assert_eq!(object.size, 5);
        assert_eq!(
            meta.get("sealgate-key").map(String::as_str),
            Some("AQID+/8=")
        );
        assert_eq!(body(&backend, "2024/cat.jpg", None).await, b"meow!");
        assert_eq!(
            body(&backend, "100% sure", Some(250..256)).await,
            [250, 251, 252, 253, 254, 255]
        );
        assert_eq!(body(&backend, "dir/", None).await, b"");
    }

    #[tokio::test]
    async fn objects_are_header_and_body_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FolderBackend::open(dir.path()).await.unwrap();
        backend.create_bucket("b").await.unwrap();
        let stream = futures::stream::iter([Ok(bytes::Bytes::from_static(b"purr"))]).boxed();
        backend
            .put("b", "photos/cat.jpg", &StoredMeta::new(), 4, stream)
            .await
            .unwrap();

        let file = std::fs::read(dir.path().join("b/photos/cat.jpg#o")).unwrap();
        assert_eq!(file.len() as u64, header::HEADER_LEN + 4);
        assert!(file.starts_with(b"SGOBJ01\n"));
        assert!(file.ends_with(b"purr"));
        assert!(dir.path().join("b").join(layout::BUCKET_MARKER).is_file());
    }

    #[tokio::test]
    async fn reads_come_in_large_pieces() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FolderBackend::open(dir.path()).await.unwrap();
        backend.create_bucket("b").await.unwrap();
        let data = bytes::Bytes::from(vec![1u8; 4 * READ_CHUNK]);
        let stream = futures::stream::iter([Ok(data.clone())]).boxed();
        let size = data.len() as u64;
        backend
            .put("b", "k", &StoredMeta::new(), size, stream)
            .await
            .unwrap();

        let (_, _, body) = backend.get("b", "k", None).await.unwrap();
        let pieces: Vec<_> = body.try_collect().await.unwrap();
        assert!(pieces.len() <= 5, "{} pieces", pieces.len());
        assert_eq!(pieces.iter().map(|p| p.len() as u64).sum::<u64>(), size);
    }

    /// A body read never pairs one version's header with another version's bytes.
    #[tokio::test]
    async fn stale_header_does_not_read_new_body() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FolderBackend::open(dir.path()).await.unwrap();
        backend.create_bucket("b").await.unwrap();
        let none = StoredMeta::new();
        let put = |data: &'static [u8]| {
            let stream = futures::stream::iter([Ok(bytes::Bytes::from_static(data))]).boxed();
            backend.put("b", "k", &none, data.len() as u64, stream)
        };
        put(b"old").await.unwrap();
        let (old, _) = backend.head("b", "k").await.unwrap();
        put(b"new").await.unwrap();

        assert!(
            backend
                .read_body("b", "k", &old, 0..3)
                .await
                .unwrap()
                .is_none()
        );
        let (_, _, body) = backend.get("b", "k", None).await.unwrap();
        let body = body.map_ok(|c| c.to_vec()).try_concat().await.unwrap();
        assert_eq!(body, b"new");
    }

    /// Staged uploads left by a crash, foreign files and torn files never show as objects.
    #[tokio::test]
    async fn leftovers_are_invisible() {
        let dir = tempfile::tempdir().unwrap();
        let backend = FolderBackend::open(dir.path()).await.unwrap();
        backend.create_bucket("b").await.unwrap();
        let stream = futures::stream::iter([Ok(bytes::Bytes::from_static(b"v"))]).boxed();
        backend
            .put("b", "k", &StoredMeta::new(), 1, stream)
            .await
            .unwrap();
        let bucket = dir.path().join("b");
        std::fs::write(bucket.join("k#o#1"), b"half a staged upload").unwrap();
        std::fs::write(bucket.join("k2#o#1"), b"another").unwrap();
        std::fs::write(bucket.join("foreign"), b"not ours").unwrap();
        std::fs::write(bucket.join("torn#o"), b"short").unwrap();

        assert_eq!(keys(&backend, "b").await, ["k"]);
        let torn = backend.head("b", "torn").await;
        assert!(
            matches!(torn, Err(BackendError::Corrupt { .. })),
            "{torn:?}"
        );
        backend.delete("b", "k").await.unwrap();
        backend.delete_bucket("b").await.unwrap();
        assert!(!bucket.exists());
    }
}
