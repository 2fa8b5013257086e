//! What a multipart upload keeps in the backend, and the part table of a completed multipart
//! object (frozen: `docs/format.md`, "Multipart objects").
//!
//! An upload in progress is an *upload record* in the backend's record space
//! ([`crate::backend::Space::Records`]): `uploads/<upload id>`, a small JSON body naming the key,
//! the wrapped data key of the upload and the sealed client headers. Every attempt at a part is a
//! record of its own, `parts/<upload id>/<part number>-<attempt id>`, sealed under a key derived
//! for that attempt ([`crate::keys::part_key`]), so retries never overwrite or reuse a nonce and
//! any gateway process can serve any request of the upload. Completing an upload writes the object
//! under its key: the usual `sealgate-*` metadata plus `sealgate-upload`, and as its body the
//! sealed *part table* ([`PartTable`]) that names each part's attempt and plaintext size, so a
//! ranged read knows which part records, and which of their segments, to fetch.

use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::sse::Sse;

/// Bytes of random upload id, written as lowercase hex.
const UPLOAD_ID_BYTES: usize = 16;

/// Bytes of random attempt id of a part, written as lowercase hex.
pub const ATTEMPT_BYTES: usize = 16;

/// The largest part number S3 allows.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// The smallest part S3 accepts in a completed upload, except the last one.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// The largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;

/// Bytes of one part-table entry: part number (u32 BE), attempt id (16), plaintext size (u64 BE).
///
/// Do not change: completed multipart objects already hold tables of this layout.
const ENTRY_LEN: usize = 4 + ATTEMPT_BYTES + 8;

/// A fresh upload id: 32 lowercase hex digits.
pub fn new_upload_id() -> String {
    let bytes: [u8; UPLOAD_ID_BYTES] = rand::random();
    hex::encode(bytes)
}

/// A fresh attempt id for one upload of one part.
pub fn new_attempt() -> [u8; ATTEMPT_BYTES] {
    rand::random()
}

/// Whether `id` can be an upload id we issued (anything else cannot name a record).
pub fn is_upload_id(id: &str) -> bool {
    id.len() == 2 * UPLOAD_ID_BYTES && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The record name of an upload in progress.
pub fn upload_record(upload_id: &str) -> String {
    format!("uploads/{upload_id}")
}

/// The record-name prefix of every upload in progress.
pub const UPLOADS_PREFIX: &str = "uploads/";

/// The upload id of an upload record's name.
pub fn upload_id_of(record: &str) -> Option<&str> {
    record
        .strip_prefix(UPLOADS_PREFIX)
        .filter(|id| is_upload_id(id))
}

/// The record-name prefix of every part attempt of an upload.
pub fn parts_prefix(upload_id: &str) -> String {
    format!("parts/{upload_id}/")
}

/// The record name of one attempt at one part.
pub fn part_record(upload_id: &str, part_number: u32, attempt: &[u8; ATTEMPT_BYTES]) -> String {
    format!(
        "parts/{upload_id}/{part_number:05}-{}",
        hex::encode(attempt)
    )
}

/// The part number and attempt id of a part record named `name` (under [`parts_prefix`]).
pub fn parse_part_record(upload_id: &str, name: &str) -> Option<(u32, [u8; ATTEMPT_BYTES])> {
    let rest = name.strip_prefix(&parts_prefix(upload_id))?;
    let (number, attempt) = rest.split_once('-')?;
    let number: u32 = number
        .parse()
        .ok()
        .filter(|n| (1..=MAX_PART_NUMBER).contains(n))?;
    let mut bytes = [0u8; ATTEMPT_BYTES];
    hex::decode_to_slice(attempt, &mut bytes).ok()?;
    (format!("{number:05}-{attempt}") == rest).then_some((number, bytes))
}

/// The body of an upload record (JSON): what every request of the upload needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct UploadRecord {
    /// The object key the upload will complete into.
    pub key: String,
    /// When the upload was created, RFC 3339.
    pub initiated: String,
    /// The principal that created it.
    pub owner: String,
    /// kms-core's blob of the upload's data key (base64), bound to the bucket and key.
    pub wrapped_key: String,
    /// The client headers sealed under the upload's data key (base64).
    pub headers: String,
    /// `aws:kms` for an SSE-KMS upload; absent for SSE-S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<String>,
    /// An SSE-KMS upload's client encryption context (base64 JSON), bound into its data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
}

