//! Bad requests, one table: each row is a request S3 refuses and the exact error code and HTTP
//! status it answers. A refused PUT must leave nothing visible.

use http::Method;
use sealgate_tests::data::{self, content_md5, sha256_hex};
use sealgate_tests::gateway::SECRET_ACCESS_KEY;
use sealgate_tests::{Creds, Payload, Req, Target, conformance, xml};
use std::time::{Duration, SystemTime};

conformance!(
    bad_requests_get_s3_errors,
    presigned_urls_work;
    gateway: unsupported_operation_is_not_implemented,
);

/// Who can tell a row's error: every S3 server, or only one that checks signatures.
#[derive(Clone, Copy, PartialEq)]
enum Needs {
    Any,
    Signatures,
}

/// One bad request.
struct Case {
    name: &'static str,
    needs: Needs,
    /// Whether moto (which skips some checks) answers it as S3 does.
    moto: bool,
    /// The key a refused PUT must not have created.
    put_key: Option<&'static str>,
    status: u16,
    code: &'static str,
    build: fn(&Target, &str) -> Req,
}

const PRESENT: &str = "present";
const BODY: &str = "the body of a refused put";

fn cases() -> Vec<Case> {
    use Needs::*;
    let case = |name, needs, moto, put_key, status, code, build| Case {
        name,
        needs,
        moto,
        put_key,
        status,
        code,
        build,
    };
    vec![
        case(
            "wrong signature",
            Signatures,
            false,
            Some("e1"),
            403,
            "SignatureDoesNotMatch",
            |t, b| {
                let wrong = Creds::new(&t.client.creds.access_key_id, "not-the-secret-0123456789");
                put(t, b, "e1").creds(wrong)
            },
        ),
        case(
            "unknown key id",
            Signatures,
            false,
            Some("e2"),
            403,
            "InvalidAccessKeyId",
            |t, b| put(t, b, "e2").creds(Creds::new("AKIDSEALGATEUNKNOWN0", SECRET_ACCESS_KEY)),
        ),
        case(
            "skewed date",
            Signatures,
            false,
            Some("e3"),
            403,
            "RequestTimeTooSkewed",
            |t, b| put(t, b, "e3").time(SystemTime::now() - Duration::from_secs(20 * 60)),
        ),
        case(
            "expired presigned URL",
            Signatures,
            false,
            None,
            403,
            "AccessDenied",
            |t, b| {
                let signed_at = SystemTime::now() - Duration::from_secs(2 * 3600);
                let url =
                    t.client
                        .presign(&Method::GET, b, PRESENT, Duration::from_secs(60), signed_at);
                t.client.url(Method::GET, &url)
            },
        ),
        case(
            "anonymous GET",
            Signatures,
            false,
            None,
            403,
            "AccessDenied",
            |t, b| t.client.get(b, PRESENT).anonymous(),
        ),
        case(
            "anonymous PUT",
            Signatures,
            false,
            Some("e4"),
            403,
            "AccessDenied",
            |t, b| put(t, b, "e4").anonymous(),
        ),
        case(
            "malformed Content-MD5",
            Any,
            false,
            Some("e5"),
            400,
            "InvalidDigest",
            |t, b| put(t, b, "e5").header("content-md5", "not base64 at all!"),
        ),
        case(
            "mismatched Content-MD5",
            Any,
            false,
            Some("e6"),
            400,
            "BadDigest",
            |t, b| put(t, b, "e6").header("content-md5", &content_md5(b"some other body")),
        ),
        case(
            "mismatched x-amz-content-sha256",
            Signatures,
            false,
            Some("e7"),
            400,
            "XAmzContentSHA256Mismatch",
            |t, b| put(t, b, "e7").payload(Payload::Declared(sha256_hex(b"some other body"))),
        ),
        case(
            "wrong region",
            Signatures,
            false,
            Some("e8"),
            400,
            "AuthorizationHeaderMalformed",
            |t, b| put(t, b, "e8").region("eu-west-3"),
        ),
        case(
            "missing bucket",
            Any,
            true,
            None,
            404,
            "NoSuchBucket",
            |t, _| t.client.get(&data::bucket_name("missing"), "k"),
        ),
        case("missing key", Any, true, None, 404, "NoSuchKey", |t, b| {
            t.client.get(b, "absent")
        }),
        case(
            "bad bucket name",
            Any,
            true,
            None,
            400,
            "InvalidBucketName",
            |t, _| t.client.put("x", ""),
        ),
        case(
            "key too long",
            Any,
            false,
            None,
            400,
            "KeyTooLongError",
            |t, b| t.client.put(b, &"k".repeat(1025)).body(BODY),
        ),
        case(
            "unsatisfiable range",
            Any,
            true,
            None,
            416,
            "InvalidRange",
            |t, b| t.client.get(b, PRESENT).header("range", "bytes=5000-6000"),
        ),
        case(
            "malformed XML in DeleteObjects",
            Any,
            false,
            None,
            400,
            "MalformedXML",
            |t, b| {
                let doc = "<Delete><Object><Key>present</Key></Object";
                let req = t.client.post(b, "").flag("delete").body(doc);
                req.header("content-md5", &content_md5(doc.as_bytes()))
            },
        ),
    ]
}

