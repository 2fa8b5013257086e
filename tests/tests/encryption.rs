//! Sealgate's own promises, on both backends: nothing the backend holds reveals a marker written
//! through the gateway, and any change to what the backend holds makes a GET fail rather than
//! return altered or short plaintext.
//!
//! The tests read and rewrite the backend directly: the object file under
//! `DATA_DIR/objects/BUCKET/` for the folder backend (an 8192-byte header holding the metadata
//! JSON, then the sealed body), the backend object and its `x-amz-meta-*` headers on S3.

use sealgate_tests::data::{self, SEGMENT, TAG, TRAILER, body, md5_hex, sealed_len};
use sealgate_tests::multipart::upload_object;
use sealgate_tests::{Kind, S3Server, Target, gateway_only, xml};
use std::path::{Path, PathBuf};

gateway_only!(
    marker_is_in_no_backend_byte,
    flipped_segment_bit_fails,
    flipped_tag_bit_fails,
    flipped_trailer_bit_fails,
    altered_wrapped_key_fails,
    truncation_at_segment_boundary_fails,
    truncation_inside_a_segment_fails,
    dropped_trailer_fails,
    appended_bytes_fail,
    swapped_segments_fail,
    object_copied_over_another_fails,
    flipped_part_bit_fails,
    swapped_parts_fail,
    part_from_another_upload_fails,
    marker_is_in_no_multipart_byte,
    copy_keeps_the_sealed_body,
);

/// The first segment of every record's backend name (the gateway's own multipart records).
const RECORDS: &str = "#sealgate";
/// Parts of the multipart victims: two full-size parts of equal size, then a short one.
const PART: usize = 5 * 1024 * 1024 + 1;

/// The fixed header before the sealed body in a folder-backend object file.
const FOLDER_HEADER: usize = 8192;
/// The metadata entry that holds the wrapped data key.
const WRAPPED_KEY: &str = "sealgate-key";
/// A sealed full segment: plaintext and tag.
const SEALED_SEGMENT: usize = SEGMENT + TAG;
/// Plaintext size of the tampering victims: three full segments and a short fourth.
const VICTIM_LEN: usize = 3 * SEGMENT + 100;

/// An object as the backend holds it.
#[derive(Clone)]
struct Stored {
    /// Folder: the header bytes. S3: empty.
    header: Vec<u8>,
    /// S3: the `x-amz-meta-*` headers. Folder: empty.
    meta: Vec<(String, String)>,
    /// The sealed body.
    body: Vec<u8>,
}

/// The folder-backend file of a key made of plain characters.
fn object_file(t: &Target, bucket: &str, key: &str) -> PathBuf {
    let dir = t.gateway().data_dir().join("objects").join(bucket);
    dir.join(format!("{key}#o"))
}

async fn read_stored(t: &Target, bucket: &str, key: &str) -> Stored {
    if t.kind == Kind::Folder {
        let file = std::fs::read(object_file(t, bucket, key)).expect("the object file");
        let (header, body) = file.split_at(FOLDER_HEADER);
        return Stored {
            header: header.to_vec(),
            meta: Vec::new(),
            body: body.to_vec(),
        };
    }
    let backend = S3Server::shared().client();
    let resp = backend
        .get(bucket, key)
        .send()
        .await
        .expect_status(200, "backend GET");
    let meta = resp
        .headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-amz-meta-"))
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
        .collect();
    Stored {
        header: Vec::new(),
        meta,
        body: resp.body.to_vec(),
    }
}

async fn write_stored(t: &Target, bucket: &str, key: &str, stored: &Stored) {
    if t.kind == Kind::Folder {
        let bytes = [stored.header.as_slice(), &stored.body].concat();
        std::fs::write(object_file(t, bucket, key), bytes).expect("rewrite the object file");
        return;
    }
    let mut req = S3Server::shared()
        .client()
        .put(bucket, key)
        .body(stored.body.clone());
    for (name, value) in &stored.meta {
        req = req.header(name, value);
    }
    req.send().await.expect_status(200, "backend PUT");
}

/// Puts a victim object through the gateway and returns its plaintext and stored form.
async fn victim(t: &Target, bucket: &str, key: &str) -> (Vec<u8>, Stored) {
    let plain = body(VICTIM_LEN);
    t.client.put_object(bucket, key, plain.clone()).await;
    let stored = read_stored(t, bucket, key).await;
    assert_eq!(stored.body.len(), sealed_len(VICTIM_LEN), "sealed length");
    (plain, stored)
}

