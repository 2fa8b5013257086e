//! Multipart uploads, run against the gateway on both backends and against the plain S3 server:
//! round trips, ranges across part and segment boundaries, `partNumber`, retried parts, S3's
//! errors, aborts, and the two listings.

use sealgate_tests::data::{self, SEGMENT, body};
use sealgate_tests::multipart::{Upload, multipart_etag, upload_object};
use sealgate_tests::{BackendKind, Gateway, Kind, S3Server, Target, conformance, xml};

conformance!(
    parts_out_of_order_round_trip,
    ranges_cross_parts_and_segments,
    part_number_reads_one_part,
    retried_part_uses_the_named_attempt,
    complete_refuses_bad_part_lists,
    parts_must_be_numbered_in_range,
    unknown_upload_ids_are_no_such_upload,
    abort_leaves_nothing,
    list_parts_pages,
    list_uploads_by_key,
    single_put_replaces_a_multipart_object,
    delete_removes_a_multipart_object;
    gateway:
    ranged_reads_fetch_only_their_segments,
    an_upload_outlives_the_process_that_began_it,
);

const MIB: usize = 1024 * 1024;
/// The smallest part S3 accepts but the last.
const MIN_PART: usize = 5 * MIB;

/// Three parts: two of the minimum size (not a whole number of segments), one short.
fn three_parts() -> Vec<Vec<u8>> {
    vec![
        body(MIN_PART + 3),
        body(MIN_PART + SEGMENT),
        body(SEGMENT + 17),
    ]
}

fn refs(parts: &[Vec<u8>]) -> Vec<&[u8]> {
    parts.iter().map(Vec::as_slice).collect()
}

async fn parts_out_of_order_round_trip(t: Target) {
    let bucket = t.bucket().await;
    let parts = three_parts();
    let whole = parts.concat();

    let etag = upload_object(&t.client, &bucket, "big/object", &refs(&parts)).await;

    assert_eq!(etag, multipart_etag(&refs(&parts)));
    assert_eq!(t.client.get_object(&bucket, "big/object").await, whole);
    let head = t
        .client
        .head(&bucket, "big/object")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(
        head.header("content-length"),
        Some(whole.len().to_string().as_str())
    );
    assert_eq!(head.header("etag"), Some(etag.as_str()));
    let listing = t
        .client
        .get(&bucket, "")
        .query("list-type", "2")
        .send()
        .await
        .expect_status(200, "LIST")
        .text();
    assert_eq!(xml::value(&listing, "Size"), Some(whole.len().to_string()));
    assert_eq!(
        xml::value(&listing, "ETag").map(|e| xml::unescape(&e)),
        Some(etag)
    );
}

async fn ranges_cross_parts_and_segments(t: Target) {
    let bucket = t.bucket().await;
    let parts = three_parts();
    let whole = parts.concat();
    upload_object(&t.client, &bucket, "k", &refs(&parts)).await;
    let first = parts[0].len();
    let second_end = first + parts[1].len();

    let ranges = [
        (0, 0),
        (SEGMENT - 1, SEGMENT + 1),
        (first - 10, first + 10),
        (first - 1, first),
        (first, first),
        (first - SEGMENT, second_end + 5),
        (second_end - 1, whole.len() - 1),
        (whole.len() - 1, whole.len() - 1),
    ];
    for (start, end) in ranges {
        let resp = t
            .client
            .get(&bucket, "k")
            .header("range", &format!("bytes={start}-{end}"))
            .send()
            .await
            .expect_status(206, "ranged GET");
        assert!(resp.body == whole[start..=end], "bytes={start}-{end}");
    }
    let suffix = t
        .client
        .get(&bucket, "k")
        .header("range", "bytes=-100")
        .send()
        .await
        .expect_status(206, "suffix range");
    assert!(suffix.body == whole[whole.len() - 100..]);
}

async fn part_number_reads_one_part(t: Target) {
    if t.is_plain_moto() {
        return; // moto ignores partNumber on GET
    }
    let bucket = t.bucket().await;
    let parts = three_parts();
    let etag = upload_object(&t.client, &bucket, "k", &refs(&parts)).await;
    let total = parts.iter().map(Vec::len).sum::<usize>();

    let resp = t
        .client
        .get(&bucket, "k")
        .query("partNumber", "2")
        .send()
        .await
        .expect_status(206, "GET partNumber=2");

    assert!(resp.body == parts[1]);
    let (start, end) = (parts[0].len(), parts[0].len() + parts[1].len() - 1);
    let range = format!("bytes {start}-{end}/{total}");
    assert_eq!(resp.header("content-range"), Some(range.as_str()));
    assert_eq!(resp.header("x-amz-mp-parts-count"), Some("3"));
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    let head = t
        .client
        .head(&bucket, "k")
        .query("partNumber", "3")
        .send()
        .await
        .expect_status(206, "HEAD partNumber=3");
    assert_eq!(
        head.header("content-length"),
        Some(parts[2].len().to_string().as_str())
    );
    let past = t
        .client
        .get(&bucket, "k")
        .query("partNumber", "4")
        .send()
        .await;
    assert_eq!(past.status, 416, "{}", past.describe());
}

