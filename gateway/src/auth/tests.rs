//! Tests of the whole authentication step: AWS documentation fixtures, requests signed by
//! botocore, signatures made with aws-sigv4 as a client, and bodies split at every position.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::request::Parts;
use http_body::Frame;
use http_body_util::StreamBody;

use super::chunked::{chunk_signature, trailer_signature};
use super::parse::{parse_amz_date, signed_parts};
use super::sigv4::{Builder, expected_signature, with_own_builder};
use super::*;

pub(super) const DOC_AKID: &str = "AKIAIOSFODNN7EXAMPLE";
pub(super) const DOC_SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

pub(super) fn store() -> StaticCredentials {
    StaticCredentials::new([Credential {
        access_key_id: DOC_AKID.into(),
        principal: Principal::Root,
        secret: SecretKey::new(DOC_SECRET),
    }])
}

pub(super) fn settings(now: &str) -> AuthSettings {
    AuthSettings {
        now: parse_amz_date(now).unwrap(),
        ..AuthSettings::new("us-east-1")
    }
}

pub(super) fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Parts {
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap().into_parts().0
}

pub(super) fn auth(parts: &Parts, now: &str) -> Result<Authenticated, AuthError> {
    futures::executor::block_on(authenticate(parts, &store(), &settings(now)))
}

pub(super) type TestBody =
    StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

/// A body that arrives in exactly these pieces.
pub(super) fn body(pieces: Vec<Bytes>) -> TestBody {
    let frames: Vec<_> = pieces.into_iter().map(|p| Ok(Frame::data(p))).collect();
    StreamBody::new(futures::stream::iter(frames))
}

/// Everything the stream hands on, and the error it ended with.
pub(super) fn drain(verified: VerifiedBody) -> (Vec<u8>, Option<AuthError>) {
    let items: Vec<_> = futures::executor::block_on(verified.stream.collect::<Vec<_>>());
    let mut data = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match item {
            Ok(bytes) => data.extend_from_slice(bytes),
            Err(_) => assert_eq!(i + 1, items.len(), "an error must be the last item"),
        }
    }
    let error = items.into_iter().find_map(Result::err);
    (data, error.map(|e| *e.downcast::<AuthError>().unwrap()))
}

pub(super) fn assert_clean(drained: (Vec<u8>, Option<AuthError>), expected: &[u8]) {
    assert!(drained.1.is_none(), "{:?}", drained.1);
    assert_eq!(drained.0, expected);
}

pub(super) fn split_into(data: &[u8], at: &[usize]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut start = 0;
    for &cut in at.iter().filter(|&&c| c <= data.len()) {
        if cut >= start {
            pieces.push(Bytes::copy_from_slice(&data[start..cut]));
            start = cut;
        }
    }
    pieces.push(Bytes::copy_from_slice(&data[start..]));
    pieces
}

// ---- AWS documentation: S3 header-signed examples (sig-v4-header-based-auth.html) ----

const DOC_DATE: &str = "20130524T000000Z";

fn doc_auth(signed: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={DOC_AKID}/20130524/us-east-1/s3/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    )
}

#[test]
fn s3_doc_get_object() {
    let authorization = doc_auth(
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
    let parts = request(
        "GET",
        "/test.txt",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DOC_DATE),
            ("authorization", &authorization),
        ],
    );
    let who = auth(&parts, DOC_DATE).unwrap();
    assert_eq!(
        (who.access_key_id.as_str(), who.principal.name()),
        (DOC_AKID, "root")
    );
    assert_eq!(who.service, "s3");
    assert_eq!(
        who.payload,
        Payload::Sha256(hex::decode(EMPTY_SHA256).unwrap().try_into().unwrap())
    );
    assert_builders_agree(&parts);
}

