//! One conformance suite, run against every backend: the folder in a temporary directory and
//! the S3 backend against a real S3 server (moto, or the one named by `SEALGATE_TEST_S3_*`).

use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{Backend, BackendError, StoredMeta};
use crate::body::ByteStream;

const MIB: usize = 1024 * 1024;

/// A backend under test with a fresh bucket name, and whatever keeps it alive.
pub(super) struct Fixture {
    pub backend: Arc<dyn Backend>,
    pub bucket: String,
    pub _keep: Option<tempfile::TempDir>,
}

pub(super) fn bucket_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("sg-{}", id.get(..16).unwrap())
}

async fn folder_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let backend = super::folder::FolderBackend::open(&dir.path().join("objects"))
        .await
        .unwrap();
    Fixture {
        backend: Arc::new(backend),
        bucket: bucket_name(),
        _keep: Some(dir),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the client went away")]
struct Boom;

fn stream_of(data: Bytes, chunk: usize) -> ByteStream {
    let pieces: Vec<_> = (0..data.len()).step_by(chunk.max(1)).collect();
    let len = data.len();
    futures::stream::iter(pieces)
        .map(move |start| Ok(data.slice(start..(start + chunk).min(len))))
        .boxed()
}

pub(super) fn failing_stream(good_bytes: usize) -> ByteStream {
    let good = stream_of(Bytes::from(vec![7u8; good_bytes]), 64 * 1024);
    good.chain(futures::stream::once(async { Err(Boom.into()) }))
        .boxed()
}

fn pattern(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 31 % 251) as u8)
        .collect::<Vec<_>>()
        .into()
}

fn meta(pairs: &[(&str, &str)]) -> StoredMeta {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

async fn put(b: &dyn Backend, bucket: &str, key: &str, data: &[u8]) -> StoredMeta {
    let m = meta(&[("sealgate-test", &data.len().to_string())]);
    let body = stream_of(Bytes::copy_from_slice(data), 7);
    let stored = b
        .put(bucket, key, &m, data.len() as u64, body)
        .await
        .unwrap();
    assert_eq!((stored.key.as_str(), stored.size), (key, data.len() as u64));
    m
}

async fn read(
    b: &dyn Backend,
    bucket: &str,
    key: &str,
    r: Option<std::ops::Range<u64>>,
) -> Vec<u8> {
    let (_, _, body) = b.get(bucket, key, r).await.unwrap();
    body.map_ok(|c| c.to_vec()).try_concat().await.unwrap()
}

async fn keys(b: &dyn Backend, bucket: &str, prefix: &str, after: Option<&str>) -> Vec<String> {
    let listed: Vec<_> = b
        .list(bucket, prefix, after)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    listed.into_iter().map(|o| o.key).collect()
}

async fn bucket_lifecycle(b: &dyn Backend, bucket: &str) {
    assert!(matches!(
        b.head_bucket(bucket).await,
        Err(BackendError::NoSuchBucket { .. })
    ));
    b.create_bucket(bucket).await.unwrap();
    let again = b.create_bucket(bucket).await;
    assert!(
        matches!(again, Err(BackendError::BucketAlreadyExists { .. })),
        "{again:?}"
    );
    b.head_bucket(bucket).await.unwrap();
    let listed = b.list_buckets().await.unwrap();
    let info = listed
        .iter()
        .find(|i| i.name == bucket)
        .expect("bucket listed");
    let age = time::OffsetDateTime::now_utc() - info.created;
    assert!(age.whole_minutes().abs() < 10, "created {}", info.created);
    b.ready().await.unwrap();

    put(b, bucket, "dir/", b"").await;
    let refused = b.delete_bucket(bucket).await;
    assert!(
        matches!(refused, Err(BackendError::BucketNotEmpty { .. })),
        "{refused:?}"
    );
    b.delete(bucket, "dir/").await.unwrap();
    b.delete_bucket(bucket).await.unwrap();
    assert!(matches!(
        b.head_bucket(bucket).await,
        Err(BackendError::NoSuchBucket { .. })
    ));
    assert!(
        !b.list_buckets()
            .await
            .unwrap()
            .iter()
            .any(|i| i.name == bucket)
    );
}

async fn missing_bucket(b: &dyn Backend, bucket: &str) {
    let no_bucket =
        |r: Result<(), BackendError>| matches!(r, Err(BackendError::NoSuchBucket { .. }));
    assert!(no_bucket(b.head(bucket, "k").await.map(drop)));
    assert!(no_bucket(b.get(bucket, "k", None).await.map(drop)));
    assert!(no_bucket(b.list(bucket, "", None).await.map(drop)));
    assert!(no_bucket(b.delete_bucket(bucket).await));
    assert!(no_bucket(b.delete(bucket, "k").await));
    let body = stream_of(Bytes::from_static(b"x"), 1);
    assert!(no_bucket(
        b.put(bucket, "k", &StoredMeta::new(), 1, body)
            .await
            .map(drop)
    ));
}

async fn put_head_get_range_delete(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let m = put(b, bucket, "greeting", b"hello world").await;
    let (object, got) = b.head(bucket, "greeting").await.unwrap();
    assert_eq!(
        (object.key.as_str(), object.size, got),
        ("greeting", 11, m.clone())
    );

    let (object, got, _) = b.get(bucket, "greeting", Some(6..11)).await.unwrap();
    assert_eq!((object.size, got), (11, m));
    assert_eq!(read(b, bucket, "greeting", None).await, b"hello world");
    assert_eq!(read(b, bucket, "greeting", Some(6..11)).await, b"world");
    assert_eq!(read(b, bucket, "greeting", Some(0..1)).await, b"h");
    assert_eq!(read(b, bucket, "greeting", Some(4..4)).await, b"");
    for range in [5..12, 11..12, 20..30, 12..12] {
        let beyond = b.get(bucket, "greeting", Some(range)).await.map(drop);
        let invalid = matches!(beyond, Err(BackendError::InvalidRange { size: 11, .. }));
        assert!(invalid, "{beyond:?}");
    }
    assert_eq!(read(b, bucket, "greeting", Some(11..11)).await, b"");

    b.delete(bucket, "greeting").await.unwrap();
    let gone = b.head(bucket, "greeting").await.map(drop);
    assert!(
        matches!(gone, Err(BackendError::NoSuchKey { .. })),
        "{gone:?}"
    );
    assert!(matches!(
        b.get(bucket, "greeting", None).await,
        Err(BackendError::NoSuchKey { .. })
    ));
    b.delete(bucket, "greeting").await.unwrap();
}

async fn overwrite(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    put(b, bucket, "k", b"first version").await;
    let m = put(b, bucket, "k", b"second").await;
    assert_eq!(b.head(bucket, "k").await.unwrap().1, m);
    assert_eq!(read(b, bucket, "k", None).await, b"second");
    let listed: Vec<_> = b
        .list(bucket, "", None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].key.as_str(), listed[0].size), ("k", 6));
}