async fn retried_part_uses_the_named_attempt(t: Target) {
    let bucket = t.bucket().await;
    let upload = Upload::create(&t.client, &bucket, "k").await;
    let (first, second, last) = (body(MIN_PART), body(MIN_PART), body(1000));

    let _replaced = upload.part(1, &first).await;
    let kept = upload.part(1, &second).await;
    let tail = upload.part(2, &last).await;
    let etag = upload.complete(&[(1, kept), (2, tail)]).await;

    assert_eq!(etag, multipart_etag(&[&second, &last]));
    assert_eq!(
        t.client.get_object(&bucket, "k").await,
        [second, last].concat()
    );
}

async fn complete_refuses_bad_part_lists(t: Target) {
    let bucket = t.bucket().await;
    let upload = Upload::create(&t.client, &bucket, "k").await;
    let small = upload.part(1, &body(1000)).await;
    let big = upload.part(2, &body(MIN_PART)).await;
    let last = upload.part(3, &body(10)).await;

    let wrong = "\"0123456789abcdef0123456789abcdef\"".to_owned();
    upload
        .try_complete(&[(2, wrong)])
        .await
        .expect_error(400, "InvalidPart");
    upload
        .try_complete(&[(4, big.clone())])
        .await
        .expect_error(400, "InvalidPart");
    if t.is_plain_moto() {
        return; // moto completes out-of-order lists and small parts
    }
    upload
        .try_complete(&[(2, big.clone()), (1, small.clone())])
        .await
        .expect_error(400, "InvalidPartOrder");
    upload
        .try_complete(&[(1, small), (2, big.clone())])
        .await
        .expect_error(400, "EntityTooSmall");
    let empty = t
        .client
        .post(&bucket, "k")
        .query("uploadId", &upload.id)
        .body("<CompleteMultipartUpload></CompleteMultipartUpload>")
        .send()
        .await;
    empty.expect_error(400, "MalformedXML");

    // The refusals changed nothing: a good list still completes.
    let etag = upload.complete(&[(2, big), (3, last)]).await;
    assert!(etag.ends_with("-2\""), "{etag}");
}

async fn parts_must_be_numbered_in_range(t: Target) {
    if t.is_plain_moto() {
        return; // moto answers NoSuchUpload to part numbers out of range
    }
    let bucket = t.bucket().await;
    let upload = Upload::create(&t.client, &bucket, "k").await;

    for number in [0, 10001] {
        let resp = upload.try_part(number, b"x").await;
        resp.expect_error(400, "InvalidArgument");
    }
    upload
        .try_part(10000, b"x")
        .await
        .expect_status(200, "part 10000");
    upload.abort().await.expect_status(204, "abort");
}

async fn unknown_upload_ids_are_no_such_upload(t: Target) {
    let bucket = t.bucket().await;
    let real = Upload::create(&t.client, &bucket, "k").await;
    let fake = Upload {
        client: &t.client,
        bucket: bucket.clone(),
        key: "k".to_owned(),
        id: "0123456789abcdef0123456789abcdef".to_owned(),
    };
    let other_key = Upload {
        key: "other".to_owned(),
        id: real.id.clone(),
        client: &t.client,
        bucket: bucket.clone(),
    };

    for upload in [&fake, &other_key] {
        if t.is_plain_moto() {
            break; // moto fails with a 500 on parts of unknown uploads
        }
        upload
            .try_part(1, b"x")
            .await
            .expect_error(404, "NoSuchUpload");
        let etag = "\"0123456789abcdef0123456789abcdef\"".to_owned();
        upload
            .try_complete(&[(1, etag)])
            .await
            .expect_error(404, "NoSuchUpload");
        upload.abort().await.expect_error(404, "NoSuchUpload");
        let parts = t
            .client
            .get(&bucket, &upload.key)
            .query("uploadId", &upload.id)
            .send()
            .await;
        parts.expect_error(404, "NoSuchUpload");
    }
    let missing_bucket = t
        .client
        .post("no-such-bucket-sealgate", "k")
        .flag("uploads")
        .send()
        .await;
    missing_bucket.expect_error(404, "NoSuchBucket");
}

