//! Real S3 clients against every target: aws-cli (`s3` and `s3api` commands) and boto3 (plain
//! and aws-chunked uploads with CRC32 checksums, presigned URLs).

use sealgate_tests::data::{body, sha256_hex};
use sealgate_tests::{Target, conformance};
use serde_json::Value;
use std::path::Path;

conformance!(
    aws_cli_s3_commands,
    aws_cli_s3api_commands,
    boto3_plain_checksums,
    boto3_chunked_trailer_checksums,
    boto3_presigned_urls,
);

/// Writes `bytes` to `dir/name` and returns the path as a string.
fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write a test file");
    path.to_str().expect("UTF-8 path").to_owned()
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("aws-cli prints JSON")
}

async fn aws_cli_s3_commands(t: Target) {
    let env = t.env();
    let dir = tempfile::tempdir().unwrap();
    let bucket = sealgate_tests::data::bucket_name("cli");
    let content = body(3 * 65536 + 17);
    let file = write(dir.path(), "up.bin", &content);

    env.aws(&["s3", "mb", &format!("s3://{bucket}")]);
    env.aws(&["s3", "cp", &file, &format!("s3://{bucket}/dir/up one.bin")]);
    let ls = env.aws(&["s3", "ls", &format!("s3://{bucket}/dir/")]);
    let listing = String::from_utf8_lossy(&ls.stdout);
    assert!(listing.contains("up one.bin") && listing.contains(&content.len().to_string()));

    let down = dir.path().join("down.bin");
    let down_s = down.to_str().unwrap();
    env.aws(&["s3", "cp", &format!("s3://{bucket}/dir/up one.bin"), down_s]);
    assert_eq!(
        sha256_hex(&std::fs::read(&down).unwrap()),
        sha256_hex(&content)
    );

    env.aws(&["s3", "rm", &format!("s3://{bucket}/dir/up one.bin")]);
    assert!(t.client.list_all(&bucket, "").await.is_empty());
    env.aws(&["s3", "rb", &format!("s3://{bucket}")]);
}

async fn aws_cli_s3api_commands(t: Target) {
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let content = body(200_000);
    let file = write(dir.path(), "obj", &content);

    let put = env.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        &bucket,
        "--key",
        "a/obj",
        "--body",
        &file,
        "--content-type",
        "text/x-test",
        "--metadata",
        "owner=tests",
    ]);
    let etag = json(&put)["ETag"].as_str().unwrap().to_owned();
    assert_eq!(etag, sealgate_tests::data::etag_of(&content));

    let part = dir.path().join("part");
    let get = env.aws(&[
        "s3api",
        "get-object",
        "--bucket",
        &bucket,
        "--key",
        "a/obj",
        "--range",
        "bytes=65530-65545",
        part.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read(&part).unwrap(), &content[65530..65546]);
    assert_eq!(json(&get)["ContentRange"], "bytes 65530-65545/200000");

    let head = json(&env.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "a/obj",
    ]));
    assert_eq!(head["ContentLength"], 200_000);
    assert_eq!(head["ContentType"], "text/x-test");
    assert_eq!(head["Metadata"]["owner"], "tests");

    s3api_list_and_delete(&env, &bucket);
}

/// `list-objects-v2` and `delete-objects` through aws-cli.
fn s3api_list_and_delete(env: &sealgate_tests::tools::Env, bucket: &str) {
    let args = [
        "s3api",
        "list-objects-v2",
        "--bucket",
        bucket,
        "--prefix",
        "a/",
    ];
    let listed = json(&env.aws(&args));
    assert_eq!(listed["Contents"][0]["Key"], "a/obj");
    assert_eq!(listed["Contents"][0]["Size"], 200_000);

    let delete = r#"{"Objects":[{"Key":"a/obj"},{"Key":"a/none"}]}"#;
    let out = env.aws(&[
        "s3api",
        "delete-objects",
        "--bucket",
        bucket,
        "--delete",
        delete,
    ]);
    assert_eq!(json(&out)["Deleted"].as_array().map(Vec::len), Some(2));
    let after = env.aws(&["s3api", "list-objects-v2", "--bucket", bucket]);
    let after = String::from_utf8_lossy(&after.stdout).into_owned();
    assert!(!after.contains("a/obj"), "{after}");
}

async fn boto3_plain_checksums(t: Target) {
    let bucket = t.bucket().await;
    let out = t.env().python("boto3_suite.py", &["plain", &bucket]);
    assert!(out.contains("plain: ok"), "{out}");
}

async fn boto3_chunked_trailer_checksums(t: Target) {
    let bucket = t.bucket().await;
    let out = t.env().python("boto3_suite.py", &["chunked", &bucket]);
    assert!(out.contains("chunked: ok"), "{out}");
}

async fn boto3_presigned_urls(t: Target) {
    let bucket = t.bucket().await;
    let out = t.env().python("boto3_suite.py", &["presign", &bucket]);
    assert!(out.contains("presign: ok"), "{out}");
}
