//! The KMS API through aws-cli: `aws kms --endpoint-url` drives a master key's whole lifecycle
//! against the gateway (the KMS does not depend on the backend, so the folder alone is used).

use sealgate_tests::{Kind, Target};
use serde_json::Value;
use std::path::Path;

#[tokio::test]
async fn aws_cli_drives_the_key_lifecycle() {
    lifecycle(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn kms_errors_have_kms_shapes() {
    errors(Target::start(Kind::Folder)).await;
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("aws-cli prints JSON")
}

fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} in {value}"))
        .to_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    format!("fileb://{}", path.display())
}

/// Decrypts `blob` (a file) with `context`, returning the plaintext or the error's type.
fn decrypt(t: &Target, blob: &str, context: &str) -> Result<Vec<u8>, String> {
    let out = t.env().aws_status(&[
        "kms",
        "decrypt",
        "--ciphertext-blob",
        blob,
        "--encryption-context",
        context,
    ]);
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let plaintext = text(&json(&out), "/Plaintext");
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD
        .decode(plaintext)
        .unwrap())
}

async fn lifecycle(t: Target) {
    let env = t.env();
    let dir = tempfile::tempdir().unwrap();
    let kms = |args: &[&str]| json(&env.aws(&[&["kms"][..], args].concat()));

    let created = kms(&["create-key", "--description", "lifecycle test"]);
    let key_id = text(&created, "/KeyMetadata/KeyId");
    assert_eq!(text(&created, "/KeyMetadata/KeyState"), "Enabled");
    env.aws(&[
        "kms",
        "create-alias",
        "--alias-name",
        "alias/life",
        "--target-key-id",
        &key_id,
    ]);
    let described = kms(&["describe-key", "--key-id", "alias/life"]);
    assert_eq!(text(&described, "/KeyMetadata/KeyId"), key_id);
    assert_eq!(
        text(&described, "/KeyMetadata/Description"),
        "lifecycle test"
    );
    let listed = kms(&["list-aliases"]);
    assert!(listed.to_string().contains("alias/life"), "{listed}");

    // Encrypt and decrypt, with the context bound.
    let secret = b"the launch codes";
    let plaintext = write(dir.path(), "plain", secret);
    let encrypted = kms(&[
        "encrypt",
        "--key-id",
        "alias/life",
        "--plaintext",
        &plaintext,
        "--encryption-context",
        "purpose=test",
    ]);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let blob_bytes = b64.decode(text(&encrypted, "/CiphertextBlob")).unwrap();
    let blob = write(dir.path(), "blob", &blob_bytes);
    assert_eq!(decrypt(&t, &blob, "purpose=test").unwrap(), secret);
    let wrong = decrypt(&t, &blob, "purpose=other").unwrap_err();
    assert!(wrong.contains("InvalidCiphertextException"), "{wrong}");

    // Data keys: the plaintext and the blob describe the same key.
    let data_key = kms(&[
        "generate-data-key",
        "--key-id",
        &key_id,
        "--key-spec",
        "AES_256",
    ]);
    let plain = b64.decode(text(&data_key, "/Plaintext")).unwrap();
    assert_eq!(plain.len(), 32);
    let data_blob = b64.decode(text(&data_key, "/CiphertextBlob")).unwrap();
    let data_blob = write(dir.path(), "data-blob", &data_blob);
    let opened = t
        .env()
        .aws(&["kms", "decrypt", "--ciphertext-blob", &data_blob]);
    assert_eq!(
        b64.decode(text(&json(&opened), "/Plaintext")).unwrap(),
        plain
    );
    let without = kms(&[
        "generate-data-key-without-plaintext",
        "--key-id",
        &key_id,
        "--number-of-bytes",
        "64",
    ]);
    assert!(without.get("Plaintext").is_none(), "{without}");

    // Rotation: the old ciphertext keeps decrypting.
    env.aws(&["kms", "enable-key-rotation", "--key-id", &key_id]);
    let status = kms(&["get-key-rotation-status", "--key-id", &key_id]);
    assert_eq!(status["KeyRotationEnabled"], Value::Bool(true), "{status}");
    // Debian's aws-cli predates RotateKeyOnDemand (2024); PyPI's has it.
    let rotate = ["kms", "rotate-key-on-demand", "--key-id", &key_id];
    let rotated =
        env.aws_status(&rotate).status.success() || env.aws_pypi(&rotate).status.success();
    assert!(rotated);
    let rotations = json(&env.aws_pypi(&["kms", "list-key-rotations", "--key-id", &key_id]));
    assert!(rotations.to_string().contains("ON_DEMAND"), "{rotations}");
    assert_eq!(decrypt(&t, &blob, "purpose=test").unwrap(), secret);
    let reencrypted = kms(&[
        "re-encrypt",
        "--ciphertext-blob",
        &blob,
        "--source-encryption-context",
        "purpose=test",
        "--destination-key-id",
        "alias/life",
    ]);
    assert!(reencrypted.get("CiphertextBlob").is_some(), "{reencrypted}");

    // Disabled keys decrypt nothing; enabled again, they do.
    env.aws(&["kms", "disable-key", "--key-id", &key_id]);
    let disabled = decrypt(&t, &blob, "purpose=test").unwrap_err();
    assert!(disabled.contains("DisabledException"), "{disabled}");
    env.aws(&["kms", "enable-key", "--key-id", &key_id]);
    assert_eq!(decrypt(&t, &blob, "purpose=test").unwrap(), secret);

    // Deletion needs a disabled key, and can be cancelled.
    let refused = env.aws_status(&["kms", "schedule-key-deletion", "--key-id", &key_id]);
    assert!(
        !refused.status.success(),
        "an enabled key was scheduled for deletion"
    );
    env.aws(&["kms", "disable-key", "--key-id", &key_id]);
    let scheduled = kms(&[
        "schedule-key-deletion",
        "--key-id",
        &key_id,
        "--pending-window-in-days",
        "7",
    ]);
    assert_eq!(text(&scheduled, "/KeyState"), "PendingDeletion");
    env.aws(&["kms", "cancel-key-deletion", "--key-id", &key_id]);
    let after = kms(&["describe-key", "--key-id", &key_id]);
    assert_eq!(text(&after, "/KeyMetadata/KeyState"), "Disabled");
    let random = kms(&["generate-random", "--number-of-bytes", "16"]);
    assert_eq!(b64.decode(text(&random, "/Plaintext")).unwrap().len(), 16);
}

