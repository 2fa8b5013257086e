//! Prints in-process GenerateDataKey and Decrypt calls per second on one core.
//!
//! `cargo run -p kms-core --example kms_throughput [CALLS]` (a debug build is several times
//! slower than the gateway's release build; compare runs, not absolute figures).

use std::sync::Arc;
use std::time::Instant;

use kms_core::{EncryptionContext, Error, Kms, RootKey, SoftwareRoot};

fn main() -> Result<(), Error> {
    let calls: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("kms-throughput-{}", std::process::id()));
    let root = SoftwareRoot::new(&RootKey::generate()?)?;
    let kms = Kms::open(&dir, Arc::new(root))?;
    let key = kms.default_key()?;
    let ctx = EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into())]);

    let start = Instant::now();
    let mut blob = Vec::new();
    for _ in 0..calls {
        blob = kms.generate_data_key(&key.key_id, &ctx)?.ciphertext_blob;
    }
    report("GenerateDataKey", calls, start);

    let start = Instant::now();
    for _ in 0..calls {
        kms.decrypt(&blob, &ctx)?;
    }
    report("Decrypt", calls, start);

    drop(kms);
    std::fs::remove_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })
}

fn report(what: &str, calls: u32, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {calls} calls in {secs:.3} s = {:.0} calls/s",
        f64::from(calls) / secs
    );
}
