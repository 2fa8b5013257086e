//! Who may do what, end to end: root makes users, groups, access keys and policies through the
//! IAM API with aws-cli, then aws-cli and boto3 act as those users against S3, KMS and IAM. Each
//! test starts its own folder gateway (authorization does not depend on the backend); objects
//! are put and read back as root with the harness client, which sees what the user could not
//! change.

use sealgate_tests::tools::{Env, describe, root_arn, user_arn};
use sealgate_tests::{Kind, Target};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Output;

#[tokio::test]
async fn read_only_user_reads_but_cannot_write() {
    read_only(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn prefix_scoped_user_sees_only_its_prefix() {
    prefix_scoped(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn objects_need_the_master_key_permission_too() {
    kms_permission(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn explicit_deny_beats_every_allow() {
    explicit_deny(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn bucket_policy_grants_and_revokes() {
    bucket_policy(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn key_policy_keeps_a_master_key_to_one_user() {
    key_policy(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn source_ip_conditions() {
    source_ip(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn inactive_and_deleted_access_keys_stop_at_once() {
    access_keys(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn boto3_user_and_iam_calls() {
    let t = Target::start(Kind::Folder);
    let bucket = t.bucket().await;
    let out = t.env().python("boto3_access.py", &[&bucket, "erin"]);
    assert_eq!(out.trim(), "ok");
}

#[tokio::test]
async fn iam_calls_are_authorized_too() {
    iam_authorized(Target::start(Kind::Folder)).await;
}

/// A policy document of these statements.
fn document(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// Gives `user` the inline policy `name` (replacing one of that name).
fn put_user_policy(root: &Env, user: &str, name: &str, statements: Value) {
    let doc = document(statements);
    root.aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        user,
        "--policy-name",
        name,
        "--policy-document",
        &doc,
    ]);
}

/// Creates `name` with one access key and the inline policy `Access` of these statements.
fn user_with(root: &Env, name: &str, statements: Value) -> Env {
    let user = root.create_user(name);
    put_user_policy(root, name, "Access", statements);
    user
}

fn allow(action: Value, resource: Value) -> Value {
    json!({"Effect": "Allow", "Action": action, "Resource": resource})
}

fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

fn objects_arn(bucket: &str, prefix: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{prefix}*")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).expect("aws-cli prints JSON")
}

/// Asserts that aws-cli failed with this error code.
#[track_caller]
fn assert_refused(out: &Output, code: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains(&format!("({code})")),
        "expected {code}:\n{}",
        describe(out)
    );
}

#[track_caller]
fn assert_denied(out: &Output) {
    assert_refused(out, "AccessDenied");
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "expected success:\n{}", describe(out));
}

/// `aws s3api get-object` of `bucket/key` into a file, returning the output and the bytes.
fn get(env: &Env, dir: &Path, bucket: &str, key: &str) -> (Output, Vec<u8>) {
    let file = dir.join("got");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().expect("utf-8 path");
    let out = env.aws_status(&[
        "s3api",
        "get-object",
        "--bucket",
        bucket,
        "--key",
        key,
        path,
    ]);
    let bytes = std::fs::read(&file).unwrap_or_default();
    (out, bytes)
}

/// `aws s3api put-object` of `body` at `bucket/key`, with more arguments (SSE options).
fn put(env: &Env, dir: &Path, bucket: &str, key: &str, body: &[u8], more: &[&str]) -> Output {
    let file = dir.join("put");
    std::fs::write(&file, body).expect("write the body");
    let path = file.to_str().expect("utf-8 path");
    let args = [
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        key,
        "--body",
        path,
    ];
    env.aws_status(&[&args[..], more].concat())
}

fn delete(env: &Env, bucket: &str, key: &str) -> Output {
    env.aws_status(&["s3api", "delete-object", "--bucket", bucket, "--key", key])
}

/// The keys `aws s3api list-objects-v2` returns, or its failed output.
fn list(env: &Env, bucket: &str, prefix: Option<&str>) -> Result<Vec<String>, Output> {
    let mut args = vec!["s3api", "list-objects-v2", "--bucket", bucket];
    if let Some(prefix) = prefix {
        args.extend(["--prefix", prefix]);
    }
    let out = env.aws_status(&args);
    if !out.status.success() {
        return Err(out);
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new()); // aws-cli prints nothing for an empty listing
    }
    let listed = json_of(&out);
    let contents = listed["Contents"].as_array().cloned().unwrap_or_default();
    let keys = contents.iter().filter_map(|o| o["Key"].as_str());
    Ok(keys.map(str::to_owned).collect())
}

/// The ARN of a master key (`alias/...` or an id).
fn key_arn(root: &Env, key: &str) -> String {
    let described = json_of(&root.aws(&["kms", "describe-key", "--key-id", key]));
    described["KeyMetadata"]["Arn"]
        .as_str()
        .expect("KeyMetadata.Arn")
        .to_owned()
}

async fn read_only(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, "doc.txt", "original").await;
    let alice = user_with(
        &root,
        "alice",
        json!([
            allow(json!("s3:GetObject"), json!(objects_arn(&bucket, ""))),
            allow(json!("s3:ListBucket"), json!(bucket_arn(&bucket))),
            allow(json!("kms:Decrypt"), json!("*")),
        ]),
    );

    assert_eq!(list(&alice, &bucket, None).unwrap(), ["doc.txt"]);
    let (out, bytes) = get(&alice, dir.path(), &bucket, "doc.txt");
    assert_ok(&out);
    assert_eq!(bytes, b"original");
    let head = [
        "s3api",
        "head-object",
        "--bucket",
        &bucket,
        "--key",
        "doc.txt",
    ];
    assert_ok(&alice.aws_status(&head));
    assert_denied(&alice.aws_status(&["s3api", "list-buckets"]));

    assert_denied(&put(
        &alice,
        dir.path(),
        &bucket,
        "doc.txt",
        b"changed",
        &[],
    ));
    assert_denied(&put(&alice, dir.path(), &bucket, "new.txt", b"new", &[]));
    assert_denied(&delete(&alice, &bucket, "doc.txt"));

    assert_eq!(t.client.get_object(&bucket, "doc.txt").await, "original");
    assert_eq!(t.client.list_all(&bucket, "").await, ["doc.txt"]);
}

async fn prefix_scoped(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    for key in ["home/alice/a", "home/bob/b", "top"] {
        t.client.put_object(&bucket, key, key.to_owned()).await;
    }
    let list_own = json!({
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn(&bucket),
        "Condition": {"StringLike": {"s3:prefix": "home/alice/*"}},
    });
    let home = json!(objects_arn(&bucket, "home/alice/"));
    let alice = user_with(
        &root,
        "alice",
        json!([
            list_own,
            allow(json!(["s3:GetObject", "s3:PutObject"]), home),
            allow(json!(["kms:Decrypt", "kms:GenerateDataKey"]), json!("*")),
        ]),
    );

    let own = list(&alice, &bucket, Some("home/alice/")).unwrap();
    assert_eq!(own, ["home/alice/a"]);
    assert_denied(&list(&alice, &bucket, None).unwrap_err());
    assert_denied(&list(&alice, &bucket, Some("home/bob/")).unwrap_err());
    assert_denied(&list(&alice, &bucket, Some("home/")).unwrap_err());

    let (out, bytes) = get(&alice, dir.path(), &bucket, "home/alice/a");
    assert_ok(&out);
    assert_eq!(bytes, b"home/alice/a");
    assert_ok(&put(
        &alice,
        dir.path(),
        &bucket,
        "home/alice/new",
        b"mine",
        &[],
    ));
    assert_eq!(t.client.get_object(&bucket, "home/alice/new").await, "mine");

    assert_denied(&get(&alice, dir.path(), &bucket, "home/bob/b").0);
    assert_denied(&get(&alice, dir.path(), &bucket, "top").0);
    assert_denied(&put(&alice, dir.path(), &bucket, "home/bob/x", b"no", &[]));
    assert_denied(&put(&alice, dir.path(), &bucket, "home/alicex", b"no", &[]));
    outside_through_copies_and_uploads(&t, &alice, &bucket).await;
    let keys = t.client.list_all(&bucket, "").await;
    let want = [
        "home/alice/a",
        "home/alice/copy",
        "home/alice/new",
        "home/bob/b",
        "top",
    ];
    assert_eq!(keys, want);
}

/// Copies, multipart uploads and presigned URLs reach no further than plain GET and PUT.
async fn outside_through_copies_and_uploads(t: &Target, alice: &Env, bucket: &str) {
    let copy = |from: &str, to: &str| {
        let source = format!("{bucket}/{from}");
        let args = ["s3api", "copy-object", "--bucket", bucket, "--key", to];
        alice.aws_status(&[&args[..], &["--copy-source", &source]].concat())
    };
    assert_denied(&copy("home/bob/b", "home/alice/stolen"));
    assert_denied(&copy("home/alice/a", "home/bob/gift"));
    assert_ok(&copy("home/alice/a", "home/alice/copy"));

    let create = [
        "s3api",
        "create-multipart-upload",
        "--bucket",
        bucket,
        "--key",
    ];
    assert_denied(&alice.aws_status(&[&create[..], &["home/bob/mp"]].concat()));
    let created = json_of(&alice.aws(&[&create[..], &["home/alice/mp"]].concat()));
    let upload_id = created["UploadId"].as_str().expect("UploadId");
    let part_copy = |from: &str| {
        let source = format!("{bucket}/{from}");
        let args = [
            "s3api",
            "upload-part-copy",
            "--bucket",
            bucket,
            "--key",
            "home/alice/mp",
        ];
        let part = [
            "--upload-id",
            upload_id,
            "--part-number",
            "1",
            "--copy-source",
            &source,
        ];
        alice.aws_status(&[&args[..], &part].concat())
    };
    assert_denied(&part_copy("home/bob/b"));
    assert_ok(&part_copy("home/alice/a"));

    // A presigned URL carries the signer's permissions, no more.
    let presigned = |key: &str| {
        let out = alice.aws(&["s3", "presign", &format!("s3://{bucket}/{key}")]);
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let fetch = |url: String| t.client.url(http::Method::GET, &url).send();
    let own = fetch(presigned("home/alice/a")).await;
    assert_eq!(
        (own.status.as_u16(), own.text()),
        (200, "home/alice/a".to_owned())
    );
    let other = fetch(presigned("home/bob/b")).await;
    assert_eq!(other.status, 403, "{}", other.text());
    assert!(
        other.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        other.text()
    );
}

async fn kms_permission(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, "doc", "sealed").await;
    let default_key = key_arn(&root, "alias/sealgate-default");
    let other = json_of(&root.aws(&["kms", "create-key", "--description", "other"]));
    let other_key = other["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let objects = json!(objects_arn(&bucket, ""));
    let s3_only = allow(json!(["s3:GetObject", "s3:PutObject"]), objects);
    let alice = user_with(&root, "alice", json!([s3_only]));

    assert_denied(&get(&alice, dir.path(), &bucket, "doc").0);
    assert_denied(&put(&alice, dir.path(), &bucket, "new", b"x", &[]));

    // Permissions on another master key do not open this one.
    let on_other = allow(
        json!(["kms:Decrypt", "kms:GenerateDataKey"]),
        json!(other_key),
    );
    put_user_policy(&root, "alice", "Keys", json!([on_other]));
    assert_denied(&get(&alice, dir.path(), &bucket, "doc").0);
    assert_denied(&put(&alice, dir.path(), &bucket, "new", b"x", &[]));

    let decrypt = allow(json!("kms:Decrypt"), json!(default_key));
    put_user_policy(&root, "alice", "Keys", json!([decrypt]));
    let (out, bytes) = get(&alice, dir.path(), &bucket, "doc");
    assert_ok(&out);
    assert_eq!(bytes, b"sealed");
    assert_denied(&put(&alice, dir.path(), &bucket, "new", b"x", &[]));

    let both = allow(
        json!(["kms:Decrypt", "kms:GenerateDataKey"]),
        json!(default_key),
    );
    put_user_policy(&root, "alice", "Keys", json!([both]));
    assert_ok(&put(&alice, dir.path(), &bucket, "new", b"x", &[]));
    assert_eq!(t.client.get_object(&bucket, "new").await, "x");

    // Only through S3: the same permissions asked for directly are refused.
    let via_s3 = json!({
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": default_key,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    });
    put_user_policy(&root, "alice", "Keys", json!([via_s3]));
    assert_ok(&put(&alice, dir.path(), &bucket, "via", b"s3", &[]));
    let (out, bytes) = get(&alice, dir.path(), &bucket, "via");
    assert_ok(&out);
    assert_eq!(bytes, b"s3");
    let direct = [
        "kms",
        "generate-data-key",
        "--key-id",
        "alias/sealgate-default",
    ];
    let direct = alice.aws_status(&[&direct[..], &["--key-spec", "AES_256"]].concat());
    assert_refused(&direct, "AccessDeniedException");
}

async fn explicit_deny(t: Target) {
    let root = t.env();
    let bucket = t.bucket().await;
    for key in ["archive/a", "locked/l", "work/w"] {
        t.client.put_object(&bucket, key, "kept").await;
    }
    let alice = root.create_user("alice");

    // Everything through the group's inline policy.
    root.aws(&["iam", "create-group", "--group-name", "devs"]);
    let everything = document(json!([allow(json!(["s3:*", "kms:*"]), json!("*"))]));
    root.aws(&[
        "iam",
        "put-group-policy",
        "--group-name",
        "devs",
        "--policy-name",
        "Everything",
        "--policy-document",
        &everything,
    ]);
    root.aws(&[
        "iam",
        "add-user-to-group",
        "--group-name",
        "devs",
        "--user-name",
        "alice",
    ]);

    // Two managed denials: one attached to the user, one to the group.
    let deny_delete = |name: &str, prefix: &str| {
        let statement = json!({
            "Sid": "NoDelete",
            "Effect": "Deny",
            "Action": "s3:DeleteObject",
            "Resource": objects_arn(&bucket, prefix),
        });
        let doc = document(json!([statement]));
        let args = ["iam", "create-policy", "--policy-name", name];
        let created = json_of(&root.aws(&[&args[..], &["--policy-document", &doc]].concat()));
        created["Policy"]["Arn"]
            .as_str()
            .expect("Policy.Arn")
            .to_owned()
    };
    let archive = deny_delete("KeepArchive", "archive/");
    let locked = deny_delete("KeepLocked", "locked/");
    let attach_user = ["iam", "attach-user-policy", "--user-name", "alice"];
    root.aws(&[&attach_user[..], &["--policy-arn", &archive]].concat());
    let attach_group = ["iam", "attach-group-policy", "--group-name", "devs"];
    root.aws(&[&attach_group[..], &["--policy-arn", &locked]].concat());

    assert_denied(&delete(&alice, &bucket, "archive/a"));
    assert_denied(&delete(&alice, &bucket, "locked/l"));
    assert_ok(&delete(&alice, &bucket, "work/w"));
    assert_eq!(
        list(&alice, &bucket, None).unwrap(),
        ["archive/a", "locked/l"]
    );

    // The same through DeleteObjects: each key is decided on its own.
    let batch = r#"{"Objects":[{"Key":"archive/a"},{"Key":"other"}],"Quiet":false}"#;
    let out = alice.aws(&[
        "s3api",
        "delete-objects",
        "--bucket",
        &bucket,
        "--delete",
        batch,
    ]);
    let result = json_of(&out);
    assert_eq!(result["Errors"][0]["Key"], "archive/a", "{result}");
    assert_eq!(result["Errors"][0]["Code"], "AccessDenied", "{result}");
    assert_eq!(result["Deleted"][0]["Key"], "other", "{result}");
    assert_eq!(t.client.get_object(&bucket, "archive/a").await, "kept");
}

async fn bucket_policy(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, "shared", "for bob").await;
    let decrypt = allow(json!("kms:Decrypt"), json!("*"));
    let bob = user_with(&root, "bob", json!([decrypt.clone()]));
    let carol = user_with(&root, "carol", json!([decrypt]));
    assert_denied(&get(&bob, dir.path(), &bucket, "shared").0);

    let policy = document(json!([{
        "Sid": "BobReads",
        "Effect": "Allow",
        "Principal": {"AWS": user_arn("bob")},
        "Action": "s3:GetObject",
        "Resource": objects_arn(&bucket, ""),
    }]));
    let on_bucket = ["s3api", "put-bucket-policy", "--bucket", &bucket];
    root.aws(&[&on_bucket[..], &["--policy", &policy]].concat());
    let got = json_of(&root.aws(&["s3api", "get-bucket-policy", "--bucket", &bucket]));
    let stored: Value = serde_json::from_str(got["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(stored["Statement"][0]["Sid"], "BobReads", "{stored}");

    let (out, bytes) = get(&bob, dir.path(), &bucket, "shared");
    assert_ok(&out);
    assert_eq!(bytes, b"for bob");
    assert_denied(&get(&carol, dir.path(), &bucket, "shared").0);
    assert_denied(&delete(&bob, &bucket, "shared"));

    root.aws(&["s3api", "delete-bucket-policy", "--bucket", &bucket]);
    assert_denied(&get(&bob, dir.path(), &bucket, "shared").0);
    let gone = root.aws_status(&["s3api", "get-bucket-policy", "--bucket", &bucket]);
    assert_refused(&gone, "NoSuchBucketPolicy");
}

async fn key_policy(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    let everything = || json!([allow(json!(["s3:*", "kms:*"]), json!("*"))]);
    let alice = user_with(&root, "alice", everything());
    let carol = user_with(&root, "carol", everything());

    let policy = document(json!([
        {
            "Sid": "RootAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": root_arn()},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "OnlyAlice",
            "Effect": "Deny",
            "NotPrincipal": {"AWS": [user_arn("alice"), root_arn()]},
            "Action": "kms:*",
            "Resource": "*",
        },
    ]));
    let created = json_of(&root.aws(&["kms", "create-key", "--policy", &policy]));
    let key = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let sse = [
        "--server-side-encryption",
        "aws:kms",
        "--ssekms-key-id",
        &key,
    ];

    assert_ok(&put(&alice, dir.path(), &bucket, "alice", b"hers", &sse));
    let (out, bytes) = get(&alice, dir.path(), &bucket, "alice");
    assert_ok(&out);
    assert_eq!(bytes, b"hers");

    assert_denied(&put(&carol, dir.path(), &bucket, "carol", b"no", &sse));
    assert_denied(&get(&carol, dir.path(), &bucket, "alice").0);
    let encrypt = [
        "kms",
        "encrypt",
        "--key-id",
        &key,
        "--plaintext",
        "aGVsbG8=",
    ];
    assert_refused(&carol.aws_status(&encrypt), "AccessDeniedException");
    assert_ok(&alice.aws_status(&encrypt));

    // Carol's own permissions still hold for the default master key.
    assert_ok(&put(&carol, dir.path(), &bucket, "carol", b"plain", &[]));
    assert_eq!(t.client.list_all(&bucket, "").await, ["alice", "carol"]);

    // The policy read back is the one given; root can replace it.
    let got = root.aws(&[
        "kms",
        "get-key-policy",
        "--key-id",
        &key,
        "--policy-name",
        "default",
    ]);
    assert!(json_of(&got).to_string().contains("OnlyAlice"));
    let open = document(json!([{
        "Effect": "Allow",
        "Principal": {"AWS": root_arn()},
        "Action": "kms:*",
        "Resource": "*",
    }]));
    let replace = [
        "kms",
        "put-key-policy",
        "--key-id",
        &key,
        "--policy-name",
        "default",
    ];
    root.aws(&[&replace[..], &["--policy", &open]].concat());
    assert_ok(&carol.aws_status(&encrypt));
}

async fn source_ip(t: Target) {
    let (root, dir) = (t.env(), tempfile::tempdir().unwrap());
    let bucket = t.bucket().await;
    t.client.put_object(&bucket, "doc", "local").await;
    let objects = objects_arn(&bucket, "");
    let decrypt = allow(json!("kms:Decrypt"), json!("*"));
    let alice = user_with(&root, "alice", json!([decrypt]));
    let read_from = |condition: Value| {
        json!([{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects,
            "Condition": condition,
        }])
    };
    let deny_unless = |network: &str| {
        json!([
            allow(json!("s3:GetObject"), json!(objects)),
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": network}},
            },
        ])
    };
    let reads = |statements: Value| {
        put_user_policy(&root, "alice", "Network", statements);
        let (out, bytes) = get(&alice, dir.path(), &bucket, "doc");
        (out.status.success() && bytes == b"local")
            .then_some(())
            .ok_or(out)
    };

    let loopback = json!({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}});
    reads(read_from(loopback)).unwrap();
    let private = json!({"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}});
    assert_denied(&reads(read_from(private)).unwrap_err());
    reads(deny_unless("127.0.0.0/8")).unwrap();
    assert_denied(&reads(deny_unless("10.0.0.0/8")).unwrap_err());

    // The listener is plain HTTP: a policy that asks for TLS refuses it.
    let tls_only = json!([
        allow(json!("s3:GetObject"), json!(objects)),
        {
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]);
    assert_denied(&reads(tls_only).unwrap_err());
}

async fn access_keys(t: Target) {
    let root = t.env();
    let bucket = t.bucket().await;
    let lists = allow(json!("s3:ListBucket"), json!(bucket_arn(&bucket)));
    let alice = user_with(&root, "alice", json!([lists]));
    let id = alice.creds.access_key_id.clone();
    let set_status = |status: &str| {
        let args = ["iam", "update-access-key", "--user-name", "alice"];
        root.aws(&[&args[..], &["--access-key-id", &id, "--status", status]].concat());
    };

    list(&alice, &bucket, None).unwrap();
    set_status("Inactive");
    let keys = json_of(&root.aws(&["iam", "list-access-keys", "--user-name", "alice"]));
    assert_eq!(keys["AccessKeyMetadata"][0]["Status"], "Inactive", "{keys}");
    let refused = list(&alice, &bucket, None).unwrap_err();
    assert_refused(&refused, "InvalidAccessKeyId");
    let kms = alice.aws_status(&["kms", "list-keys"]);
    assert_refused(&kms, "UnrecognizedClientException");
    assert_refused(
        &alice.aws_status(&["iam", "list-users"]),
        "InvalidClientTokenId",
    );
    set_status("Active");
    list(&alice, &bucket, None).unwrap();

    let args = ["iam", "delete-access-key", "--user-name", "alice"];
    root.aws(&[&args[..], &["--access-key-id", &id]].concat());
    assert_refused(
        &list(&alice, &bucket, None).unwrap_err(),
        "InvalidAccessKeyId",
    );
    let keys = json_of(&root.aws(&["iam", "list-access-keys", "--user-name", "alice"]));
    assert_eq!(keys["AccessKeyMetadata"], json!([]), "{keys}");
}

async fn iam_authorized(t: Target) {
    let root = t.env();
    let alice = root.create_user("alice");
    assert_denied(&alice.aws_status(&["iam", "create-user", "--user-name", "mallory"]));
    assert_denied(&alice.aws_status(&["iam", "list-users"]));

    let creates = allow(json!("iam:CreateUser"), json!(user_arn("*")));
    put_user_policy(&root, "alice", "Creates", json!([creates]));
    alice.aws(&["iam", "create-user", "--user-name", "mallory"]);

    // Creating users does not let her give herself more.
    let everything = document(json!([allow(json!("*"), json!("*"))]));
    let escalate = [
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "Everything",
        "--policy-document",
        &everything,
    ];
    assert_denied(&alice.aws_status(&escalate));
    assert_denied(&alice.aws_status(&["iam", "create-access-key", "--user-name", "mallory"]));

    let users = json_of(&root.aws(&["iam", "list-users"]));
    let names: Vec<_> = users["Users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["UserName"].as_str())
        .collect();
    assert_eq!(names, ["alice", "mallory"]);
}
