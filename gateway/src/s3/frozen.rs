//! The frozen multipart object: checked-in records of a completed multipart upload, sealed by
//! format v1, that every later version must open (docs/format.md, "Multipart objects").
//!
//! It freezes what the single-part frozen objects of `seal::tests` cannot: the derivation of
//! part, completion and headers keys (their HKDF salts and info strings), the part-table layout
//! and its nonce kind, and the multipart ETag record. The files under
//! `tests/data/format-v1-multipart/` are written once by `write_frozen_multipart` (ignored) and
//! never regenerated.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use kms_core::DataKey;
use md5::Digest;

use super::parts::{PartEntry, PartTable};
use crate::keys;
use crate::seal;

/// The test-only data key of the upload: byte i is 0x40 + i. Never a real key.
const UPLOAD_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = 0x40 + i as u8;
        i += 1;
    }
    k
};
/// The parts: numbers 1 and 3 (a gap, as S3 allows), their attempt ids and plaintext sizes.
const PARTS: [(u32, [u8; 16], u64); 2] = [(1, [0x11; 16], 65_537), (3, [0x33; 16], 10)];
/// The completion salt and the salt of replaced headers.
const COMPLETION: [u8; 16] = [0xc0; 16];
const HEADERS_SALT: [u8; 16] = [0x4e; 16];
/// The headers sealed under the headers key.
const HEADERS_JSON: &[u8] = br#"{"content-type":"text/plain"}"#;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/format-v1-multipart")
}

/// Object byte i (over the whole object, both parts) is the top byte of (i * 2654435761) mod 2^32.
fn plaintext(start: u64, len: u64) -> Vec<u8> {
    (start..start + len)
        .map(|i| ((i.wrapping_mul(2_654_435_761) % (1 << 32)) >> 24) as u8)
        .collect()
}

fn upload_key() -> DataKey {
    DataKey::from_bytes(UPLOAD_KEY)
}

fn table() -> PartTable {
    let parts = PARTS
        .iter()
        .map(|&(part_number, attempt, size)| PartEntry {
            part_number,
            attempt,
            size,
        })
        .collect();
    PartTable { parts }
}

/// Every frozen file, as today's code seals it: (file name, bytes).
async fn seal_all() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut start = 0;
    let mut md5s = md5::Md5::new();
    for (number, attempt, size) in PARTS {
        let data = plaintext(start, size);
        start += size;
        md5s.update(md5::Md5::digest(&data));
        let key = Arc::new(keys::part_key(&upload_key(), number, &attempt).unwrap());
        let input = futures::stream::iter([Ok(Bytes::from(data))]);
        let sealed = seal::seal_stream(key, number, size, true, Box::pin(input));
        let bytes: Vec<Bytes> = sealed.stream.try_collect().await.unwrap();
        files.push((format!("part-{number:05}.bin"), bytes.concat()));
    }
    let completion = keys::completion_key(&upload_key(), &COMPLETION).unwrap();
    let sealed_table = seal::seal_part_table(&completion, &table().encode()).unwrap();
    files.push(("table.bin".to_owned(), sealed_table));
    let combined: [u8; 16] = md5s.finalize().into();
    let etag = seal::seal_etag(&completion, &combined).unwrap();
    files.push(("etag.bin".to_owned(), etag.to_vec()));
    let headers_key = keys::headers_key(&upload_key(), &HEADERS_SALT).unwrap();
    let headers = seal::seal_headers(&headers_key, HEADERS_JSON).unwrap();
    files.push(("headers.bin".to_owned(), headers));
    files
}

#[tokio::test]
async fn frozen_multipart_always_opens() {
    let read = |name: &str| std::fs::read(dir().join(name)).expect("a frozen multipart file");

    // The records open with keys derived as format v1 derives them.
    let completion = keys::completion_key(&upload_key(), &COMPLETION).unwrap();
    let opened = seal::open_part_table(&completion, &read("table.bin")).unwrap();
    assert_eq!(PartTable::decode(&opened), Some(table()));
    let mut start = 0;
    let mut md5s = md5::Md5::new();
    for (number, attempt, size) in PARTS {
        let sealed = read(&format!("part-{number:05}.bin"));
        let key = Arc::new(keys::part_key(&upload_key(), number, &attempt).unwrap());
        let plan = seal::plan(size, 0..size).unwrap().with_md5_check();
        let input = futures::stream::iter([Ok(Bytes::from(sealed))]);
        let out = seal::open_stream(key, number, size, plan, Box::pin(input));
        let plain: Vec<Bytes> = out.try_collect().await.unwrap();
        let want = plaintext(start, size);
        assert!(plain.concat() == want, "part {number}");
        md5s.update(md5::Md5::digest(&want));
        start += size;
    }
    let combined: [u8; 16] = md5s.finalize().into();
    assert_eq!(
        seal::open_etag(&completion, &read("etag.bin")).unwrap(),
        combined
    );
    let headers_key = keys::headers_key(&upload_key(), &HEADERS_SALT).unwrap();
    let headers = seal::open_headers(&headers_key, &read("headers.bin")).unwrap();
    assert_eq!(headers, HEADERS_JSON);

    // Sealing the same input today gives the very same bytes.
    for (name, bytes) in seal_all().await {
        assert!(
            read(&name) == bytes,
            "{name} no longer seals to the frozen bytes"
        );
    }
}

/// Writes the frozen files if they are missing. Never overwrites.
#[tokio::test]
#[ignore = "run once by hand to create the frozen multipart object"]
async fn write_frozen_multipart() {
    std::fs::create_dir_all(dir()).unwrap();
    for (name, bytes) in seal_all().await {
        let path = dir().join(name);
        if !path.exists() {
            std::fs::write(path, bytes).unwrap();
        }
    }
}
