//! Real clients are the proof: requests signed by botocore (boto3 1.43), captured after signing
//! by `fixtures/gen_botocore.py` into `fixtures/botocore.json`, verified here with their bodies.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::request::Parts;

use super::tests::{assert_clean, body, drain, request, settings, split_into, store};
use super::*;

const FIXTURES: &str = include_str!("fixtures/botocore.json");

struct Captured {
    name: String,
    parts: Parts,
    body: Vec<u8>,
    now: String,
}

fn fixtures() -> Vec<Captured> {
    let all: serde_json::Value = serde_json::from_str(FIXTURES).unwrap();
    all.as_array().unwrap().iter().map(captured).collect()
}

fn captured(value: &serde_json::Value) -> Captured {
    let text = |key: &str| value[key].as_str().unwrap().to_owned();
    let pairs: Vec<(String, String)> = value["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_owned(),
                h[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut headers: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The HTTP client adds Host from the URL when it sends the request.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        headers.push(("host", "127.0.0.1:8300"));
    }
    Captured {
        name: text("name"),
        parts: request(&text("method"), &text("uri"), &headers),
        body: BASE64.decode(text("body_b64")).unwrap(),
        now: text("now"),
    }
}

fn verify(fixture: &Captured, raw: &[u8]) -> Result<Vec<u8>, AuthError> {
    let settings = settings(&fixture.now);
    let who = if fixture.name.starts_with("kms") {
        futures::executor::block_on(authenticate_buffered(
            &fixture.parts,
            raw,
            &store(),
            &settings,
        ))?
    } else {
        futures::executor::block_on(authenticate(&fixture.parts, &store(), &settings))?
    };
    let verified = verify_body(&who, &fixture.parts, body(split_into(raw, &[1, 700, 4000])))?;
    match drain(verified) {
        (data, None) => Ok(data),
        (_, Some(error)) => Err(error),
    }
}

#[test]
fn every_botocore_request_verifies() {
    let fixtures = fixtures();
    assert_eq!(fixtures.len(), 12);
    for fixture in &fixtures {
        let data =
            verify(fixture, &fixture.body).unwrap_or_else(|e| panic!("{}: {e}", fixture.name));
        if fixture.name.ends_with("-empty") {
            assert!(data.is_empty());
        } else if fixture.name.contains("aws-chunked") {
            assert_clean((data, None), &b"Welcome to Sealgate. ".repeat(500));
        } else if !fixture.name.starts_with("kms") {
            assert_eq!(data, fixture.body, "{}", fixture.name);
        }
    }
}

#[test]
fn botocore_bodies_altered_in_one_byte_fail() {
    let with_payload = |f: &&Captured| !f.body.is_empty() && !f.name.ends_with("-empty");
    for fixture in fixtures().iter().filter(with_payload) {
        let mut altered = fixture.body.clone();
        // A payload byte: after the aws-chunked header line, or the first byte of a plain body.
        let at = altered
            .iter()
            .position(|b| *b == b'\n')
            .map_or(0, |i| i + 5)
            .min(altered.len() - 1);
        altered[at] ^= 0x20;
        let result = verify(fixture, &altered);
        let expected = match fixture.name.as_str() {
            n if n.contains("aws-chunked") => {
                matches!(result, Err(AuthError::ChecksumMismatch { .. }))
            }
            n if n.starts_with("kms") => {
                matches!(result, Err(AuthError::SignatureDoesNotMatch { .. }))
            }
            _ => matches!(result, Err(AuthError::ContentSha256Mismatch)),
        };
        assert!(expected, "{}: {result:?}", fixture.name);
    }
}

#[test]
fn botocore_requests_with_altered_heads_fail() {
    for fixture in fixtures() {
        let mut parts = fixture.parts;
        let uri = parts.uri.to_string();
        parts.uri = if uri.contains("X-Amz-Signature") {
            uri.replace("X-Amz-Expires=900", "X-Amz-Expires=901")
                .parse()
                .unwrap()
        } else {
            format!("{uri}{}", if uri.contains('?') { "&x=1" } else { "?x=1" })
                .parse()
                .unwrap()
        };
        let altered = Captured { parts, ..fixture };
        let result = verify(&altered, &altered.body);
        assert!(
            matches!(result, Err(AuthError::SignatureDoesNotMatch { .. })),
            "{}",
            altered.name
        );
    }
}