/// GETs `key` whole and with ranges: a full GET must fail, and whatever does succeed must be
/// exactly the right bytes.
async fn assert_reads_fail(t: &Target, bucket: &str, key: &str, plain: &[u8]) {
    let ranges = [
        (0, 10),
        (SEGMENT + 5, SEGMENT + 50),
        (VICTIM_LEN - 30, VICTIM_LEN),
    ];
    assert_reads_fail_in(t, bucket, key, plain, &ranges).await;
}

/// [`assert_reads_fail`] with the plaintext ranges `start..end` to try.
async fn assert_reads_fail_in(
    t: &Target,
    bucket: &str,
    key: &str,
    plain: &[u8],
    ranges: &[(usize, usize)],
) {
    let whole = t.client.get(bucket, key).try_send().await;
    match &whole {
        Err(_) => {}
        Ok(resp) => assert!(
            !resp.status.is_success(),
            "tampered object was served: status {}, {} bytes",
            resp.status,
            resp.body.len()
        ),
    }
    for &(start, end) in ranges {
        let range = format!("bytes={start}-{}", end - 1);
        let resp = t
            .client
            .get(bucket, key)
            .header("range", &range)
            .try_send()
            .await;
        if let Some(resp) = resp.ok().filter(|r| r.status.is_success()) {
            assert!(
                resp.body == plain[start..end],
                "{range}: altered or short bytes served"
            );
        }
    }
}

/// Tampers with a fresh victim through `change` and checks that reads fail.
async fn tamper(t: Target, change: impl FnOnce(&mut Stored)) {
    let bucket = t.bucket().await;
    let (plain, mut stored) = victim(&t, &bucket, "victim").await;

    change(&mut stored);
    write_stored(&t, &bucket, "victim", &stored).await;

    assert_reads_fail(&t, &bucket, "victim", &plain).await;
}

async fn flipped_segment_bit_fails(t: Target) {
    tamper(t, |s| s.body[SEALED_SEGMENT + 1000] ^= 0x01).await;
}

async fn flipped_tag_bit_fails(t: Target) {
    tamper(t, |s| s.body[2 * SEALED_SEGMENT - 3] ^= 0x80).await;
}

async fn flipped_trailer_bit_fails(t: Target) {
    tamper(t, |s| {
        let at = s.body.len() - TRAILER / 2;
        s.body[at] ^= 0x10;
    })
    .await;
}

async fn altered_wrapped_key_fails(t: Target) {
    tamper(t, alter_wrapped_key).await;
}

async fn truncation_at_segment_boundary_fails(t: Target) {
    tamper(t, |s| s.body.truncate(2 * SEALED_SEGMENT)).await;
}

async fn truncation_inside_a_segment_fails(t: Target) {
    tamper(t, |s| s.body.truncate(2 * SEALED_SEGMENT + 777)).await;
}

async fn dropped_trailer_fails(t: Target) {
    tamper(t, |s| s.body.truncate(s.body.len() - TRAILER)).await;
}

async fn appended_bytes_fail(t: Target) {
    tamper(t, |s| s.body.extend_from_slice(&[0u8; 17])).await;
}

async fn swapped_segments_fail(t: Target) {
    tamper(t, |s| {
        let (first, second) = s.body.split_at_mut(SEALED_SEGMENT);
        first.swap_with_slice(&mut second[..SEALED_SEGMENT]);
    })
    .await;
}

async fn object_copied_over_another_fails(t: Target) {
    let bucket = t.bucket().await;
    let (_, stored_a) = victim(&t, &bucket, "object-a").await;
    let (plain_b, _) = victim(&t, &bucket, "object-b").await;

    write_stored(&t, &bucket, "object-b", &stored_a).await;

    assert_reads_fail(&t, &bucket, "object-b", &plain_b).await;
    let a = t.client.get_object(&bucket, "object-a").await;
    assert_eq!(a.len(), VICTIM_LEN, "object A itself still reads");
}

/// Changes one character in the middle of the wrapped data key, keeping it valid text.
fn alter_wrapped_key(stored: &mut Stored) {
    if stored.header.is_empty() {
        let name = format!("x-amz-meta-{WRAPPED_KEY}");
        let entry = stored.meta.iter_mut().find(|(n, _)| *n == name);
        let (_, value) = entry.unwrap_or_else(|| panic!("no {name} in the backend metadata"));
        let mut bytes = std::mem::take(value).into_bytes();
        let at = bytes.len() / 2;
        bytes[at] = other_char(bytes[at]);
        *value = String::from_utf8(bytes).unwrap();
        return;
    }
    let needle = format!("\"{WRAPPED_KEY}\":\"");
    let header = String::from_utf8_lossy(&stored.header).into_owned();
    let start = header.find(&needle).expect("the wrapped key in the header") + needle.len();
    let len = header[start..].find('"').expect("end of the wrapped key");
    let at = start + len / 2;
    stored.header[at] = other_char(stored.header[at]);
}

