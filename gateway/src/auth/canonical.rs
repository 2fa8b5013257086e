//! Our own SigV4 canonical request, for the requests aws-sigv4 cannot reproduce.
//!
//! Takes the request head, its [`SignedParts`] and the payload hash, and hands on the
//! canonical request and the string to sign exactly as the SigV4 specification builds them:
//! the path as sent, the query re-encoded from its raw bytes (so `+`, odd escapes and non-UTF-8
//! survive), and exactly the signed headers with their values trimmed, inner runs of spaces
//! collapsed and repeated values joined with `,`. [`super::sigv4`] decides which builder runs.

use http::request::Parts;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};

use super::parse::{ALGORITHM, Location, SignedParts};

/// Everything but the unreserved characters `A-Z a-z 0-9 - . _ ~` is escaped.
const QUERY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The canonical request of `parts` as the client must have built it.
pub(crate) fn canonical_request(
    parts: &Parts,
    signed: &SignedParts,
    payload_hash: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_path(parts).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(parts, &signed.location).as_bytes());
    out.push(b'\n');
    for name in &signed.signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(&header_value(parts, name));
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed.signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload_hash.as_bytes());
    out
}

/// `AWS4-HMAC-SHA256 \n time \n scope \n hex(SHA-256(canonical request))`.
pub(crate) fn string_to_sign(signed: &SignedParts, canonical: &[u8]) -> String {
    let scope = signed.scope.to_scope_string();
    let hash = hex::encode(Sha256::digest(canonical));
    format!("{ALGORITHM}\n{}\n{scope}\n{hash}", signed.amz_date)
}

/// The path exactly as sent (S3 neither normalises nor re-encodes it).
fn canonical_path(parts: &Parts) -> &str {
    match parts.uri.path() {
        "" => "/",
        path => path,
    }
}

/// The query's pairs, each side decoded then re-encoded, sorted; presigned URLs drop the
/// signature itself.
fn canonical_query(parts: &Parts, location: &Location) -> String {
    let raw = parts.uri.query().unwrap_or("");
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (reencode(k), reencode(v)))
        .filter(|(k, _)| !(matches!(location, Location::Query { .. }) && k == "X-Amz-Signature"))
        .collect();
    pairs.sort();
    let joined: Vec<String> = pairs.into_iter().map(|(k, v)| format!("{k}={v}")).collect();
    joined.join("&")
}

/// Decodes the raw bytes of a query component and escapes them canonically.
fn reencode(component: &str) -> String {
    let bytes: Vec<u8> = percent_decode_str(component).collect();
    percent_encode(&bytes, QUERY_ESCAPES).to_string()
}

/// All values of a signed header, trimmed and space-collapsed, joined with `,`.
fn header_value(parts: &Parts, name: &str) -> Vec<u8> {
    let values: Vec<Vec<u8>> = parts
        .headers
        .get_all(name)
        .iter()
        .map(|v| collapse_spaces(v.as_bytes()))
        .collect();
    if values.is_empty() && name == "host" {
        // HTTP/2 carries the host in the :authority pseudo-header.
        return parts
            .uri
            .authority()
            .map(|a| a.as_str().as_bytes().to_vec())
            .unwrap_or_default();
    }
    values.join(&b","[..])
}

/// Trims spaces at both ends and turns every inner run of spaces into one.
fn collapse_spaces(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    for word in value.split(|b| *b == b' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapses_spaces() {
        assert_eq!(collapse_spaces(b"  a   b  c "), b"a b c");
        assert_eq!(collapse_spaces(b""), b"");
    }

    #[test]
    fn reencodes_query_components() {
        assert_eq!(reencode("a+b"), "a%2Bb");
        assert_eq!(reencode("a%20b"), "a%20b");
        assert_eq!(reencode("%7e%2f"), "~%2F");
        assert_eq!(reencode("%ff"), "%FF");
        assert_eq!(reencode("caf%C3%A9"), "caf%C3%A9");
        assert_eq!(reencode("%zz"), "%25zz");
    }
}