/// A PUT of [`BODY`] to `bucket/key`.
fn put(t: &Target, bucket: &str, key: &str) -> Req {
    t.client.put(bucket, key).body(BODY)
}

async fn bad_requests_get_s3_errors(t: Target) {
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, PRESENT, "0123456789").await;

    for case in cases() {
        if case.needs == Needs::Signatures && !t.checks_signatures() {
            continue;
        }
        if t.is_plain_moto() && !case.moto {
            continue;
        }
        check(&t, &bucket, &case).await;
    }
    assert_eq!(t.client.get_object(&bucket, PRESENT).await, "0123456789");
}

/// Sends the row's request and checks the error and that a refused PUT left nothing.
async fn check(t: &Target, bucket: &str, case: &Case) {
    let resp = (case.build)(t, bucket).send().await;

    let name = case.name;
    assert_eq!(resp.status, case.status, "{name}: {}", resp.describe());
    assert_eq!(
        resp.error_code().as_deref(),
        Some(case.code),
        "{name}: {}",
        resp.describe()
    );
    if t.is_gateway() {
        let id = xml::value(&resp.text(), "RequestId");
        assert!(
            id.is_some_and(|id| !id.is_empty()),
            "{name}: no RequestId: {}",
            resp.text()
        );
    }

    let Some(key) = case.put_key else { return };
    let head = t.client.head(bucket, key).send().await;
    assert_eq!(
        head.status,
        404,
        "{name}: the refused PUT is visible: {}",
        head.describe()
    );
    let listed = t.client.list_all(bucket, key).await;
    assert!(
        listed.is_empty(),
        "{name}: the refused PUT is listed: {listed:?}"
    );
}

async fn presigned_urls_work(t: Target) {
    let bucket = t.bucket().await;
    let (now, hour) = (SystemTime::now(), Duration::from_secs(3600));

    let put_url = t
        .client
        .presign(&Method::PUT, &bucket, "pre sig+ned", hour, now);
    let put = t
        .client
        .url(Method::PUT, &put_url)
        .body("presigned body")
        .send()
        .await;
    put.expect_status(200, "presigned PUT");

    let get_url = t
        .client
        .presign(&Method::GET, &bucket, "pre sig+ned", hour, now);
    let got = t.client.url(Method::GET, &get_url).send().await;
    assert_eq!(
        got.expect_status(200, "presigned GET").body,
        "presigned body"
    );
}

async fn unsupported_operation_is_not_implemented(t: Target) {
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, PRESENT, "x").await;

    let website = t.client.get(&bucket, "").flag("website").send().await;
    website.expect_error(501, "NotImplemented");
    let acl = t
        .client
        .put(&bucket, PRESENT)
        .flag("legal-hold")
        .body("<LegalHold/>")
        .send()
        .await;
    acl.expect_error(501, "NotImplemented");

    assert_eq!(t.client.get_object(&bucket, PRESENT).await, "x");
}