async fn abort_leaves_nothing(t: Target) {
    let bucket = t.bucket().await;
    let upload = Upload::create(&t.client, &bucket, "k").await;
    upload.part(1, &body(MIN_PART)).await;
    upload.part(2, &body(100)).await;

    upload.abort().await.expect_status(204, "abort");

    t.client
        .get(&bucket, "k")
        .send()
        .await
        .expect_error(404, "NoSuchKey");
    assert!(t.client.list_all(&bucket, "").await.is_empty());
    let uploads = list_uploads(&t, &bucket, &[]).await;
    assert!(xml::values(&uploads, "UploadId").is_empty(), "{uploads}");
    if !t.is_plain_moto() {
        // moto fails with a 500 on parts of unknown uploads.
        upload
            .try_part(3, b"x")
            .await
            .expect_error(404, "NoSuchUpload");
    }
    // With nothing left, the bucket can go.
    t.client
        .delete(&bucket, "")
        .send()
        .await
        .expect_status(204, "DeleteBucket");
}

async fn list_parts_pages(t: Target) {
    let bucket = t.bucket().await;
    let upload = Upload::create(&t.client, &bucket, "k").await;
    let bodies: Vec<Vec<u8>> = (1..=5).map(|n| body(n * 1000)).collect();
    let mut etags = Vec::new();
    for (i, part) in bodies.iter().enumerate() {
        etags.push(upload.part(i as u32 + 1, part).await);
    }

    let first = list_parts(&t, &upload, &[("max-parts", "2")]).await;
    let rest = list_parts(&t, &upload, &[("part-number-marker", "2")]).await;

    assert_eq!(xml::values(&first, "PartNumber"), ["1", "2"], "{first}");
    assert_eq!(xml::value(&first, "IsTruncated").as_deref(), Some("true"));
    assert_eq!(
        xml::value(&first, "NextPartNumberMarker").as_deref(),
        Some("2")
    );
    assert_eq!(xml::values(&rest, "PartNumber"), ["3", "4", "5"], "{rest}");
    assert_eq!(xml::value(&rest, "IsTruncated").as_deref(), Some("false"));
    let sizes: Vec<String> = (3..=5).map(|n| (n * 1000).to_string()).collect();
    assert_eq!(xml::values(&rest, "Size"), sizes);
    let listed: Vec<String> = xml::values(&rest, "ETag")
        .iter()
        .map(|e| xml::unescape(e))
        .collect();
    assert_eq!(listed, etags[2..]);
    upload.abort().await.expect_status(204, "abort");
}

async fn list_uploads_by_key(t: Target) {
    let bucket = t.bucket().await;
    let a1 = Upload::create(&t.client, &bucket, "dir/a").await;
    let b = Upload::create(&t.client, &bucket, "dir/sub/b").await;
    let c = Upload::create(&t.client, &bucket, "top").await;

    let all = list_uploads(&t, &bucket, &[]).await;
    let folded = list_uploads(&t, &bucket, &[("prefix", "dir/"), ("delimiter", "/")]).await;
    let paged = list_uploads(&t, &bucket, &[("max-uploads", "1")]).await;
    let next = list_uploads(
        &t,
        &bucket,
        &[("key-marker", "dir/a"), ("upload-id-marker", &a1.id)],
    )
    .await;

    assert_eq!(
        xml::values(&all, "Key"),
        ["dir/a", "dir/sub/b", "top"],
        "{all}"
    );
    assert_eq!(
        xml::values(&all, "UploadId"),
        [a1.id.clone(), b.id.clone(), c.id.clone()]
    );
    if !t.is_plain_moto() {
        // moto ignores the delimiter, max-uploads and markers of ListMultipartUploads.
        assert_eq!(xml::values(&folded, "Key"), ["dir/a"], "{folded}");
        assert_eq!(
            xml::values(&folded, "Prefix"),
            ["dir/", "dir/sub/"],
            "{folded}"
        );
        assert_eq!(
            xml::value(&paged, "IsTruncated").as_deref(),
            Some("true"),
            "{paged}"
        );
        assert_eq!(
            xml::value(&paged, "NextKeyMarker").as_deref(),
            Some("dir/a")
        );
        assert_eq!(xml::values(&next, "Key"), ["dir/sub/b", "top"], "{next}");
    }
    for upload in [a1, b, c] {
        upload.abort().await.expect_status(204, "abort");
    }
}

async fn single_put_replaces_a_multipart_object(t: Target) {
    let bucket = t.bucket().await;
    upload_object(&t.client, &bucket, "k", &[&body(MIN_PART), &body(10)]).await;
    let replacement = body(3 * SEGMENT);

    t.client
        .put_object(&bucket, "k", replacement.clone())
        .await
        .expect_status(200, "PUT over a multipart object");

    assert_eq!(t.client.get_object(&bucket, "k").await, replacement);
    let head = t
        .client
        .head(&bucket, "k")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(
        head.header("etag"),
        Some(data::etag_of(&replacement).as_str())
    );
    if t.is_gateway() {
        assert_eq!(record_files(&t, &bucket), 0, "the old parts are gone");
    }
}