impl UploadRecord {
    /// A record for `key`, created now by `owner`.
    pub fn new(
        key: &str,
        owner: &str,
        (wrapped_key, sealed_headers): (&[u8], &[u8]),
        sse: &Sse,
    ) -> Self {
        let now = time::OffsetDateTime::now_utc();
        let initiated = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        UploadRecord {
            key: key.to_owned(),
            initiated,
            owner: owner.to_owned(),
            wrapped_key: BASE64.encode(wrapped_key),
            headers: BASE64.encode(sealed_headers),
            sse: matches!(sse, Sse::Kms { .. }).then(|| "aws:kms".to_owned()),
            context: match sse {
                Sse::Kms { context } => context.clone(),
                Sse::S3 => None,
            },
        }
    }

    /// The encryption the upload was created with.
    pub fn sse(&self) -> Sse {
        match self.sse.as_deref() {
            Some("aws:kms") => Sse::Kms {
                context: self.context.clone(),
            },
            _ => Sse::S3,
        }
    }

    /// The record as stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a stored record; `None` if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }

    /// The wrapped data key.
    pub fn wrapped_key(&self) -> Option<Vec<u8>> {
        BASE64.decode(&self.wrapped_key).ok()
    }

    /// The sealed client headers.
    pub fn sealed_headers(&self) -> Option<Vec<u8>> {
        BASE64.decode(&self.headers).ok()
    }

    /// When the upload was created.
    pub fn initiated(&self) -> std::time::SystemTime {
        time::OffsetDateTime::parse(
            &self.initiated,
            &time::format_description::well_known::Rfc3339,
        )
        .map(Into::into)
        .unwrap_or(std::time::UNIX_EPOCH)
    }
}

/// One part of a completed multipart object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartEntry {
    /// The part number it was uploaded with (1 to 10000).
    pub part_number: u32,
    /// The attempt the object is made of.
    pub attempt: [u8; ATTEMPT_BYTES],
    /// Its plaintext size.
    pub size: u64,
}

/// The parts of a completed multipart object, in order: the plaintext of its sealed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartTable {
    /// The parts, by ascending part number.
    pub parts: Vec<PartEntry>,
}

/// A stretch of one part: which part, and which plaintext bytes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    /// The part.
    pub part: PartEntry,
    /// Plaintext bytes of the part.
    pub range: Range<u64>,
}

impl PartTable {
    /// The table's bytes: one [`ENTRY_LEN`]-byte entry per part.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.parts.len() * ENTRY_LEN);
        for part in &self.parts {
            out.extend_from_slice(&part.part_number.to_be_bytes());
            out.extend_from_slice(&part.attempt);
            out.extend_from_slice(&part.size.to_be_bytes());
        }
        out
    }

    /// Reads a table: at least one entry, part numbers 1 to 10000 in ascending order.
    pub fn decode(bytes: &[u8]) -> Option<PartTable> {
        if bytes.is_empty() || !bytes.len().is_multiple_of(ENTRY_LEN) {
            return None;
        }
        let parts: Vec<PartEntry> = bytes.chunks_exact(ENTRY_LEN).map(decode_entry).collect();
        let ascending = parts
            .windows(2)
            .all(|w| matches!(w, [a, b] if a.part_number < b.part_number));
        let in_range = parts
            .iter()
            .all(|p| (1..=MAX_PART_NUMBER).contains(&p.part_number));
        (ascending && in_range).then_some(PartTable { parts })
    }

    /// Bytes of the sealed table of `parts` parts (plaintext and tag).
    pub fn sealed_len(parts: u32) -> u64 {
        u64::from(parts) * ENTRY_LEN as u64 + crate::seal::format::TAG_LEN
    }

    /// The plaintext size of the whole object.
    pub fn size(&self) -> u64 {
        self.parts.iter().map(|p| p.size).sum()
    }

    /// The pieces of the parts that hold the object's plaintext bytes `range` (non-empty pieces
    /// only, in order).
    pub fn pieces(&self, range: Range<u64>) -> Vec<Piece> {
        let mut pieces = Vec::new();
        let mut start = 0u64;
        for part in &self.parts {
            let end = start + part.size;
            let from = range.start.max(start);
            let to = range.end.min(end);
            if from < to {
                pieces.push(Piece {
                    part: *part,
                    range: from - start..to - start,
                });
            }
            start = end;
        }
        pieces
    }

    /// The plaintext bytes of the object that part `index` (1-based position) holds.
    pub fn part_range(&self, index: usize) -> Option<Range<u64>> {
        let position = index.checked_sub(1)?;
        self.parts.get(position)?;
        let start: u64 = self.parts.iter().take(position).map(|p| p.size).sum();
        let size = self.parts.get(position)?.size;
        Some(start..start + size)
    }
}

