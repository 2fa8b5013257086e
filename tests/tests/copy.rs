//! CopyObject and UploadPartCopy, run against the gateway on both backends and against the plain
//! S3 server: copies within and across buckets, metadata kept or replaced, copies onto the
//! object itself, the copy-source conditions, multipart sources, and copied parts.

use sealgate_tests::data::{SEGMENT, body, etag_of};
use sealgate_tests::multipart::{Upload, multipart_etag, upload_object};
use sealgate_tests::{Resp, Target, conformance, xml};

conformance!(
    copy_keeps_body_and_headers,
    copy_across_buckets,
    copy_replaces_metadata,
    copy_onto_itself_needs_replace,
    copy_source_conditions,
    copy_of_a_multipart_object_outlives_its_source,
    copy_of_missing_sources_fails,
    upload_part_copy_with_ranges,
);

const MIB: usize = 1024 * 1024;

async fn copy(t: &Target, bucket: &str, key: &str, source: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = t
        .client
        .put(bucket, key)
        .header("x-amz-copy-source", source);
    for (name, value) in headers {
        req = req.header(name, value);
    }
    req.send().await
}

async fn head(t: &Target, bucket: &str, key: &str) -> Resp {
    t.client
        .head(bucket, key)
        .send()
        .await
        .expect_status(200, "HEAD")
}

async fn copy_keeps_body_and_headers(t: Target) {
    let bucket = t.bucket().await;
    let content = body(3 * SEGMENT + 5);
    t.client
        .put(&bucket, "src/a b.txt")
        .header("content-type", "text/plain")
        .header("x-amz-meta-colour", "blue")
        .body(content.clone())
        .send()
        .await
        .expect_status(200, "PUT");

    let resp = copy(&t, &bucket, "dst", &format!("/{bucket}/src/a%20b.txt"), &[]).await;

    let text = resp.expect_status(200, "CopyObject").text();
    assert!(text.contains("<CopyObjectResult"), "{text}");
    let etag = xml::value(&text, "ETag").map(|e| xml::unescape(&e));
    assert_eq!(etag, Some(etag_of(&content)));
    assert_eq!(t.client.get_object(&bucket, "dst").await, content);
    let copied = head(&t, &bucket, "dst").await;
    assert_eq!(copied.header("content-type"), Some("text/plain"));
    assert_eq!(copied.header("x-amz-meta-colour"), Some("blue"));
    assert_eq!(copied.header("etag"), Some(etag_of(&content).as_str()));
    // The source is untouched.
    assert_eq!(t.client.get_object(&bucket, "src/a b.txt").await, content);
}

async fn copy_across_buckets(t: Target) {
    let (from, to) = (t.bucket().await, t.bucket().await);
    let content = body(2 * MIB + 1);
    t.client
        .put_object(&from, "k", content.clone())
        .await
        .expect_status(200, "PUT");

    copy(&t, &to, "k2", &format!("{from}/k"), &[])
        .await
        .expect_status(200, "CopyObject across buckets");

    assert_eq!(t.client.get_object(&to, "k2").await, content);
    let range = t
        .client
        .get(&to, "k2")
        .header("range", "bytes=65530-65545")
        .send()
        .await
        .expect_status(206, "ranged GET of the copy");
    assert!(range.body == content[65530..=65545]);
}

async fn copy_replaces_metadata(t: Target) {
    let bucket = t.bucket().await;
    let content = body(1000);
    t.client
        .put(&bucket, "k")
        .header("content-type", "text/plain")
        .header("x-amz-meta-old", "1")
        .body(content.clone())
        .send()
        .await
        .expect_status(200, "PUT");

    let replace = [
        ("x-amz-metadata-directive", "REPLACE"),
        ("content-type", "image/png"),
        ("x-amz-meta-new", "2"),
    ];
    copy(&t, &bucket, "k2", &format!("{bucket}/k"), &replace)
        .await
        .expect_status(200, "CopyObject REPLACE");

    let copied = head(&t, &bucket, "k2").await;
    assert_eq!(copied.header("content-type"), Some("image/png"));
    assert_eq!(copied.header("x-amz-meta-new"), Some("2"));
    assert_eq!(copied.header("x-amz-meta-old"), None);
    assert_eq!(t.client.get_object(&bucket, "k2").await, content);
    if !t.is_plain_moto() {
        // moto takes any directive.
        let bad = [("x-amz-metadata-directive", "MERGE")];
        copy(&t, &bucket, "k3", &format!("{bucket}/k"), &bad)
            .await
            .expect_error(400, "InvalidArgument");
    }
}

async fn copy_onto_itself_needs_replace(t: Target) {
    let bucket = t.bucket().await;
    let content = body(70_000);
    t.client
        .put_object(&bucket, "k", content.clone())
        .await
        .expect_status(200, "PUT");
    let source = format!("{bucket}/k");

    copy(&t, &bucket, "k", &source, &[])
        .await
        .expect_error(400, "InvalidRequest");
    let replace = [
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-meta-updated", "yes"),
    ];
    copy(&t, &bucket, "k", &source, &replace)
        .await
        .expect_status(200, "CopyObject onto itself");

    let after = head(&t, &bucket, "k").await;
    assert_eq!(after.header("x-amz-meta-updated"), Some("yes"));
    assert_eq!(t.client.get_object(&bucket, "k").await, content);
    // Replacing again replaces again.
    let again = [
        ("x-amz-metadata-directive", "REPLACE"),
        ("x-amz-meta-updated", "twice"),
    ];
    copy(&t, &bucket, "k", &source, &again)
        .await
        .expect_status(200, "second CopyObject onto itself");
    let after = head(&t, &bucket, "k").await;
    assert_eq!(after.header("x-amz-meta-updated"), Some("twice"));
    assert_eq!(t.client.get_object(&bucket, "k").await, content);
}