async fn delete_removes_a_multipart_object(t: Target) {
    let bucket = t.bucket().await;
    upload_object(&t.client, &bucket, "k", &[&body(MIN_PART), &body(10)]).await;

    t.client
        .delete(&bucket, "k")
        .send()
        .await
        .expect_status(204, "DELETE");

    t.client
        .get(&bucket, "k")
        .send()
        .await
        .expect_error(404, "NoSuchKey");
    if t.is_gateway() {
        assert_eq!(record_files(&t, &bucket), 0, "the parts are gone");
    }
    t.client
        .delete(&bucket, "")
        .send()
        .await
        .expect_status(204, "DeleteBucket");
}

/// How many record files the gateway's folder backend holds for `bucket` (0 on S3 backends,
/// whose records are checked through the bucket's deletion instead).
fn record_files(t: &Target, bucket: &str) -> usize {
    let dir = t
        .gateway()
        .data_dir()
        .join("objects")
        .join(bucket)
        .join("#sealgate");
    walk(&dir)
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(kind) if kind.is_dir() => walk(&e.path()),
            _ => 1,
        })
        .sum()
}

async fn list_parts(t: &Target, upload: &Upload<'_>, params: &[(&str, &str)]) -> String {
    let mut req = t
        .client
        .get(&upload.bucket, &upload.key)
        .query("uploadId", &upload.id);
    for (name, value) in params {
        req = req.query(name, value);
    }
    req.send().await.expect_status(200, "ListParts").text()
}

async fn list_uploads(t: &Target, bucket: &str, params: &[(&str, &str)]) -> String {
    let mut req = t.client.get(bucket, "").flag("uploads");
    for (name, value) in params {
        req = req.query(name, value);
    }
    req.send()
        .await
        .expect_status(200, "ListMultipartUploads")
        .text()
}

/// The backend bytes a gateway has read so far, from its `/metrics`.
async fn backend_bytes_read(t: &Target) -> u64 {
    let url = format!("{}/metrics", t.gateway().endpoint);
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sealgate_backend_bytes_read_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("sealgate_backend_bytes_read_total in /metrics")
}

async fn ranged_reads_fetch_only_their_segments(t: Target) {
    let bucket = t.bucket().await;
    let parts = three_parts();
    let whole = parts.concat();
    upload_object(&t.client, &bucket, "k", &refs(&parts)).await;
    let table = 3 * 28 + 16;
    let sealed_segment = (SEGMENT + 16) as u64;

    // 100 bytes on each side of the boundary between parts 1 and 2: one segment of each part.
    let start = parts[0].len() - 100;
    let before = backend_bytes_read(&t).await;
    let resp = t
        .client
        .get(&bucket, "k")
        .header("range", &format!("bytes={start}-{}", start + 199))
        .send()
        .await
        .expect_status(206, "ranged GET across parts");
    let read = backend_bytes_read(&t).await - before;

    assert!(resp.body == whole[start..start + 200]);
    // Part 1 ends in a 3-byte segment: the range needs the segment before it too.
    let most = table + 3 * sealed_segment;
    assert!(
        read <= most,
        "read {read} backend bytes for 200, at most {most}"
    );
}

async fn an_upload_outlives_the_process_that_began_it(t: Target) {
    let backend = match t.kind {
        Kind::Folder => BackendKind::Folder,
        Kind::S3 => BackendKind::S3(S3Server::shared()),
        _ => return,
    };
    let mut gateway = Gateway::start(backend);
    let client = gateway.client();
    let bucket = data::bucket_name("restart");
    client.create_bucket(&bucket).await;
    let parts = three_parts();
    let upload = Upload::create(&client, &bucket, "k").await;
    let one = upload.part(1, &parts[0]).await;
    let id = upload.id.clone();

    // Another process on the same data dir and backend takes over the upload.
    gateway.restart();
    let client = gateway.client();
    let upload = Upload {
        client: &client,
        bucket: bucket.clone(),
        key: "k".to_owned(),
        id,
    };
    let three = upload.part(3, &parts[2]).await;
    let two = upload.part(2, &parts[1]).await;
    let listed = client
        .get(&bucket, "")
        .flag("uploads")
        .send()
        .await
        .expect_status(200, "ListMultipartUploads")
        .text();
    assert_eq!(
        xml::values(&listed, "UploadId"),
        [upload.id.as_str()],
        "{listed}"
    );
    upload.complete(&[(1, one), (2, two), (3, three)]).await;

    assert_eq!(client.get_object(&bucket, "k").await, parts.concat());
}
