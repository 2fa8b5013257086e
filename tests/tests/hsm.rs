//! The HSM root of trust end to end, on SoftHSM2 tokens made for each test: master keys live in
//! the token and cannot be read out of it, the data dir holds nothing that opens without the
//! token, and a software-rooted installation moves onto the token with `sealgate migrate-root`
//! and `sealgate rewrap`. (The whole suite also runs a second time on SoftHSM2:
//! `SEALGATE_TEST_ROOT_OF_TRUST=pkcs11`, as the test script does.)

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sealgate_tests::gateway::{self, BackendKind, Gateway};
use sealgate_tests::hsm::SoftHsm;
use sealgate_tests::tools::{Env, describe};
use serde_json::Value;

/// `sealgate ARGS... --data-dir DIR` on `hsm`'s token.
fn sealgate(hsm: &SoftHsm, data_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(gateway::binary());
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SEALGATE_DATA_DIR");
    hsm.configure(&mut command);
    command.output().expect("run sealgate")
}

fn objects(hsm: &SoftHsm, data_dir: &Path) -> Vec<Value> {
    let out = sealgate(hsm, data_dir, &["hsm-objects"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", describe(out));
    serde_json::from_slice(&out.stdout).expect("aws-cli prints JSON")
}

#[tokio::test]
async fn master_keys_live_in_the_token_and_never_leave_it() {
    let mut g = Gateway::start_on(BackendKind::Folder, &[], Some(SoftHsm::create()));
    let env = g.env();
    let created = json(&env.aws(&["kms", "create-key", "--description", "in the token"]));
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    env.aws(&["kms", "enable-key-rotation", "--key-id", &key_id]);
    // Debian's aws-cli predates RotateKeyOnDemand.
    env.aws_pypi(&["kms", "rotate-key-on-demand", "--key-id", &key_id]);
    let client = g.client();
    client.create_bucket("hsm-bucket").await;
    client
        .put_object("hsm-bucket", "plain", "under the default key")
        .await;
    assert_eq!(
        client.get("hsm-bucket", "plain").send().await.body,
        "under the default key"
    );
    assert!(
        !g.data_dir().join("root.key").exists(),
        "no root key beside an HSM"
    );
    g.stop();

    let found = objects(g.hsm().unwrap(), g.data_dir());
    let labels: Vec<&str> = found.iter().map(|o| o["label"].as_str().unwrap()).collect();
    for version in ["v1", "v2"] {
        let label = format!("sealgate:{key_id}:{version}");
        assert!(labels.contains(&label.as_str()), "{label} in {labels:?}");
    }
    // The store key, the identity and audit keys, the default key and the two versions above.
    assert!(found.len() >= 6, "{labels:?}");
    for object in &found {
        assert_eq!(object["sensitive"], true, "{object}");
        assert_eq!(object["extractable"], false, "{object}");
        assert_eq!(object["value_readable"], false, "{object}");
    }
}

#[tokio::test]
async fn nothing_in_the_data_dir_opens_without_the_token() {
    let mut g = Gateway::start_on(BackendKind::Folder, &[], Some(SoftHsm::create()));
    let client = g.client();
    client.create_bucket("sealed").await;
    client.put_object("sealed", "k", "needs the token").await;
    g.stop();

    // The same data dir with another token: the key store's own key is not there.
    let other = SoftHsm::create();
    let mut serve = Command::new(gateway::binary());
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(g.data_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("SEALGATE_")) {
        serve.env_remove(name);
    }
    other.configure(&mut serve);
    let mut child = serve.spawn().expect("start sealgate");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("sealgate started on a data dir whose token is gone");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
}

#[tokio::test]
async fn a_software_installation_moves_onto_the_hsm() {
    let mut g = Gateway::start_on(BackendKind::Folder, &[], None);
    let env = g.env();
    let created = json(&env.aws(&["kms", "create-key", "--description", "app"]));
    let key_id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let client = g.client();
    client.create_bucket("moving").await;
    client
        .put_object("moving", "default", "under the default key")
        .await;
    let put = env.aws(&[
        "s3api",
        "put-object",
        "--bucket",
        "moving",
        "--key",
        "kms",
        "--server-side-encryption",
        "aws:kms",
        "--ssekms-key-id",
        &key_id,
    ]);
    assert!(put.status.success(), "{}", describe(&put));
    let alice = env.create_user("alice");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["s3:GetObject","kms:Decrypt"],"Resource":"*"}]}"#;
    env.aws(&[
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "read",
        "--policy-document",
        policy,
    ]);
    g.stop();

    // Moved in place, twice: the second run finds everything done.
    let hsm = SoftHsm::create();
    let first = sealgate(&hsm, g.data_dir(), &["migrate-root"]);
    assert!(first.status.success(), "{}", describe(&first));
    let report = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(report.contains(&format!("master key {key_id}")), "{report}");
    assert!(
        report.contains("key store key in the HSM: moved now"),
        "{report}"
    );
    let again = sealgate(&hsm, g.data_dir(), &["migrate-root"]);
    let report = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        again.status.success() && !report.contains("master key "),
        "{report}"
    );
    assert!(
        report.contains("key store key in the HSM: already"),
        "{report}"
    );

    // On the token, with the root key kept for the old versions: everything reads.
    g.restart_on(Some(hsm));
    everything_reads(&g, &alice).await;

    // Every object re-wrapped under its key's version in the token; then the root key retires.
    let rewrap = Command::new(gateway::binary())
        .args(["rewrap", "--endpoint", &g.endpoint, "--bucket", "moving"])
        .env("AWS_ACCESS_KEY_ID", &Gateway::creds().access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &Gateway::creds().secret_access_key)
        .output()
        .expect("run sealgate rewrap");
    assert!(rewrap.status.success(), "{}", describe(&rewrap));
    g.stop();
    std::fs::rename(
        g.data_dir().join("root.key"),
        g.data_dir().with_extension("retired-root.key"),
    )
    .expect("retire the root key");
    g.restart();
    assert!(g.hsm().is_some());
    everything_reads(&g, &alice).await;
    let _ = std::fs::remove_file(g.data_dir().with_extension("retired-root.key"));
}

/// The migration test's objects read, as root and as alice (whose secret the token now seals).
async fn everything_reads(g: &Gateway, alice: &Env) {
    let client = g.client();
    let body = client.get("moving", "default").send().await.body;
    assert_eq!(body, "under the default key");
    assert_eq!(client.get("moving", "kms").send().await.status, 200);
    let alice = alice.with_endpoint(&g.endpoint);
    let read = alice.aws(&[
        "s3api",
        "head-object",
        "--bucket",
        "moving",
        "--key",
        "default",
    ]);
    assert!(read.status.success(), "{}", describe(&read));
}