#[test]
fn s3_doc_put_object_signed_with_date_header() {
    let authorization = doc_auth(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    );
    let sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    let parts = request(
        "PUT",
        "/test%24file.text",
        &[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DOC_DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", sha),
            ("authorization", &authorization),
        ],
    );
    let who = auth(&parts, DOC_DATE).unwrap();
    let verified = verify_body(
        &who,
        &parts,
        body(vec![Bytes::from("Welcome to Amazon S3.")]),
    );
    assert_clean(drain(verified.unwrap()), b"Welcome to Amazon S3.");

    let verified = verify_body(
        &who,
        &parts,
        body(vec![Bytes::from("Welcome to Amazon S3!")]),
    );
    assert!(matches!(
        drain(verified.unwrap()).1,
        Some(AuthError::ContentSha256Mismatch)
    ));
}

#[test]
fn s3_doc_get_bucket_lifecycle_and_list_objects() {
    for (uri, signature) in [
        (
            "/?lifecycle",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
        (
            "/?max-keys=2&prefix=J",
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        ),
    ] {
        let authorization = doc_auth("host;x-amz-content-sha256;x-amz-date", signature);
        let parts = request(
            "GET",
            uri,
            &[
                ("host", "examplebucket.s3.amazonaws.com"),
                ("x-amz-content-sha256", EMPTY_SHA256),
                ("x-amz-date", DOC_DATE),
                ("authorization", &authorization),
            ],
        );
        auth(&parts, DOC_DATE).unwrap();
        assert_builders_agree(&parts);
    }
}

const DOC_PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=\
    AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z\
    &X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=\
    aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn s3_doc_presigned_get_and_its_expiry() {
    let parts = request(
        "GET",
        DOC_PRESIGNED,
        &[("host", "examplebucket.s3.amazonaws.com")],
    );
    let who = auth(&parts, "20130524T235959Z").unwrap();
    assert_eq!(who.payload, Payload::Unsigned);
    assert_builders_agree(&parts);

    assert!(matches!(
        auth(&parts, "20130525T000001Z"),
        Err(AuthError::Expired { .. })
    ));
    assert!(matches!(
        auth(&parts, "20130523T234000Z"),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));
    let tampered = DOC_PRESIGNED.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401");
    let parts = request(
        "GET",
        &tampered,
        &[("host", "examplebucket.s3.amazonaws.com")],
    );
    assert!(matches!(
        auth(&parts, DOC_DATE),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let extra = format!("{DOC_PRESIGNED}&x-id=GetObject");
    let parts = request("GET", &extra, &[("host", "examplebucket.s3.amazonaws.com")]);
    assert!(matches!(
        auth(&parts, DOC_DATE),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
}

/// Both builders, where aws-sigv4 can run, compute the same signature.
fn assert_builders_agree(parts: &Parts) {
    let signed = signed_parts(parts).unwrap();
    let secret = SecretKey::new(DOC_SECRET);
    let hash = parts
        .headers
        .get("x-amz-content-sha256")
        .map_or("UNSIGNED-PAYLOAD", |v| v.to_str().unwrap());
    let (chosen, builder) = expected_signature(parts, &signed, &secret, hash);
    assert_eq!(
        chosen,
        with_own_builder(parts, &signed, &secret, hash),
        "{builder:?}"
    );
    assert_eq!(chosen, signed.signature);
}

// ---- AWS documentation: the SigV4 test suite (service "service", body empty) ----

const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn suite_case(method: &str, uri: &str, extra: &[(&str, &str)], signed: &str, signature: &str) {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
         SignedHeaders={signed}, Signature={signature}"
    );
    let mut headers = vec![
        ("host", "example.amazonaws.com"),
        ("x-amz-date", "20150830T123600Z"),
    ];
    headers.extend_from_slice(extra);
    headers.push(("authorization", &authorization));
    let parts = request(method, uri, &headers);
    let signed_parts = signed_parts(&parts).unwrap();
    let secret = SecretKey::new(SUITE_SECRET);
    let own = with_own_builder(&parts, &signed_parts, &secret, EMPTY_SHA256);
    assert_eq!(own, signature, "own builder, {uri}");
    let (chosen, _) = expected_signature(&parts, &signed_parts, &secret, EMPTY_SHA256);
    assert_eq!(chosen, signature, "chosen builder, {uri}");
}

#[test]
fn sigv4_test_suite() {
    let vanilla = "host;x-amz-date";
    suite_case(
        "GET",
        "/",
        &[],
        vanilla,
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    );
    suite_case(
        "GET",
        "/?Param2=value2&Param1=value1",
        &[],
        vanilla,
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    );
    suite_case(
        "GET",
        "/?Param1=value1",
        &[],
        vanilla,
        "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    );
    suite_case(
        "GET",
        "/?%E1%88%B4=bar",
        &[],
        vanilla,
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    );
    suite_case(
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        &[],
        vanilla,
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    );
    suite_case(
        "POST",
        "/",
        &[],
        vanilla,
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    );
    suite_case(
        "GET",
        "/",
        &[("my-header1", " value1"), ("my-header2", " \"a   b   c\"")],
        "host;my-header1;my-header2;x-amz-date",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    );
}

// ---- Requests signed by aws-sigv4 as a client, checked by both builders ----

fn client_sign(parts: &mut Parts, body_hash: &str, presign: Option<u64>, now: &str) {
    use aws_sigv4::http_request::{
        SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
    };
    let identity =
        aws_credential_types::Credentials::new(DOC_AKID, DOC_SECRET, None, None, "t").into();
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = aws_sigv4::http_request::PercentEncodingMode::Single;
    settings.uri_path_normalization_mode =
        aws_sigv4::http_request::UriPathNormalizationMode::Disabled;
    if let Some(expires) = presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires));
    }
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(parse_amz_date(now).unwrap())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let uri = parts.uri.to_string();
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
        .collect();
    let signable = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers.into_iter(),
        SignableBody::Precomputed(body_hash.into()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut req = http::Request::from_parts(parts.clone(), ());
    instructions.apply_to_request_http1x(&mut req);
    *parts = req.into_parts().0;
}

const NOW: &str = "20261203T120000Z";

fn signed_request(method: &str, uri: &str, headers: &[(&str, &str)], hash: &str) -> Parts {
    let mut parts = request(method, uri, headers);
    parts
        .headers
        .insert("x-amz-content-sha256", hash.parse().unwrap());
    client_sign(&mut parts, hash, None, NOW);
    parts
}

#[test]
fn aws_sigv4_client_requests_verify() {
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: [Case; 4] = [
        (
            "GET",
            "/b/k%20%2B%E2%82%AC",
            vec![("host", "s3.local:8300")],
        ),
        (
            "GET",
            "/b?list-type=2&prefix=a%2Fb&delimiter=%2F",
            vec![("host", "s3.local")],
        ),
        (
            "PUT",
            "/b/dir//x/",
            vec![("host", "s3.local"), ("x-amz-meta-a", "one  two")],
        ),
        (
            "DELETE",
            "/b/..%2F.",
            vec![("host", "s3.local"), ("content-type", "text/plain")],
        ),
    ];
    for (method, uri, headers) in cases {
        let parts = signed_request(method, uri, &headers, "UNSIGNED-PAYLOAD");
        auth(&parts, NOW).unwrap_or_else(|e| panic!("{uri}: {e}"));
        let signed = signed_parts(&parts).unwrap();
        let secret = SecretKey::new(DOC_SECRET);
        let (_, builder) = expected_signature(&parts, &signed, &secret, "UNSIGNED-PAYLOAD");
        assert_eq!(builder, Builder::AwsSigv4, "{uri}");
        assert_eq!(
            with_own_builder(&parts, &signed, &secret, "UNSIGNED-PAYLOAD"),
            signed.signature
        );
    }
}

#[test]
fn presigned_put_by_aws_sigv4_client() {
    let mut parts = request(
        "PUT",
        "/b/up%20load?x-id=PutObject",
        &[("host", "s3.local")],
    );
    client_sign(&mut parts, "UNSIGNED-PAYLOAD", Some(300), NOW);
    assert!(parts.headers.get("authorization").is_none());
    let who = auth(&parts, NOW).unwrap();
    assert_eq!(who.payload, Payload::Unsigned);
    let verified = verify_body(&who, &parts, body(vec![Bytes::from("abc")])).unwrap();
    assert_clean(drain(verified), b"abc");
    assert!(matches!(
        auth(&parts, "20261203T120501Z"),
        Err(AuthError::Expired { .. })
    ));
}

// ---- Refusals ----

#[test]
fn refusals() {
    let parts = signed_request("GET", "/b/k", &[("host", "s3.local")], EMPTY_SHA256);
    assert!(auth(&parts, NOW).is_ok());
    assert!(auth(&parts, "20261203T121459Z").is_ok());
    assert!(matches!(
        auth(&parts, "20261203T121501Z"),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));
    assert!(matches!(
        auth(&parts, "20261203T114459Z"),
        Err(AuthError::RequestTimeTooSkewed { .. })
    ));

    let other_region = AuthSettings {
        now: parse_amz_date(NOW).unwrap(),
        ..AuthSettings::new("eu-west-1")
    };
    let result = futures::executor::block_on(authenticate(&parts, &store(), &other_region));
    assert!(matches!(result, Err(AuthError::WrongRegion { .. })));

    let empty = StaticCredentials::default();
    let result = futures::executor::block_on(authenticate(&parts, &empty, &settings(NOW)));
    assert!(matches!(result, Err(AuthError::InvalidAccessKeyId { .. })));

    let mut wrong_secret = parts.clone();
    let auth_header = wrong_secret.headers["authorization"]
        .to_str()
        .unwrap()
        .replace("Signature=", "Signature=0");
    let auth_header = auth_header[..auth_header.len() - 1].to_owned();
    wrong_secret
        .headers
        .insert("authorization", auth_header.parse().unwrap());
    assert!(matches!(
        auth(&wrong_secret, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn tampering_is_detected() {
    let parts = signed_request(
        "PUT",
        "/b/k?tagging",
        &[
            ("host", "s3.local"),
            ("x-amz-meta-a", "1"),
            ("content-type", "text/plain"),
        ],
        EMPTY_SHA256,
    );
    assert!(auth(&parts, NOW).is_ok());
    let mut tampered = parts.clone();
    tampered
        .headers
        .insert("x-amz-meta-a", "2".parse().unwrap());
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let mut tampered = parts.clone();
    tampered
        .headers
        .insert("content-type", "text/html".parse().unwrap());
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let mut tampered = parts.clone();
    tampered.uri = "/b/k?tagging=1".parse().unwrap();
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let mut tampered = parts.clone();
    tampered.uri = "/b/K?tagging".parse().unwrap();
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    let mut tampered = parts.clone();
    tampered
        .headers
        .insert("x-amz-meta-b", "added".parse().unwrap());
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::UnsignedHeader { .. })
    ));
    let mut tampered = parts;
    tampered
        .headers
        .insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
    assert!(matches!(
        auth(&tampered, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn anonymous_and_other_mechanisms() {
    assert!(matches!(
        auth(&request("GET", "/b/k", &[]), NOW),
        Err(AuthError::Anonymous)
    ));
    let v2 = request(
        "GET",
        "/b/k",
        &[(
            "authorization",
            "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=",
        )],
    );
    assert!(matches!(
        auth(&v2, NOW),
        Err(AuthError::UnsupportedMechanism { .. })
    ));
    let parts = request("GET", "/b/k", &[("host", "s3.local"), ("x-amz-date", NOW)]);
    let mut no_hash = parts;
    no_hash.headers.insert(
        "authorization",
        doc_auth("host;x-amz-date", &"0".repeat(64))
            .parse()
            .unwrap(),
    );
    assert!(matches!(
        auth(&no_hash, "20130524T000000Z"),
        Err(AuthError::MalformedAuthorization { .. })
    ));
}

#[test]
fn authenticated_debug_leaks_no_key() {
    let parts = signed_request("GET", "/b/k", &[("host", "s3.local")], EMPTY_SHA256);
    let who = auth(&parts, NOW).unwrap();
    let printed = format!("{who:?}");
    assert!(printed.contains("SigningKey(<redacted>)"));
    assert!(!printed.contains(DOC_SECRET));
    let printed = format!("{:?}", store());
    assert!(printed.contains("SecretKey(<redacted>)") && !printed.contains(DOC_SECRET));
    let for_tests = Authenticated::for_tests();
    let verified = verify_body(&for_tests, &request("PUT", "/b/k", &[]), body(vec![]));
    assert_clean(drain(verified.unwrap()), b"");
}

// ---- Bodies: payload hash, Content-MD5, lengths, checksum headers ----

fn put_with(headers: &[(&str, &str)], hash: &str) -> (Authenticated, Parts) {
    let mut all = vec![("host", "s3.local")];
    all.extend_from_slice(headers);
    let parts = signed_request("PUT", "/b/k", &all, hash);
    (auth(&parts, NOW).unwrap(), parts)
}

fn check_plain(headers: &[(&str, &str)], data: &[u8]) -> Result<Vec<u8>, AuthError> {
    let (who, parts) = put_with(headers, "UNSIGNED-PAYLOAD");
    let verified = verify_body(&who, &parts, body(split_into(data, &[1, 3])))?;
    match drain(verified) {
        (data, None) => Ok(data),
        (_, Some(error)) => Err(error),
    }
}

#[test]
fn content_md5_good_bad_malformed() {
    let md5 = "XUFAKrxLKna5cZ2REBfFkg=="; // MD5("hello")
    assert_eq!(
        check_plain(&[("content-md5", md5)], b"hello").unwrap(),
        b"hello"
    );
    assert!(matches!(
        check_plain(&[("content-md5", md5)], b"hellO"),
        Err(AuthError::BadDigest)
    ));
    assert!(matches!(
        check_plain(&[("content-md5", "XUFAKrxLKna5cZ2REBfF")], b"hello"),
        Err(AuthError::InvalidDigest)
    ));
    assert!(matches!(
        check_plain(&[("content-md5", "***")], b"hello"),
        Err(AuthError::InvalidDigest)
    ));
}

#[test]
fn checksum_headers_each_algorithm() {
    for (header, value) in [
        ("x-amz-checksum-crc32", "NhCmhg=="),
        ("x-amz-checksum-crc32c", "mnG7TA=="),
        ("x-amz-checksum-sha1", "qvTGHdzF6KLavt4PO0gs2a6pQ00="),
        (
            "x-amz-checksum-sha256",
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
        ),
        ("x-amz-checksum-crc64nvme", "M3eFcAZSQlc="),
        (
            "x-amz-checksum-sha512",
            "m3HSJL1i83hdltRq0+o9czGb+8KJDKra4t/3JRlnPKcjI8PZm6XBHXx6zG4UuMXaDEZjR1wuXDre9G9zvN7AQw==",
        ),
    ] {
        assert_eq!(
            check_plain(&[(header, value)], b"hello").unwrap(),
            b"hello",
            "{header}"
        );
        let result = check_plain(&[(header, value)], b"hellp");
        assert!(
            matches!(result, Err(AuthError::ChecksumMismatch { .. })),
            "{header}"
        );
    }
}

#[test]
fn declared_length_is_enforced() {
    assert!(matches!(
        check_plain(&[("content-length", "6")], b"hello"),
        Err(AuthError::IncompleteBody {
            expected: 6,
            received: 5
        })
    ));
    assert!(matches!(
        check_plain(&[("content-length", "4")], b"hello"),
        Err(AuthError::BodyTooLong { .. })
    ));
    assert_eq!(
        check_plain(&[("content-length", "5")], b"hello").unwrap(),
        b"hello"
    );
}

#[test]
fn transport_failure_is_a_body_error() {
    let (who, parts) = put_with(&[], "UNSIGNED-PAYLOAD");
    let frames: Vec<Result<Frame<Bytes>, std::io::Error>> = vec![
        Ok(Frame::data(Bytes::from("a"))),
        Err(std::io::Error::other("reset")),
    ];
    let broken = StreamBody::new(futures::stream::iter(frames));
    let (data, error) = drain(verify_body(&who, &parts, broken).unwrap());
    assert_eq!(data, b"a");
    assert!(matches!(error, Some(AuthError::Body { .. })));
}

// ---- aws-chunked: the S3 documentation example, signed with STREAMING-AWS4-HMAC-SHA256-PAYLOAD ----

const DOC_SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const DOC_CHUNK_SIGS: [&str; 3] = [
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
];

fn doc_chunked_parts() -> Parts {
    let authorization = doc_auth(
        "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;\
         x-amz-decoded-content-length;x-amz-storage-class",
        DOC_SEED,
    );
    request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        &[
            ("host", "s3.amazonaws.com"),
            ("x-amz-date", DOC_DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("authorization", &authorization),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
            ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"),
            ("content-length", "66824"),
        ],
    )
}

fn doc_chunked_body(signatures: [&str; 3]) -> Vec<u8> {
    let mut out = Vec::new();
    for (size, signature) in [
        (65536usize, signatures[0]),
        (1024, signatures[1]),
        (0, signatures[2]),
    ] {
        out.extend_from_slice(format!("{size:x};chunk-signature={signature}\r\n").as_bytes());
        out.extend(std::iter::repeat_n(b'a', size));
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[test]
fn s3_doc_chunked_upload_verifies_every_chunk() {
    let parts = doc_chunked_parts();
    let who = auth(&parts, DOC_DATE).unwrap();
    assert_eq!(who.payload, Payload::StreamingSigned);
    let raw = doc_chunked_body(DOC_CHUNK_SIGS);
    assert_eq!(raw.len(), 66824);
    for cuts in [
        vec![],
        vec![1],
        vec![87, 88, 89],
        vec![65623, 65624, 65625, 65626],
        vec![66739, 66740, 66822, 66823],
    ] {
        let verified = verify_body(&who, &parts, body(split_into(&raw, &cuts))).unwrap();
        assert_eq!(verified.decoded_length, Some(66560));
        let (data, error) = drain(verified);
        assert!(error.is_none(), "{cuts:?}: {error:?}");
        assert_eq!(data, vec![b'a'; 66560]);
    }
    // Each chunk signature is checked: alter one at a time.
    for which in 0..3 {
        let mut signatures = DOC_CHUNK_SIGS;
        let altered = signatures[which].replace('a', "b");
        signatures[which] = &altered;
        let raw = doc_chunked_body(signatures);
        let (_, error) = drain(verify_body(&who, &parts, body(vec![Bytes::from(raw)])).unwrap());
        assert!(
            matches!(error, Some(AuthError::SignatureDoesNotMatch { .. })),
            "{which}"
        );
    }
}

#[test]
fn chunk_signatures_match_aws_sigv4() {
    let parts = doc_chunked_parts();
    let who = auth(&parts, DOC_DATE).unwrap();
    let identity =
        aws_credential_types::Credentials::new(DOC_AKID, DOC_SECRET, None, None, "t").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(parse_amz_date(DOC_DATE).unwrap())
        .settings(())
        .build()
        .unwrap();
    let data = Bytes::from(vec![b'a'; 65536]);
    let theirs = aws_sigv4::sign::v4::sign_chunk(&data, DOC_SEED, &params).unwrap();
    let ours = chunk_signature(
        &who.chain,
        DOC_SEED,
        &hex::encode(sha2::Sha256::digest(&data)),
    );
    assert_eq!(
        (theirs.signature(), ours.as_str()),
        (DOC_CHUNK_SIGS[0], DOC_CHUNK_SIGS[0])
    );

    let mut headers = aws_smithy_runtime_api::http::Headers::new();
    headers.insert("x-amz-checksum-crc32c", "sOO8/Q==");
    let theirs = aws_sigv4::sign::v4::sign_trailer(&headers, DOC_CHUNK_SIGS[2], &params).unwrap();
    let trailers = vec![("x-amz-checksum-crc32c".to_owned(), "sOO8/Q==".to_owned())];
    let ours = trailer_signature(&who.chain, DOC_CHUNK_SIGS[2], &trailers);
    assert_eq!(theirs.signature(), ours);
}

use sha2::Digest as _;

// ---- Our own builder, for what aws-sigv4 cannot reproduce ----

fn builder_of(parts: &Parts, hash: &str) -> Builder {
    let signed = signed_parts(parts).unwrap();
    expected_signature(parts, &signed, &SecretKey::new(DOC_SECRET), hash).1
}

#[test]
fn repeated_headers_go_to_our_builder() {
    let mut parts = request(
        "PUT",
        "/b/k",
        &[
            ("host", "s3.local"),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", " 2   3 "),
        ],
    );
    parts
        .headers
        .insert("x-amz-content-sha256", "UNSIGNED-PAYLOAD".parse().unwrap());
    client_sign(&mut parts, "UNSIGNED-PAYLOAD", None, NOW);
    assert_eq!(builder_of(&parts, "UNSIGNED-PAYLOAD"), Builder::Own);
    auth(&parts, NOW).unwrap();
    parts.headers.append("x-amz-meta-a", "4".parse().unwrap());
    assert!(matches!(
        auth(&parts, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn literal_plus_and_raw_bytes_in_the_query_go_to_our_builder() {
    // The client signed `q=a%2Bb`; the same request may arrive with a literal `+`.
    let parts = signed_request("GET", "/b?q=a%2Bb", &[("host", "s3.local")], EMPTY_SHA256);
    assert_eq!(builder_of(&parts, EMPTY_SHA256), Builder::AwsSigv4);
    let mut plus = parts.clone();
    plus.uri = "/b?q=a+b".parse().unwrap();
    assert_eq!(builder_of(&plus, EMPTY_SHA256), Builder::Own);
    auth(&plus, NOW).unwrap();

    // An escape that is not UTF-8 keeps its byte in the canonical query.
    let raw = request(
        "GET",
        "/b?x=%ff&a",
        &[("host", "s3.local"), ("x-amz-date", NOW)],
    );
    let mut raw = raw;
    raw.headers.insert(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={DOC_AKID}/20261203/us-east-1/s3/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature={}",
            "0".repeat(64)
        )
        .parse()
        .unwrap(),
    );
    assert_eq!(builder_of(&raw, EMPTY_SHA256), Builder::Own);
    let signed = signed_parts(&raw).unwrap();
    let canonical = super::canonical::canonical_request(&raw, &signed, EMPTY_SHA256);
    let canonical = String::from_utf8(canonical).unwrap();
    assert!(
        canonical.starts_with("GET\n/b\na=&x=%FF\nhost:s3.local\n"),
        "{canonical}"
    );
}

#[test]
fn http2_authority_stands_in_for_host() {
    let parts = signed_request("GET", "/b/k", &[("host", "s3.local:8300")], EMPTY_SHA256);
    let mut h2 = parts.clone();
    h2.headers.remove("host");
    h2.uri = "http://s3.local:8300/b/k".parse().unwrap();
    auth(&h2, NOW).unwrap();
    h2.uri = "http://elsewhere:8300/b/k".parse().unwrap();
    assert!(matches!(
        auth(&h2, NOW),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
}

#[test]
fn buffered_bodies_for_kms() {
    let mut parts = request(
        "POST",
        "/",
        &[
            ("host", "s3.local"),
            ("x-amz-target", "TrentService.Encrypt"),
        ],
    );
    let json = br#"{"KeyId":"alias/x"}"#;
    let hash = hex::encode(sha2::Sha256::digest(json));
    client_sign(&mut parts, &hash, None, NOW);
    let run = |body: &[u8]| {
        futures::executor::block_on(authenticate_buffered(
            &parts,
            body,
            &store(),
            &settings(NOW),
        ))
    };
    run(json).unwrap();
    assert!(matches!(
        run(b"{}"),
        Err(AuthError::SignatureDoesNotMatch { .. })
    ));
    assert!(matches!(
        auth(&parts, NOW),
        Err(AuthError::MissingContentSha256)
    ));
}