async fn metadata_round_trip(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let m = meta(&[
        ("sealgate-key", "AQIDBAUGBwgJ+/8=="),
        ("sealgate-size", "18446744073709551615"),
        ("sealgate-v", "1"),
        ("x-amz-meta-b64", "dGV4dCB3aXRoIHNwYWNlcw"),
        ("with-space", "a b"),
        ("dotted.name", "x"),
        ("empty", ""),
    ]);
    b.put(bucket, "m", &m, 3, stream_of(Bytes::from_static(b"abc"), 1))
        .await
        .unwrap();
    assert_eq!(b.head(bucket, "m").await.unwrap().1, m);
    assert_eq!(b.get(bucket, "m", Some(1..2)).await.unwrap().1, m);

    let empty = StoredMeta::new();
    b.put(
        bucket,
        "e",
        &empty,
        1,
        stream_of(Bytes::from_static(b"x"), 1),
    )
    .await
    .unwrap();
    assert_eq!(b.head(bucket, "e").await.unwrap().1, empty);

    let bad = meta(&[("sealgate-key", "clé")]);
    let refused = b
        .put(bucket, "m", &bad, 1, stream_of(Bytes::from_static(b"z"), 1))
        .await;
    assert!(
        matches!(refused, Err(BackendError::InvalidMetadata { .. })),
        "{refused:?}"
    );
    assert_eq!(read(b, bucket, "m", None).await, b"abc");
}

async fn zero_length(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let body = futures::stream::empty().boxed();
    b.put(bucket, "empty", &StoredMeta::new(), 0, body)
        .await
        .unwrap();
    assert_eq!(b.head(bucket, "empty").await.unwrap().0.size, 0);
    assert_eq!(read(b, bucket, "empty", None).await, b"");
    assert_eq!(read(b, bucket, "empty", Some(0..0)).await, b"");
    let listed: Vec<_> = b
        .list(bucket, "", None)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!((listed.len(), listed[0].size), (1, 0));
}

async fn large_streamed(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let data = pattern(20 * MIB + 123);
    let size = data.len() as u64;
    let none = StoredMeta::new();
    let stored = b
        .put(
            bucket,
            "big",
            &none,
            size,
            stream_of(data.clone(), 64 * 1024),
        )
        .await;
    assert_eq!(stored.unwrap().size, size);
    assert_eq!(b.head(bucket, "big").await.unwrap().0.size, size);
    let back = read(b, bucket, "big", None).await;
    assert!(back == data, "20 MiB body differs");
    let middle = read(b, bucket, "big", Some(9 * MIB as u64..11 * MIB as u64 + 5)).await;
    assert!(middle[..] == data[9 * MIB..11 * MIB + 5]);
}

