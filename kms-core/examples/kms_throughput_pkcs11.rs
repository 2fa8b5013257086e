//! Prints in-process GenerateDataKey and Decrypt calls per second with the PKCS#11 root, in
//! the format of `kms_throughput` (the software root's).
//!
//! `SEALGATE_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so SEALGATE_PKCS11_TOKEN_LABEL=label
//! SEALGATE_PKCS11_PIN=5678 cargo run --release -p kms-core --example kms_throughput_pkcs11
//! [CALLS] [THREADS]` (default 20000 calls on 1 thread; with more threads the calls are
//! shared out and the root's session pool is as large as the number of threads). Every data
//! key is sealed and opened inside the token. The run leaves the key store's key and one
//! master key (two key objects) in the token.

use std::sync::Arc;
use std::time::Instant;

use kms_core::{EncryptionContext, Error, Kms, Pin, Pkcs11Config, Pkcs11Root, TokenSelector};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<u32>().ok());
    let calls = args.next().flatten().unwrap_or(20_000);
    let threads = args.next().flatten().unwrap_or(1).max(1);
    let dir = std::env::temp_dir().join(format!("kms-throughput-p11-{}", std::process::id()));
    let root = Pkcs11Root::open(&config_from_env(threads)?)?;
    let kms = Kms::open(&dir, Arc::new(root))?;
    let key = kms.default_key()?;
    let ctx = EncryptionContext::from([("aws:s3:arn".into(), "arn:aws:s3:::bucket/key".into())]);
    let blob = kms.generate_data_key(&key.key_id, &ctx)?.ciphertext_blob;

    let start = Instant::now();
    in_parallel(threads, calls, || {
        kms.generate_data_key(&key.key_id, &ctx).map(drop)
    })?;
    report("GenerateDataKey", calls, start);

    let start = Instant::now();
    in_parallel(threads, calls, || kms.decrypt(&blob, &ctx).map(drop))?;
    report("Decrypt", calls, start);

    drop(kms);
    std::fs::remove_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })
}

/// The token from `SEALGATE_PKCS11_MODULE`, `SEALGATE_PKCS11_TOKEN_LABEL` and
/// `SEALGATE_PKCS11_PIN`.
fn config_from_env(sessions: u32) -> Result<Pkcs11Config, Error> {
    let var = |name: &'static str| {
        std::env::var(name).map_err(|_| Error::Validation {
            field: name,
            reason: "environment variable not set".into(),
        })
    };
    let mut config = Pkcs11Config::new(
        var("SEALGATE_PKCS11_MODULE")?,
        TokenSelector::Label(var("SEALGATE_PKCS11_TOKEN_LABEL")?),
        Pin::new(var("SEALGATE_PKCS11_PIN")?),
    );
    config.sessions = usize::try_from(sessions).unwrap_or(1);
    Ok(config)
}

/// Makes `calls` calls of `call`, shared out over `threads` threads.
fn in_parallel<F>(threads: u32, calls: u32, call: F) -> Result<(), Error>
where
    F: Fn() -> Result<(), Error> + Sync,
{
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let share = calls / threads + u32::from(t < calls % threads);
                let call = &call;
                scope.spawn(move || (0..share).try_for_each(|_| call()))
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    })
}

fn report(what: &str, calls: u32, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{what}: {calls} calls in {secs:.3} s = {:.0} calls/s",
        f64::from(calls) / secs
    );
}