/// A different character of the same kind (digit, lower, upper), valid in hex and base64.
fn other_char(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => {
            if c == b'0' {
                b'1'
            } else {
                b'0'
            }
        }
        b'a'..=b'z' => {
            if c == b'a' {
                b'b'
            } else {
                b'a'
            }
        }
        b'A'..=b'Z' => {
            if c == b'A' {
                b'B'
            } else {
                b'A'
            }
        }
        _ => {
            if c == b'+' {
                b'/'
            } else {
                b'+'
            }
        }
    }
}

async fn marker_is_in_no_backend_byte(t: Target) {
    let marker = format!("SEALGATE-MARKER-{}", data::bucket_name("m"));
    let bucket = t.bucket().await;
    let content = marker.repeat(200_000 / marker.len());
    t.client
        .put(&bucket, "secret-object")
        .header("x-amz-meta-note", &marker)
        .header(
            "content-disposition",
            &format!("attachment; filename=\"{marker}\""),
        )
        .body(content.clone())
        .send()
        .await
        .expect_status(200, "PUT with the marker");
    t.client.put_object(&bucket, "small", marker.clone()).await;

    let needles = [
        marker.clone(),
        md5_hex(content.as_bytes()),
        md5_hex(marker.as_bytes()),
    ];
    let held = backend_bytes(&t, &bucket).await;
    assert!(held.len() >= 2, "found only {} stored things", held.len());
    for (name, bytes) in &held {
        for needle in &needles {
            assert!(
                !contains(bytes, needle.as_bytes()),
                "{needle:?} is readable in {name}"
            );
        }
    }
    let back = t.client.get(&bucket, "secret-object").send().await;
    assert_eq!(back.header("x-amz-meta-note"), Some(marker.as_str()));
}

/// Every stored thing the backend holds, by name: each file under the data dir, or each backend
/// object's body and headers.
async fn backend_bytes(t: &Target, bucket: &str) -> Vec<(String, Vec<u8>)> {
    if t.kind == Kind::Folder {
        let mut files = Vec::new();
        walk(t.gateway().data_dir(), &mut files);
        return files;
    }
    let backend = S3Server::shared().client();
    let mut held = Vec::new();
    for key in backend.list_all(bucket, "").await {
        let resp = backend
            .get(bucket, &key)
            .send()
            .await
            .expect_status(200, "backend GET");
        let headers: String = resp
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v:?}\n"))
            .collect();
        held.push((format!("{key} (headers)"), headers.into_bytes()));
        held.push((key, resp.body.to_vec()));
    }
    let listing = backend.get(bucket, "").query("list-type", "2").send().await;
    held.push(("listing".into(), listing.body.to_vec()));
    assert!(xml::value(&listing.text(), "Key").is_some());
    held
}

/// Reads every file under `dir`.
fn walk(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).expect("read a data dir folder") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path.display().to_string(), bytes));
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A multipart victim: three parts, the first two of equal size. Returns the plaintext and the
/// backend names of its part records, in part order.
async fn multipart_victim(t: &Target, bucket: &str, key: &str) -> (Vec<u8>, Vec<String>) {
    let parts = [body(PART), body(PART), body(SEGMENT + 9)];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let before = part_records(t, bucket).await;
    upload_object(&t.client, bucket, key, &refs).await;
    let mut names: Vec<String> = part_records(t, bucket)
        .await
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect();
    names.sort(); // `…/NNNNN-attempt`: part order
    assert_eq!(names.len(), 3, "one record per part: {names:?}");
    (parts.concat(), names)
}

/// The backend names of every part record in `bucket`.
async fn part_records(t: &Target, bucket: &str) -> Vec<String> {
    let prefix = format!("{RECORDS}/parts/");
    if t.kind == Kind::S3 {
        return S3Server::shared().client().list_all(bucket, &prefix).await;
    }
    let root = t.gateway().data_dir().join("objects").join(bucket);
    let mut files = Vec::new();
    if root.join(RECORDS).exists() {
        walk(&root.join(RECORDS), &mut files);
    }
    files
        .into_iter()
        .filter_map(|(path, _)| {
            let relative = Path::new(&path)
                .strip_prefix(&root)
                .ok()?
                .to_str()?
                .to_owned();
            relative.strip_suffix("#o").map(str::to_owned)
        })
        .filter(|name| name.starts_with(&prefix))
        .collect()
}