async fn failed_stream_leaves_nothing(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    for (good, key) in [(1000, "small"), (12 * MIB, "large")] {
        let none = StoredMeta::new();
        let failed = b
            .put(bucket, key, &none, 20 * MIB as u64, failing_stream(good))
            .await;
        match failed {
            Err(BackendError::Body { source, .. }) => {
                assert!(source.downcast_ref::<Boom>().is_some())
            }
            other => panic!("expected a body error, got {other:?}"),
        }
        assert!(matches!(
            b.head(bucket, key).await,
            Err(BackendError::NoSuchKey { .. })
        ));
    }

    let old = put(b, bucket, "kept", b"old version").await;
    let cases = [
        (1000, true, 20 * MIB),
        (12 * MIB, true, 20 * MIB),
        (3, false, 5),
        (7, false, 5),
    ];
    for (good, fails, size) in cases.into_iter().chain([(7 * MIB, false, 6 * MIB)]) {
        let body = match fails {
            true => failing_stream(good),
            false => stream_of(pattern(good), 1000),
        };
        let none = StoredMeta::new();
        let failed = b.put(bucket, "kept", &none, size as u64, body).await;
        assert!(
            matches!(
                failed,
                Err(BackendError::Body { .. } | BackendError::LengthMismatch { .. })
            ),
            "{failed:?}"
        );
        assert_eq!(b.head(bucket, "kept").await.unwrap().1, old);
        assert_eq!(read(b, bucket, "kept", None).await, b"old version");
    }
    assert_eq!(keys(b, bucket, "", None).await, ["kept"]);
}

fn odd_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "dir/",
        "dir/a",
        "dir//",
        "a//b",
        "/lead",
        "/",
        "//",
        ".",
        "..",
        "./x",
        "a/./b",
        "a/../b",
        "sp ace/ x ",
        "plus+sign",
        "100%",
        "%",
        "%2E",
        "%41",
        "hash#1",
        "a#o",
        "a#+/b",
        "q?x=1&y",
        "back\\slash",
        "日本語/キー",
        "ключ",
        "ctrl\u{1}\u{7f}",
        "tab\tnl\n",
        "a",
        "a/b",
        "a/b/",
        "~tilde",
        "emoji😀",
        "#bucket",
        "*[]{}<>|\"'`^",
    ]
    .iter()
    .map(|k| k.to_string())
    .collect();
    keys.push("k".repeat(1024));
    keys.push(format!("{}/z", "é".repeat(400)));
    keys.push(format!("{}{}", "x".repeat(300), "/".repeat(3)));
    keys
}

async fn odd_keys_round_trip_in_order(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let all = odd_keys();
    for key in &all {
        put(b, bucket, key, key.as_bytes()).await;
    }
    for key in &all {
        assert_eq!(read(b, bucket, key, None).await, key.as_bytes(), "{key:?}");
    }
    for (prefix, after) in [
        ("", None),
        ("a", None),
        ("a/", Some("a/.")),
        ("dir/", Some("dir/")),
        ("%", None),
        ("/", None),
        ("é", None),
        ("", Some("a")),
        ("", Some("zzz")),
        ("nope", None),
    ] {
        let mut expected: Vec<String> = all
            .iter()
            .filter(|k| k.starts_with(prefix) && after.is_none_or(|a| k.as_str() > a))
            .cloned()
            .collect();
        expected.sort_unstable_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
        assert_eq!(
            keys(b, bucket, prefix, after).await,
            expected,
            "{prefix:?} after {after:?}"
        );
    }
    for key in &all {
        b.delete(bucket, key).await.unwrap();
    }
    assert!(keys(b, bucket, "", None).await.is_empty());
    b.delete_bucket(bucket).await.unwrap();
}

async fn list_1500(b: &dyn Backend, bucket: &str) {
    b.create_bucket(bucket).await.unwrap();
    let names: Vec<String> = (0..1500).map(|i| format!("p{}/{i:05}", i % 3)).collect();
    futures::stream::iter(&names)
        .for_each_concurrent(16, |k| async move {
            let body = stream_of(Bytes::from_static(b"v"), 1);
            b.put(bucket, k, &StoredMeta::new(), 1, body).await.unwrap();
        })
        .await;
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(keys(b, bucket, "", None).await, sorted);
    let p1: Vec<_> = sorted
        .iter()
        .filter(|k| k.starts_with("p1/"))
        .cloned()
        .collect();
    assert_eq!(keys(b, bucket, "p1/", None).await, p1);
    assert_eq!(keys(b, bucket, "p1/", Some("p1/00700")).await, p1[234..]);
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod folder {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fx = super::folder_fixture().await;
                    super::$case(&*fx.backend, &fx.bucket).await;
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(fx) = crate::backend::moto::fixture().await else { return };
                    super::$case(&*fx.backend, &fx.bucket).await;
                }
            )*
        }
    };
}

conformance!(
    bucket_lifecycle,
    missing_bucket,
    put_head_get_range_delete,
    overwrite,
    metadata_round_trip,
    zero_length,
    large_streamed,
    failed_stream_leaves_nothing,
    odd_keys_round_trip_in_order,
    list_1500,
);
