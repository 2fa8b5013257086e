//! Crash safety: a child process creates keys, rotates them and encrypts under them until it
//! is killed (SIGKILL) at varying points; after each kill the key store must hold every key and
//! version the child saw committed, no half-made key, and every logged blob must decrypt.

// Test helpers may fail loudly: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kms_core::{CreateKey, EncryptionContext, Kms, RootKey, SoftwareRoot};

const DIR_VAR: &str = "KMS_CORE_CRASH_DIR";

fn open(dir: &Path) -> Kms {
    let root = SoftwareRoot::new(&RootKey::from_bytes([0x77; 32])).unwrap();
    Kms::open(&dir.join("kms"), Arc::new(root)).unwrap()
}

fn ctx() -> EncryptionContext {
    EncryptionContext::from([("crash".into(), "test".into())])
}

/// The child: runs only when the parent sets the folder, until killed (or 30 s pass).
#[test]
#[ignore]
fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let dir = Path::new(&dir);
    let kms = open(dir);
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join("log"))
        .unwrap();
    let mut keys: Vec<String> = kms.list_keys().into_iter().map(|k| k.key_id).collect();
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < Duration::from_secs(30) {
        n += 1;
        if keys.is_empty() || n.is_multiple_of(3) {
            let id = kms.create_key(CreateKey::default()).unwrap().key_id;
            writeln!(log, "created {id}").unwrap();
            keys.push(id);
        } else {
            let id = &keys[n % keys.len()];
            if let Ok(rotation) = kms.rotate_key_on_demand(id) {
                writeln!(log, "rotated {id} {}", rotation.key_version).unwrap();
            }
        }
        let id = &keys[n % keys.len()];
        let blob = kms.encrypt(id, id.as_bytes(), &ctx()).unwrap();
        writeln!(log, "blob {id} {}", hex::encode(blob)).unwrap();
    }
}

/// What the child logged: keys, the highest version seen per key, and blobs.
#[derive(Default)]
struct Log {
    created: Vec<String>,
    versions: HashMap<String, u32>,
    blobs: Vec<(String, Vec<u8>)>,
}

fn read_log(dir: &Path) -> Log {
    let text = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    let mut log = Log::default();
    // The last line may be cut short by the kill: read up to the last newline.
    let complete = text.rsplit_once('\n').map_or("", |(head, _)| head);
    for line in complete.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        match parts[..] {
            ["created", id] => log.created.push(id.to_string()),
            ["rotated", id, v] => {
                let v: u32 = v.parse().unwrap();
                let seen = log.versions.entry(id.to_string()).or_insert(v);
                *seen = (*seen).max(v);
            }
            ["blob", id, hex] => log.blobs.push((id.to_string(), hex::decode(hex).unwrap())),
            _ => panic!("bad log line {line:?}"),
        }
    }
    log
}

fn check_store(dir: &Path) -> usize {
    let kms = open(dir);
    let Log {
        created,
        versions,
        blobs,
    } = read_log(dir);
    for id in &created {
        assert_eq!(
            kms.describe_key(id).unwrap().key_id,
            *id,
            "a committed key was lost"
        );
    }
    for (id, version) in &versions {
        assert!(
            kms.describe_key(id).unwrap().current_key_version >= *version,
            "lost rotation"
        );
    }
    for (id, blob) in &blobs {
        let plain = kms.decrypt(blob, &ctx()).unwrap();
        assert_eq!(plain.plaintext.as_bytes(), id.as_bytes());
    }
    for key in kms.list_keys() {
        // Every key in the store is whole: its newest version seals and opens.
        let dk = kms.generate_data_key(&key.key_id, &ctx()).unwrap();
        kms.decrypt(&dk.ciphertext_blob, &ctx()).unwrap();
    }
    created.len()
}

#[test]
fn killed_at_any_point_the_store_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for round in 0u64..6 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--ignored", "--nocapture"])
            .env(DIR_VAR, dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + (round * 137) % 400));
        child.kill().unwrap();
        child.wait().unwrap();
        check_store(dir.path());
    }
    let created = check_store(dir.path());
    eprintln!("{created} keys created across 6 kills");
    assert!(
        created > 6,
        "the child made too few keys ({created}) to test anything"
    );
}