fn decode_entry(entry: &[u8]) -> PartEntry {
    let mut number = [0u8; 4];
    let mut attempt = [0u8; ATTEMPT_BYTES];
    let mut size = [0u8; 8];
    // `entry` is ENTRY_LEN bytes long (chunks_exact), so each piece fills its array exactly.
    let mut bytes = entry.iter().copied();
    number
        .iter_mut()
        .for_each(|b| *b = bytes.next().unwrap_or(0));
    attempt
        .iter_mut()
        .for_each(|b| *b = bytes.next().unwrap_or(0));
    size.iter_mut().for_each(|b| *b = bytes.next().unwrap_or(0));
    PartEntry {
        part_number: u32::from_be_bytes(number),
        attempt,
        size: u64::from_be_bytes(size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table(sizes: &[u64]) -> PartTable {
        let parts = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| PartEntry {
                part_number: 2 * i as u32 + 1,
                attempt: [i as u8; ATTEMPT_BYTES],
                size,
            })
            .collect();
        PartTable { parts }
    }

    #[test]
    fn names_round_trip() {
        let id = new_upload_id();
        assert!(is_upload_id(&id));
        assert_eq!(upload_id_of(&upload_record(&id)), Some(id.as_str()));
        let attempt = new_attempt();
        let name = part_record(&id, 42, &attempt);
        assert!(crate::backend::Space::Records.is_valid(&name));
        assert_eq!(parse_part_record(&id, &name), Some((42, attempt)));
        assert_eq!(parse_part_record(&id, &name.replace("00042", "42")), None);
        assert_eq!(
            parse_part_record(&id, &format!("{}00000-ab", parts_prefix(&id))),
            None
        );
        assert!(!is_upload_id("../x"));
    }

    #[test]
    fn tables_round_trip_and_refuse_junk() {
        let t = table(&[5, 0, 7]);
        assert_eq!(PartTable::decode(&t.encode()), Some(t.clone()));
        assert_eq!(t.encode().len() as u64 + 16, PartTable::sealed_len(3));
        assert_eq!(PartTable::decode(&[]), None);
        assert_eq!(PartTable::decode(&t.encode()[1..]), None);
        let mut backwards = t.clone();
        backwards.parts.reverse();
        assert_eq!(PartTable::decode(&backwards.encode()), None);
    }

    #[test]
    fn part_ranges_are_positions() {
        let t = table(&[5, 3, 7]);
        assert_eq!(t.part_range(1), Some(0..5));
        assert_eq!(t.part_range(3), Some(8..15));
        assert_eq!(t.part_range(0), None);
        assert_eq!(t.part_range(4), None);
    }

    proptest! {
        #[test]
        fn pieces_cover_exactly_the_range(
            sizes in proptest::collection::vec(0u64..50, 1..8),
            a in 0u64..400,
            b in 0u64..400,
        ) {
            let t = table(&sizes);
            let total = t.size();
            let (start, end) = (a.min(b).min(total), a.max(b).min(total));
            let pieces = t.pieces(start..end);
            let covered: u64 = pieces.iter().map(|p| p.range.end - p.range.start).sum();
            prop_assert_eq!(covered, end - start);
            prop_assert!(pieces.iter().all(|p| p.range.start < p.range.end));
            prop_assert!(pieces.iter().all(|p| p.range.end <= p.part.size));
        }
    }
}
