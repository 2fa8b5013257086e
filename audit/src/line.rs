//! The frozen line formats: event lines, seal lines and the hash chain that links them.
//!
//! Every line is one compact JSON object and a `\n`. Every line carries `type`, `seq` and `prev`:
//! `seq` counts lines (events and seals) from 1, contiguous across files; `prev` is the lowercase
//! hex SHA-256 of the previous line's bytes without its newline ([`GENESIS`] for the first line
//! ever). An event line is `{"type":"event","seq":..,"prev":..,` then the [`Event`] fields. A
//! seal line is [`Seal`]'s fields in order after `"type":"seal"`, then `"mac"`: the hex
//! HMAC-SHA256 under the seal key of [`MAC_DOMAIN`] followed by the seal line's bytes without the
//! `mac` member. Do not change any of this: verification of old logs depends on it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Event, SealKey};

/// A SHA-256 hash of one line.
pub(crate) type Hash = [u8; 32];

/// What the first line ever chains to. Frozen.
pub(crate) const GENESIS: Hash = [0; 32];

/// Prefixed to the seal's bytes before the MAC, so the MAC can mean nothing else. Frozen.
pub(crate) const MAC_DOMAIN: &[u8] = b"sealgate-audit seal v1\n";

/// The hash of a line (without its newline).
pub(crate) fn hash(line: &[u8]) -> Hash {
    Sha256::digest(line).into()
}

/// The `type` of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    Event,
    Seal,
}

/// The members every line has; the rest of the line is ignored when decoding this.
#[derive(Debug, Deserialize)]
pub(crate) struct Head {
    #[serde(rename = "type")]
    pub kind: Kind,
    pub seq: u64,
    pub prev: String,
}

pub(crate) fn decode_head(line: &[u8]) -> Result<Head, serde_json::Error> {
    serde_json::from_slice(line)
}

#[cfg(test)]
#[derive(Serialize)]
struct EventLine<'a> {
    #[serde(rename = "type")]
    kind: Kind,
    seq: u64,
    prev: String,
    #[serde(flatten)]
    event: &'a Event,
}

/// An event's own members as one JSON object: what [`event_line`] completes. Serialised before
/// the writer takes its lock, so appends from many threads wait on each other only for the
/// chain and the write.
pub(crate) fn encode_body(event: &Event) -> Result<Vec<u8>, Error> {
    serde_json::to_vec(event).map_err(|source| Error::Encode { source })
}

/// The event line of `body` (from [`encode_body`]) at `seq` after `prev`, with its newline:
/// byte for byte what [`encode_event`] writes.
pub(crate) fn event_line(seq: u64, prev: &Hash, body: &[u8]) -> Vec<u8> {
    let members = body.get(1..).unwrap_or_default();
    let mut line = Vec::with_capacity(members.len() + 120);
    line.extend_from_slice(b"{\"type\":\"event\",\"seq\":");
    line.extend_from_slice(seq.to_string().as_bytes());
    line.extend_from_slice(b",\"prev\":\"");
    line.extend_from_slice(hex::encode(prev).as_bytes());
    line.extend_from_slice(b"\",");
    line.extend_from_slice(members);
    line.push(b'\n');
    line
}

/// An event line, with its newline.
#[cfg(test)]
pub(crate) fn encode_event(seq: u64, prev: &Hash, event: &Event) -> Result<Vec<u8>, Error> {
    let line = EventLine {
        kind: Kind::Event,
        seq,
        prev: hex::encode(prev),
        event,
    };
    with_newline(&line)
}

/// The fields of a seal line, in their frozen order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Seal {
    pub seq: u64,
    pub prev: String,
    /// The name of the file this seal closes.
    pub file: String,
    /// How many event lines the file holds.
    pub lines: u64,
    /// The seq of the file's first line (its name says the same).
    pub first_seq: u64,
    /// The hash of the line before the seal (equal to `prev`).
    pub last_hash: String,
    /// Written when reopening after a crash found the file unsealed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub recovered: bool,
    /// Bytes of a torn last line that recovery cut off.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub torn_bytes: u64,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

#[derive(Serialize)]
struct SealLine<'a> {
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(flatten)]
    seal: &'a Seal,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<&'a str>,
}

#[derive(Deserialize)]
struct MacOnly {
    mac: String,
}

fn seal_bytes(seal: &Seal, mac: Option<&str>) -> Result<Vec<u8>, Error> {
    let line = SealLine {
        kind: Kind::Seal,
        seal,
        mac,
    };
    serde_json::to_vec(&line).map_err(|source| Error::Encode { source })
}

fn mac_input(seal: &Seal) -> Result<Vec<u8>, Error> {
    let mut input = MAC_DOMAIN.to_vec();
    input.extend(seal_bytes(seal, None)?);
    Ok(input)
}

/// A seal line with its MAC, with its newline.
pub(crate) fn encode_seal(seal: &Seal, key: &SealKey) -> Result<Vec<u8>, Error> {
    let mac = hex::encode(key.mac(&mac_input(seal)?));
    let mut line = seal_bytes(seal, Some(&mac))?;
    line.push(b'\n');
    Ok(line)
}

/// A seal line's fields and its MAC (hex, unchecked).
pub(crate) fn decode_seal(line: &[u8]) -> Result<(Seal, String), serde_json::Error> {
    let seal: Seal = serde_json::from_slice(line)?;
    let mac: MacOnly = serde_json::from_slice(line)?;
    Ok((seal, mac.mac))
}

/// Whether `line` is exactly how this crate writes `seal` with `mac`: anything else was edited.
pub(crate) fn is_canonical(line: &[u8], seal: &Seal, mac: &str) -> bool {
    seal_bytes(seal, Some(mac)).is_ok_and(|bytes| bytes == line)
}

/// Whether `mac` (hex) is the seal key's MAC of `seal`.
pub(crate) fn mac_matches(seal: &Seal, mac: &str, key: &SealKey) -> bool {
    let (Ok(tag), Ok(input)) = (hex::decode(mac), mac_input(seal)) else {
        return false;
    };
    key.check(&input, &tag)
}

#[cfg(test)]
fn with_newline(value: &impl Serialize) -> Result<Vec<u8>, Error> {
    let mut line = serde_json::to_vec(value).map_err(|source| Error::Encode { source })?;
    line.push(b'\n');
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, Service};

    #[test]
    fn a_line_from_its_body_is_the_serialised_line() {
        let event = Event::new(Service::S3, "s3:GetObject", "REQ")
            .principal("arn:aws:iam::000000000000:user/a\"b")
            .object("bucket", "key with \u{e9} and \n")
            .decision(Decision::Deny)
            .bytes(1, 2);
        let prev = hash(b"previous line");
        let body = encode_body(&event).unwrap();
        for seq in [1, 42, u64::MAX] {
            assert_eq!(
                event_line(seq, &prev, &body),
                encode_event(seq, &prev, &event).unwrap()
            );
        }
    }
}