async fn copy_source_conditions(t: Target) {
    if t.is_plain_moto() {
        return; // moto ignores the copy-source conditions
    }
    let bucket = t.bucket().await;
    let content = body(100);
    t.client
        .put_object(&bucket, "k", content.clone())
        .await
        .expect_status(200, "PUT");
    let etag = etag_of(&content);
    let source = format!("{bucket}/k");
    let other = "\"0123456789abcdef0123456789abcdef\"";

    for (name, value) in [
        ("x-amz-copy-source-if-match", other),
        ("x-amz-copy-source-if-none-match", etag.as_str()),
        (
            "x-amz-copy-source-if-unmodified-since",
            "Mon, 01 Jan 2001 00:00:00 GMT",
        ),
    ] {
        copy(&t, &bucket, "c", &source, &[(name, value)])
            .await
            .expect_error(412, "PreconditionFailed");
    }
    copy(
        &t,
        &bucket,
        "c",
        &source,
        &[("x-amz-copy-source-if-match", &etag)],
    )
    .await
    .expect_status(200, "matching if-match");
    assert_eq!(t.client.get_object(&bucket, "c").await, content);
}

async fn copy_of_a_multipart_object_outlives_its_source(t: Target) {
    let bucket = t.bucket().await;
    let parts = [body(5 * MIB + 1), body(SEGMENT + 3)];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let whole = parts.concat();
    let etag = upload_object(&t.client, &bucket, "src", &refs).await;
    assert_eq!(etag, multipart_etag(&refs));

    copy(&t, &bucket, "dst", &format!("{bucket}/src"), &[])
        .await
        .expect_status(200, "CopyObject of a multipart object");
    t.client
        .delete(&bucket, "src")
        .send()
        .await
        .expect_status(204, "DELETE source");

    assert_eq!(t.client.get_object(&bucket, "dst").await, whole);
    let start = parts[0].len() - 5;
    let range = t
        .client
        .get(&bucket, "dst")
        .header("range", &format!("bytes={start}-{}", start + 9))
        .send()
        .await
        .expect_status(206, "ranged GET across the parts of the copy");
    assert!(range.body == whole[start..start + 10]);
}

async fn copy_of_missing_sources_fails(t: Target) {
    let bucket = t.bucket().await;

    copy(&t, &bucket, "k", &format!("{bucket}/missing"), &[])
        .await
        .expect_error(404, "NoSuchKey");
    copy(&t, &bucket, "k", "no-such-bucket-sealgate-src/k", &[])
        .await
        .expect_error(404, "NoSuchBucket");
    if !t.is_plain_moto() {
        // moto fails with a 500 on a source without a key.
        copy(&t, &bucket, "k", "just-a-bucket", &[])
            .await
            .expect_error(400, "InvalidArgument");
    }
    assert!(t.client.list_all(&bucket, "").await.is_empty());
}

async fn upload_part_copy_with_ranges(t: Target) {
    let bucket = t.bucket().await;
    let single = body(6 * MIB + 7);
    t.client
        .put_object(&bucket, "single", single.clone())
        .await
        .expect_status(200, "PUT");
    let parts = [body(5 * MIB), body(1000)];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    upload_object(&t.client, &bucket, "multi", &refs).await;
    let multi = parts.concat();

    let upload = Upload::create(&t.client, &bucket, "assembled").await;
    let first = part_copy(
        &t,
        &upload,
        1,
        &format!("{bucket}/single"),
        Some((7, 5 * MIB + 6)),
    )
    .await;
    let second = part_copy(&t, &upload, 2, &format!("{bucket}/single"), None).await;
    let cut = 5 * MIB - 100;
    let third = part_copy(
        &t,
        &upload,
        3,
        &format!("{bucket}/multi"),
        Some((cut, multi.len() - 1)),
    )
    .await;
    let bad = t
        .client
        .put(&bucket, "assembled")
        .query("partNumber", "4")
        .query("uploadId", &upload.id)
        .header("x-amz-copy-source", &format!("{bucket}/single"))
        .header(
            "x-amz-copy-source-range",
            &format!("bytes=0-{}", single.len()),
        )
        .send()
        .await;
    if !t.is_plain_moto() {
        assert_eq!(bad.status, 400, "{}", bad.describe()); // moto copies past the end
    }
    upload
        .complete(&[(1, first), (2, second), (3, third)])
        .await;

    let want = [&single[7..5 * MIB + 7], &single[..], &multi[cut..]].concat();
    assert_eq!(t.client.get_object(&bucket, "assembled").await, want);
}

/// UploadPartCopy of `source` (bytes `first..=last`, or all); returns the part's ETag.
async fn part_copy(
    t: &Target,
    upload: &Upload<'_>,
    number: u32,
    source: &str,
    range: Option<(usize, usize)>,
) -> String {
    let mut req = t
        .client
        .put(&upload.bucket, &upload.key)
        .query("partNumber", &number.to_string())
        .query("uploadId", &upload.id)
        .header("x-amz-copy-source", source);
    if let Some((first, last)) = range {
        req = req.header("x-amz-copy-source-range", &format!("bytes={first}-{last}"));
    }
    let text = req.send().await.expect_status(200, "UploadPartCopy").text();
    assert!(text.contains("<CopyPartResult"), "{text}");
    xml::value(&text, "ETag")
        .map(|e| xml::unescape(&e))
        .expect("a part ETag")
}