async fn errors(t: Target) {
    let endpoint = t.gateway().endpoint.clone();

    // Unsigned: refused with KMS's own error shape and type.
    let resp = reqwest::Client::new()
        .post(&endpoint)
        .header("x-amz-target", "TrentService.ListKeys")
        .header("content-type", "application/x-amz-json-1.1")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(
        body["__type"], "MissingAuthenticationTokenException",
        "{body}"
    );

    let env = t.env();
    let missing = env.aws_status(&["kms", "describe-key", "--key-id", "alias/none"]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("NotFoundException"), "{stderr}");
    let bad = env.aws_status(&[
        "kms",
        "generate-data-key",
        "--key-id",
        "alias/sealgate-default",
        "--number-of-bytes",
        "2000",
    ]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("ValidationException"), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// SSE-KMS on S3, on both backends

sealgate_tests::gateway_only!(
    sse_kms_objects_follow_their_master_keys,
    aws_cli_uploads_under_a_chosen_key,
    bucket_default_encryption_applies_to_plain_puts,
    rewrap_moves_objects_under_another_key,
    boto3_uploads_under_two_master_keys,
);

/// A new master key through the KMS API; returns its id and ARN.
fn new_key(t: &Target, description: &str) -> (String, String) {
    let out = t
        .env()
        .aws(&["kms", "create-key", "--description", description]);
    let created = json(&out);
    (
        text(&created, "/KeyMetadata/KeyId"),
        text(&created, "/KeyMetadata/Arn"),
    )
}

async fn sse_kms_objects_follow_their_master_keys(t: Target) {
    let bucket = t.bucket().await;
    let (a, a_arn) = new_key(&t, "key a");
    let (b, b_arn) = new_key(&t, "key b");
    use base64::Engine;
    let context = base64::engine::general_purpose::STANDARD.encode(br#"{"tenant":"blue"}"#);
    let content = sealgate_tests::data::body(100_000);
    let put = |key: &'static str, master: String, context: Option<String>| {
        let mut req = t
            .client
            .put(&bucket, key)
            .header("x-amz-server-side-encryption", "aws:kms")
            .header("x-amz-server-side-encryption-aws-kms-key-id", &master)
            .body(content.clone());
        if let Some(context) = &context {
            req = req.header("x-amz-server-side-encryption-context", context);
        }
        req.send()
    };

    let put_a = put("under-a", a.clone(), None)
        .await
        .expect_status(200, "PUT under a");
    put("under-b", b.clone(), Some(context.clone()))
        .await
        .expect_status(200, "PUT under b");

    assert_eq!(
        put_a.header("x-amz-server-side-encryption"),
        Some("aws:kms")
    );
    assert_eq!(
        put_a.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(a_arn.as_str())
    );
    let etag = put_a.header("etag").unwrap().to_owned();
    assert_ne!(
        etag,
        sealgate_tests::data::etag_of(&content),
        "no MD5 for SSE-KMS"
    );
    let head_b = t
        .client
        .head(&bucket, "under-b")
        .send()
        .await
        .expect_status(200, "HEAD b");
    assert_eq!(
        head_b.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(b_arn.as_str())
    );
    assert_eq!(
        head_b.header("x-amz-server-side-encryption-context"),
        Some(context.as_str())
    );
    assert_eq!(t.client.get_object(&bucket, "under-a").await, content);
    assert_eq!(t.client.get_object(&bucket, "under-b").await, content);
    let head_a = t
        .client
        .head(&bucket, "under-a")
        .send()
        .await
        .expect_status(200, "HEAD a");
    assert_eq!(head_a.header("etag"), Some(etag.as_str()));

    // A disabled master key makes its objects unreadable, and only its own.
    t.env().aws(&["kms", "disable-key", "--key-id", &a]);
    t.client
        .get(&bucket, "under-a")
        .send()
        .await
        .expect_error(400, "KMS.DisabledException");
    assert_eq!(t.client.get_object(&bucket, "under-b").await, content);
    t.env().aws(&["kms", "enable-key", "--key-id", &a]);
    assert_eq!(t.client.get_object(&bucket, "under-a").await, content);

    // A copy may move an object under another master key; the body is not re-encrypted.
    t.client
        .put(&bucket, "moved")
        .header("x-amz-copy-source", &format!("{bucket}/under-a"))
        .header("x-amz-server-side-encryption", "aws:kms")
        .header("x-amz-server-side-encryption-aws-kms-key-id", &b)
        .send()
        .await
        .expect_status(200, "CopyObject to key b");
    let moved = t
        .client
        .head(&bucket, "moved")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(
        moved.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(b_arn.as_str())
    );
    assert_eq!(t.client.get_object(&bucket, "moved").await, content);
    let missing = t
        .client
        .put(&bucket, "nowhere")
        .header("x-amz-server-side-encryption", "aws:kms")
        .header("x-amz-server-side-encryption-aws-kms-key-id", "alias/none")
        .body("x")
        .send()
        .await;
    missing.expect_error(400, "KMS.NotFoundException");
}

async fn aws_cli_uploads_under_a_chosen_key(t: Target) {
    let (key, arn) = new_key(&t, "cli key");
    let env = t.env();
    let bucket = t.bucket().await;
    let dir = tempfile::tempdir().unwrap();
    let content = sealgate_tests::data::body(12 * 1024 * 1024 + 5);
    let file = dir.path().join("up.bin");
    std::fs::write(&file, &content).unwrap();
    let url = format!("s3://{bucket}/big.bin");

    let path = file.to_str().unwrap();
    env.aws(&[
        "s3",
        "cp",
        path,
        &url,
        "--sse",
        "aws:kms",
        "--sse-kms-key-id",
        &key,
    ]);

    let head = json(&env.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "big.bin",
    ]));
    assert_eq!(text(&head, "/ServerSideEncryption"), "aws:kms");
    assert_eq!(text(&head, "/SSEKMSKeyId"), arn);
    let down = dir.path().join("down.bin");
    env.aws(&["s3", "cp", &url, down.to_str().unwrap()]);
    assert!(std::fs::read(&down).unwrap() == content);
}