async fn flipped_part_bit_fails(t: Target) {
    let bucket = t.bucket().await;
    let (plain, names) = multipart_victim(&t, &bucket, "victim").await;
    let mut stored = read_stored(&t, &bucket, &names[1]).await;

    stored.body[SEALED_SEGMENT + 5] ^= 0x04;
    write_stored(&t, &bucket, &names[1], &stored).await;

    assert_multipart_reads_fail(&t, &bucket, "victim", &plain).await;
}

async fn swapped_parts_fail(t: Target) {
    let bucket = t.bucket().await;
    let (plain, names) = multipart_victim(&t, &bucket, "victim").await;
    let first = read_stored(&t, &bucket, &names[0]).await;
    let second = read_stored(&t, &bucket, &names[1]).await;

    write_stored(&t, &bucket, &names[0], &second).await;
    write_stored(&t, &bucket, &names[1], &first).await;

    assert_multipart_reads_fail(&t, &bucket, "victim", &plain).await;
}

async fn part_from_another_upload_fails(t: Target) {
    let bucket = t.bucket().await;
    let (_, names_a) = multipart_victim(&t, &bucket, "object-a").await;
    let (plain_b, names_b) = multipart_victim(&t, &bucket, "object-b").await;

    let part_a = read_stored(&t, &bucket, &names_a[0]).await;
    write_stored(&t, &bucket, &names_b[0], &part_a).await;

    assert_multipart_reads_fail(&t, &bucket, "object-b", &plain_b).await;
    let a = t.client.get_object(&bucket, "object-a").await;
    assert_eq!(
        a.len(),
        2 * PART + SEGMENT + 9,
        "object A itself still reads"
    );
}

/// Like [`assert_reads_fail`], with ranges inside each part of a multipart victim.
async fn assert_multipart_reads_fail(t: &Target, bucket: &str, key: &str, plain: &[u8]) {
    let ranges = [0, SEGMENT + 7, PART + 3, 2 * PART + 1].map(|start| (start, start + 100));
    assert_reads_fail_in(t, bucket, key, plain, &ranges).await;
}

async fn marker_is_in_no_multipart_byte(t: Target) {
    let marker = format!("SEALGATE-MARKER-{}", data::bucket_name("m"));
    let bucket = t.bucket().await;
    let part = marker.repeat(PART / marker.len() + 1).into_bytes();
    let upload = sealgate_tests::multipart::Upload::create(&t.client, &bucket, "done").await;
    let etag = upload.part(1, &part).await;
    upload.complete(&[(1, etag)]).await;
    // An upload left open, whose record holds the headers.
    let open = t
        .client
        .post(&bucket, "open")
        .flag("uploads")
        .header("x-amz-meta-note", &marker)
        .send()
        .await
        .expect_status(200, "CreateMultipartUpload");
    let open_id = xml::value(&open.text(), "UploadId").unwrap();
    t.client
        .put(&bucket, "open")
        .query("partNumber", "1")
        .query("uploadId", &open_id)
        .body(part.clone())
        .send()
        .await
        .expect_status(200, "UploadPart");

    let needles = [marker.clone(), md5_hex(&part)];
    let held = backend_bytes(&t, &bucket).await;
    assert!(
        held.iter().any(|(name, _)| name.contains(RECORDS)),
        "records were scanned"
    );
    for (name, bytes) in &held {
        for needle in &needles {
            assert!(
                !contains(bytes, needle.as_bytes()),
                "{needle:?} is readable in {name}"
            );
        }
    }
}

async fn copy_keeps_the_sealed_body(t: Target) {
    let bucket = t.bucket().await;
    let (plain, _) = victim(&t, &bucket, "source").await;

    t.client
        .put(&bucket, "copy")
        .header("x-amz-copy-source", &format!("{bucket}/source"))
        .send()
        .await
        .expect_status(200, "CopyObject");

    let source = read_stored(&t, &bucket, "source").await;
    let copy = read_stored(&t, &bucket, "copy").await;
    assert!(
        copy.body == source.body,
        "the sealed body is copied as it is, not re-encrypted"
    );
    assert!(
        copy.header != source.header || copy.meta != source.meta,
        "the key is re-wrapped"
    );
    assert_eq!(t.client.get_object(&bucket, "copy").await, plain);
    // The source's metadata does not open the copy's body under the copy's name.
    write_stored(&t, &bucket, "copy", &source).await;
    assert_reads_fail(&t, &bucket, "copy", &plain).await;
}
