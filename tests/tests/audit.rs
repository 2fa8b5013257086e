//! The audit trail end to end: requests made with aws-cli and boto3 each leave one event with the
//! right principal, action, decision and status; `sealgate audit query` finds them; no secret
//! reaches the files; and `sealgate audit verify` names the file and line of every kind of
//! tampering with a trail the gateway sealed.

use http::Method;
use sealgate_tests::gateway::{self, Gateway};
use sealgate_tests::tools::{describe, root_arn, user_arn};
use sealgate_tests::{BackendKind, Kind, Target, data};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

#[tokio::test]
async fn every_request_is_in_the_trail() {
    requests_in_the_trail(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn downloads_in_full_are_not_marked_cut_short() {
    downloads(Target::start(Kind::Folder)).await;
}

#[tokio::test]
async fn verify_names_each_kind_of_tampering() {
    let options = ["--audit-max-file-age-secs", "1"];
    tampering(Gateway::start_with_args(BackendKind::Folder, &options)).await;
}

/// `sealgate audit ARGS... --data-dir DIR`, whatever its exit status.
/// The command runs on `g`'s root of trust (its HSM token, when it has one).
fn audit(g: &Gateway, data_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(gateway::binary());
    command
        .arg("audit")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SEALGATE_DATA_DIR");
    g.configure_root(&mut command);
    command.output().expect("run sealgate audit")
}

/// The audit files of a data dir, oldest first.
fn audit_files(data_dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(data_dir.join("audit")).expect("audit dir");
    let mut files: Vec<_> = entries
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    files
}

/// Every line of every audit file, parsed.
fn audit_lines(data_dir: &Path) -> Vec<Value> {
    let mut lines = Vec::new();
    for file in audit_files(data_dir) {
        let text = std::fs::read_to_string(&file).expect("read audit file");
        lines.extend(
            text.lines()
                .map(|l| serde_json::from_str::<Value>(l).expect("JSON line")),
        );
    }
    lines
}

fn events(data_dir: &Path) -> Vec<Value> {
    let lines = audit_lines(data_dir).into_iter();
    lines.filter(|l| l["type"] == "event").collect()
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

/// One call the boto3 script made, as it saw it.
#[derive(Debug)]
struct Call {
    who: String,
    action: String,
    request_id: String,
    status: u64,
    error_code: Option<String>,
}

fn calls(stdout: &str) -> Vec<Call> {
    let parse = |line: &str| {
        let v: Value = serde_json::from_str(line).expect("a JSON line");
        Call {
            who: text(&v, "who"),
            action: text(&v, "action"),
            request_id: text(&v, "request_id"),
            status: v["status"].as_u64().expect("status"),
            error_code: v["error_code"].as_str().map(str::to_owned),
        }
    };
    stdout.lines().map(parse).collect()
}

/// The statements that may decide one of alice's calls, as the trail names them: a GET that finds
/// its object is decided twice (the object, then its master key), and either may be named.
fn deciders(call: &Call) -> Vec<Value> {
    let sids: &[&str] = match (call.action.as_str(), call.status) {
        ("s3:GetObject", 200) => &["Objects", "Keys"],
        ("s3:GetObject", _) => &["Objects"],
        ("s3:ListBucket", _) => &["Listing"],
        ("s3:DeleteObject", _) => &["NoDelete"],
        _ => return vec![Value::Null], // nothing allows it, nothing denies it
    };
    let named = sids
        .iter()
        .map(|sid| json!(format!("user/alice/Reads / {sid}")));
    named.collect()
}

/// Why one of alice's calls was denied, as the trail says it.
fn reason(call: &Call) -> Value {
    match call.action.as_str() {
        _ if !denied(call) => Value::Null,
        "s3:DeleteObject" => json!("explicitly denied by user/alice/Reads / NoDelete"),
        _ => json!("no statement allows it"),
    }
}

fn denied(call: &Call) -> bool {
    matches!(
        call.error_code.as_deref(),
        Some("AccessDenied" | "AccessDeniedException")
    )
}

async fn requests_in_the_trail(t: Target) {
    let root = t.env();
    let data_dir = t.gateway().data_dir().to_owned();
    let bucket = t.bucket().await;
    let alice = root.create_user("alice");
    let reads = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "Objects", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": format!("arn:aws:s3:::{bucket}/*")},
        {"Sid": "Listing", "Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": format!("arn:aws:s3:::{bucket}")},
        {"Sid": "Keys", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        {"Sid": "NoDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    ]});
    let policy = [
        "iam",
        "put-user-policy",
        "--user-name",
        "alice",
        "--policy-name",
        "Reads",
    ];
    root.aws(&[&policy[..], &["--policy-document", &reads.to_string()]].concat());

    let marker = "plaintext-marker-7f3a9c41d2";
    let (id, secret) = (&alice.creds.access_key_id, &alice.creds.secret_access_key);
    let out = root.python("boto3_audit.py", &[&bucket, id, secret, marker]);
    let calls = calls(&out);
    assert_eq!(calls.len(), 11, "{out}");

    // Each call left one event with its request id, saying who did what and how it ended.
    let events = events(&data_dir);
    for call in &calls {
        let found: Vec<_> = events
            .iter()
            .filter(|e| e["request_id"] == call.request_id.as_str())
            .collect();
        assert_eq!(found.len(), 1, "one event for {call:?}");
        let event = found[0];
        let (principal, key_id) = match call.who.as_str() {
            "root" => (root_arn(), &root.creds.access_key_id),
            _ => (user_arn("alice"), id),
        };
        let decision = if denied(call) { "deny" } else { "allow" };
        let context = format!("{call:?}\n{event}");
        assert_eq!(event["action"], call.action.as_str(), "{context}");
        assert_eq!(event["principal"], principal.as_str(), "{context}");
        assert_eq!(event["access_key_id"], key_id.as_str(), "{context}");
        assert_eq!(event["decision"], decision, "{context}");
        assert_eq!(event["status"], call.status, "{context}");
        assert_eq!(
            event["error_code"].as_str(),
            call.error_code.as_deref(),
            "{context}"
        );
        assert_eq!(event["source_ip"], "127.0.0.1", "{context}");
        assert!(text(event, "user_agent").contains("Boto3"), "{context}");
        if call.who == "user" {
            let deciders = deciders(call);
            assert!(
                deciders.contains(&event["decided_by"]),
                "{deciders:?}: {context}"
            );
        } else {
            assert_eq!(event["decided_by"], "root credentials", "{context}");
        }
        // Streamed bodies have a test of their own (downloads_in_full_are_not_marked_cut_short).
        if call.action != "s3:GetObject" || call.status != 200 {
            assert_eq!(event["reason"], reason(call), "{context}");
        }
    }
    let get = calls
        .iter()
        .find(|c| c.who == "user" && c.action == "s3:GetObject" && c.status == 200)
        .expect("the user's GET");
    let event = events
        .iter()
        .find(|e| e["request_id"] == get.request_id.as_str());
    let event = event.expect("the GET's event");
    assert_eq!(event["bucket"], bucket.as_str(), "{event}");
    assert_eq!(event["key"], "secret", "{event}");
    assert!(!text(event, "key_id").is_empty(), "{event}");

    // The setup made with aws-cli: root created alice, her key and her policy.
    for action in ["iam:CreateUser", "iam:CreateAccessKey", "iam:PutUserPolicy"] {
        let by_root = |e: &&Value| e["action"] == action && e["principal"] == root_arn().as_str();
        let found: Vec<_> = events.iter().filter(by_root).collect();
        assert_eq!(found.len(), 1, "{action}: {found:?}");
        assert_eq!(found[0]["status"], 200, "{}", found[0]);
        let resources = found[0]["resources"].to_string();
        assert!(resources.contains(&user_arn("alice")), "{}", found[0]);
        assert!(
            text(found[0], "user_agent").starts_with("aws-cli/"),
            "{}",
            found[0]
        );
    }
    let creates = events.iter().filter(|e| e["action"] == "s3:CreateBucket");
    assert_eq!(creates.count(), 1);

    query_finds_the_denied(t.gateway(), &data_dir, &calls);
    no_secret_in_the_files(&data_dir, &[&root.creds.secret_access_key, secret, marker]);
    assert_verifies(t.gateway(), &data_dir, "intact: 1 files, 15 events");
}

/// `sealgate audit query` gives exactly alice's denied calls, and her reads by action.
fn query_finds_the_denied(g: &Gateway, data_dir: &Path, calls: &[Call]) {
    let alice = user_arn("alice");
    let ids = |args: &[&str]| {
        let out = audit(
            g,
            data_dir,
            &[&["query", "--principal", &alice][..], args].concat(),
        );
        assert!(out.status.success(), "{}", describe(&out));
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| text(&serde_json::from_str(l).expect("JSON line"), "request_id"))
            .collect();
        ids.sort();
        ids
    };
    let want = |keep: &dyn Fn(&Call) -> bool| {
        let kept = calls.iter().filter(|c| keep(c));
        let mut ids: Vec<_> = kept.map(|c| c.request_id.clone()).collect();
        ids.sort();
        ids
    };

    let denied_by_alice = want(&|c| c.who == "user" && denied(c));
    assert_eq!(denied_by_alice.len(), 5);
    assert_eq!(ids(&["--result", "denied"]), denied_by_alice);
    let reads = want(&|c| c.who == "user" && c.action == "s3:GetObject");
    assert_eq!(ids(&["--action", "s3:Get*"]), reads);
    let table = audit(
        g,
        data_dir,
        &["query", "--principal", &alice, "--format", "table"],
    );
    assert!(table.status.success(), "{}", describe(&table));
}

/// No audit file holds any of these strings, nor their base64.
fn no_secret_in_the_files(data_dir: &Path, secrets: &[&str]) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    for file in audit_files(data_dir) {
        let text = std::fs::read_to_string(&file).expect("read audit file");
        for secret in secrets {
            let encoded = b64.encode(secret);
            assert!(!text.contains(secret), "{secret} in {}", file.display());
            assert!(!text.contains(&encoded), "{encoded} in {}", file.display());
        }
    }
}

/// A GET the client reads to the end has an event without a reason; one it hangs up on early
/// says so, with the bytes that were sent. The object is larger than loopback socket buffers
/// can hold, so the gateway cannot have handed all of it to the kernel by then.
async fn downloads(t: Target) {
    let data_dir = t.gateway().data_dir().to_owned();
    let bucket = t.bucket().await;
    let big = data::body(64 * 1024 * 1024);
    t.client.put_object(&bucket, "big", big.clone()).await;
    t.client.put_object(&bucket, "small", "small").await;

    // Cut short: the first chunk, then the connection is closed.
    let expires = Duration::from_secs(300);
    let url = t
        .client
        .presign(&Method::GET, &bucket, "big", expires, SystemTime::now());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut cut = http.get(&url).send().await.expect("GET big");
    let cut_id = cut.headers()["x-amz-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    cut.chunk().await.expect("a first chunk");
    drop(cut);
    let event = wait_for_event(&data_dir, &cut_id).await;
    assert_eq!(event["reason"], "the body was not sent in full", "{event}");
    assert!(
        event["bytes_out"].as_u64().unwrap() < big.len() as u64,
        "{event}"
    );

    // Read to the end, by the harness client and by aws-cli.
    let whole = t.client.get(&bucket, "big").send().await;
    assert_eq!(whole.body.len(), big.len());
    let whole_id = whole.header("x-amz-request-id").unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    for key in ["big", "small"] {
        let file = dir.path().join(key).to_string_lossy().into_owned();
        t.env().aws(&[
            "s3api",
            "get-object",
            "--bucket",
            &bucket,
            "--key",
            key,
            &file,
        ]);
    }
    let mut read_in_full = vec![wait_for_event(&data_dir, &whole_id).await];
    let by_aws_cli = |e: &&Value| text(e, "user_agent").starts_with("aws-cli/");
    read_in_full.extend(events(&data_dir).iter().filter(by_aws_cli).cloned());
    assert_eq!(read_in_full.len(), 3);
    for event in read_in_full {
        let size = if event["key"] == "big" { big.len() } else { 5 };
        assert_eq!(event["bytes_out"], size, "{event}");
        assert_eq!(event["reason"], Value::Null, "{event}");
    }
}

/// The event of this request, once the gateway has appended it (a streamed body's event is
/// appended when the body ends).
async fn wait_for_event(data_dir: &Path, request_id: &str) -> Value {
    for _ in 0..100 {
        let found = events(data_dir)
            .into_iter()
            .find(|e| e["request_id"] == request_id);
        if let Some(event) = found {
            return event;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no event for request {request_id}");
}

/// Three sealed audit files (the files rotate after a second, the last is sealed on SIGTERM),
/// then one copy of the data dir per kind of tampering.
async fn tampering(mut g: Gateway) {
    let client = g.client();
    let bucket = data::bucket_name("audit");
    client.create_bucket(&bucket).await;
    for batch in 0..3 {
        if batch > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        for i in 0..4 {
            client
                .put_object(&bucket, &format!("{batch}/{i}"), "x")
                .await;
        }
    }
    g.stop();

    let files = audit_files(g.data_dir());
    let names: Vec<String> = files.iter().map(|f| file_name(f)).collect();
    assert!(names.len() >= 3, "{names:?}");
    let events = events(g.data_dir()).len();
    assert_eq!(events, 13, "{names:?}");
    let intact = copy_of(g.data_dir());
    assert_verifies(
        &g,
        intact.path(),
        &format!("intact: {} files, {events} events", names.len()),
    );

    // Tamper with the second file: it has four events and a seal.
    let middle = &names[1];
    let edit = |change: &dyn Fn(&mut Vec<String>)| {
        let copy = copy_of(g.data_dir());
        let path = copy.path().join("audit").join(middle);
        let mut lines: Vec<String> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        assert!(lines.len() >= 4, "{lines:?}");
        change(&mut lines);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        copy
    };
    let status_changed =
        edit(&|lines| lines[1] = lines[1].replace("\"status\":200", "\"status\":201"));
    assert_broken(&g, status_changed.path(), middle, 2);
    let removed = edit(&|lines| drop(lines.remove(1)));
    assert_broken(&g, removed.path(), middle, 2);
    let swapped = edit(&|lines| lines.swap(1, 2));
    assert_broken(&g, swapped.path(), middle, 2);
    let principal = edit(&|lines| lines[0] = lines[0].replace("root", "user/nobody"));
    assert_broken(&g, principal.path(), middle, 1);

    // A whole middle file gone: the next one no longer follows.
    let without = copy_of(g.data_dir());
    std::fs::remove_file(without.path().join("audit").join(middle)).unwrap();
    assert_broken(&g, without.path(), &names[2], 1);

    // A forged seal on the first file.
    let forged = copy_of(g.data_dir());
    let first = forged.path().join("audit").join(&names[0]);
    let body = std::fs::read_to_string(&first).unwrap();
    let seal_line = body.lines().count() as u64;
    let at = body.rfind("\"mac\":\"").unwrap() + 7;
    let flipped = if &body[at..at + 1] == "0" { "1" } else { "0" };
    std::fs::write(
        &first,
        format!("{}{flipped}{}", &body[..at], &body[at + 1..]),
    )
    .unwrap();
    assert_broken(&g, forged.path(), &names[0], seal_line);

    assert_verifies(&g, intact.path(), "intact: ");
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// A copy of a data dir (its keys, its audit files) in a new temporary dir.
fn copy_of(data_dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::tempdir().expect("temp dir");
    copy_tree(data_dir, copy.path());
    copy
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            std::fs::create_dir(&target).expect("create dir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

#[track_caller]
fn assert_verifies(g: &Gateway, data_dir: &Path, report: &str) {
    let out = audit(g, data_dir, &["verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().any(|l| l.starts_with(report)),
        "want {report}:\n{}",
        describe(&out)
    );
}

#[track_caller]
fn assert_broken(g: &Gateway, data_dir: &Path, file: &str, line: u64) {
    let out = audit(g, data_dir, &["verify"]);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("broken: {file} line {line}");
    let named = report
        .split(&want)
        .nth(1)
        .is_some_and(|rest| rest.starts_with([' ', ':']));
    assert_eq!(
        out.status.code(),
        Some(1),
        "want {want}:\n{}",
        describe(&out)
    );
    assert!(named, "want {want}:\n{}", describe(&out));
}