async fn bucket_default_encryption_applies_to_plain_puts(t: Target) {
    let bucket = t.bucket().await;
    let (key, arn) = new_key(&t, "bucket default");
    let encryption =
        |method: http::Method| t.client.request(method, &bucket, "").flag("encryption");

    encryption(http::Method::GET)
        .send()
        .await
        .expect_error(404, "ServerSideEncryptionConfigurationNotFoundError");
    let config = format!(
        "<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>\
         <SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>{key}</KMSMasterKeyID>\
         </ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"
    );
    encryption(http::Method::PUT)
        .body(config)
        .send()
        .await
        .expect_status(200, "PutBucketEncryption");
    let got = encryption(http::Method::GET)
        .send()
        .await
        .expect_status(200, "GetBucketEncryption")
        .text();
    assert!(got.contains(&key) && got.contains("aws:kms"), "{got}");

    t.client
        .put_object(&bucket, "plain", b"by default".to_vec())
        .await;
    let head = t
        .client
        .head(&bucket, "plain")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(head.header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert_eq!(
        head.header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some(arn.as_str())
    );
    t.client
        .put(&bucket, "asked")
        .header("x-amz-server-side-encryption", "AES256")
        .body("asked for AES256")
        .send()
        .await
        .expect_status(200, "PUT AES256");
    let asked = t
        .client
        .head(&bucket, "asked")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(asked.header("x-amz-server-side-encryption"), Some("AES256"));

    encryption(http::Method::DELETE)
        .send()
        .await
        .expect_status(204, "DeleteBucketEncryption");
    t.client
        .put_object(&bucket, "after", b"after".to_vec())
        .await;
    let after = t
        .client
        .head(&bucket, "after")
        .send()
        .await
        .expect_status(200, "HEAD");
    assert_eq!(after.header("x-amz-server-side-encryption"), Some("AES256"));
    assert_eq!(
        t.client.get_object(&bucket, "plain").await,
        b"by default".to_vec()
    );
}

/// Runs `sealgate rewrap` against the target's gateway; returns its summary line.
fn rewrap(t: &Target, args: &[&str]) -> String {
    let creds = sealgate_tests::Gateway::creds();
    let out = std::process::Command::new(sealgate_tests::gateway::binary())
        .arg("rewrap")
        .args(["--endpoint", &t.gateway().endpoint])
        .args(args)
        .env("AWS_ACCESS_KEY_ID", &creds.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret_access_key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "sealgate rewrap failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

async fn rewrap_moves_objects_under_another_key(t: Target) {
    let bucket = t.bucket().await;
    let (a, _) = new_key(&t, "old key");
    let (b, b_arn) = new_key(&t, "new key");
    let content = sealgate_tests::data::body(70_000);
    for name in ["dir/one", "dir/two", "three"] {
        t.client
            .put(&bucket, name)
            .header("x-amz-server-side-encryption", "aws:kms")
            .header("x-amz-server-side-encryption-aws-kms-key-id", &a)
            .header("x-amz-meta-name", name)
            .body(content.clone())
            .send()
            .await
            .expect_status(200, "PUT under the old key");
    }
    t.client.put_object(&bucket, "plain", content.clone()).await;

    let summary = rewrap(&t, &["--bucket", &bucket, "--key-id", &b]);

    assert!(summary.contains("rewrapped=4"), "{summary}");
    t.env().aws(&["kms", "disable-key", "--key-id", &a]);
    for name in ["dir/one", "dir/two", "three", "plain"] {
        let head = t
            .client
            .head(&bucket, name)
            .send()
            .await
            .expect_status(200, "HEAD");
        assert_eq!(
            head.header("x-amz-server-side-encryption-aws-kms-key-id"),
            Some(b_arn.as_str()),
            "{name}"
        );
        assert_eq!(t.client.get_object(&bucket, name).await, content, "{name}");
    }
    let kept = t.client.head(&bucket, "three").send().await;
    assert_eq!(
        kept.header("x-amz-meta-name"),
        Some("three"),
        "headers are kept"
    );

    // Without a key, each object stays under its own, re-wrapped under its newest version.
    let again = rewrap(&t, &["--bucket", &bucket, "--prefix", "dir/"]);
    assert!(again.contains("rewrapped=2"), "{again}");
    assert!(again.contains("last_key=dir/two"), "{again}");
}

async fn boto3_uploads_under_two_master_keys(t: Target) {
    let bucket = t.bucket().await;
    let out = t.env().python("boto3_sse_kms.py", &[&bucket]);
    assert!(out.contains("ok"), "{out}");
}
