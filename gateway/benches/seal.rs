//! Throughput of the seal step: raw AES-256-GCM on 64 KiB segments (aws-lc-rs, through the seam
//! `sealgate::seal` uses, against the pure-Rust `aes-gcm` 0.11), MD5, and the sealer and opener
//! streams end to end. Run with `cargo bench -p sealgate --bench seal`; prints GB/s and ratios.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "a benchmark, not the data path: any failure should stop it loudly"
)]

use std::time::{Duration, Instant};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{AeadInOut, KeyInit};
use bytes::Bytes;
use futures::StreamExt;
use md5::{Digest as _, Md5};
use sealgate::body::ByteStream;
use sealgate::seal::{self, Key};

const SEG: usize = 65536;
const AAD: &[u8] = b"SG1\0";
const KEY: [u8; 32] = [7; 32];
/// Each measurement runs this long; the median of `ROUNDS` is reported.
const ROUND: Duration = Duration::from_millis(400);
const ROUNDS: usize = 5;

/// Runs `op` (which processes `bytes_per_op` bytes) repeatedly and returns the median GB/s.
fn gbps(bytes_per_op: usize, mut op: impl FnMut()) -> f64 {
    let mut rates: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0usize;
            while start.elapsed() < ROUND {
                op();
                n += 1;
            }
            (n * bytes_per_op) as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[ROUNDS / 2]
}

fn nonce(i: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&i.to_be_bytes());
    n
}

fn aws_lc() -> (f64, f64) {
    let key = shared_key();
    let mut buf = vec![0x5a; SEG];
    let mut i = 0;
    let seal = gbps(SEG, || {
        i += 1;
        std::hint::black_box(key.seal_in_place(&nonce(i), AAD, &mut buf).unwrap());
    });

    let mut sealed = vec![0x5a; SEG];
    let tag = key.seal_in_place(&nonce(0), AAD, &mut sealed).unwrap();
    sealed.extend_from_slice(&tag);
    let mut buf = sealed.clone();
    let open = gbps(SEG, || {
        buf.copy_from_slice(&sealed);
        std::hint::black_box(key.open_in_place(&nonce(0), AAD, &mut buf).unwrap());
    });
    (seal, open)
}

fn rust_crypto() -> (f64, f64) {
    let cipher = Aes256Gcm::new(&KEY.into());
    let mut buf = vec![0x5a; SEG];
    let mut i = 0;
    let seal = gbps(SEG, || {
        i += 1;
        let n = nonce(i).into();
        std::hint::black_box(
            cipher
                .encrypt_inout_detached(&n, AAD, buf.as_mut_slice().into())
                .unwrap(),
        );
    });

    let mut sealed = vec![0x5a; SEG];
    let tag = cipher
        .encrypt_inout_detached(&nonce(0).into(), AAD, sealed.as_mut_slice().into())
        .unwrap();
    let mut buf = sealed.clone();
    let open = gbps(SEG, || {
        buf.copy_from_slice(&sealed);
        let n = nonce(0).into();
        cipher
            .decrypt_inout_detached(&n, AAD, buf.as_mut_slice().into(), &tag)
            .unwrap();
    });
    (seal, open)
}

fn md5() -> f64 {
    let buf = vec![0x5a; SEG];
    let mut h = Md5::new();
    let rate = gbps(SEG, || h.update(&buf));
    std::hint::black_box(h.finalize());
    rate
}

/// CPU seconds used by this process so far (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<f64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 of stat (utime, stime) in clock ticks of 1/100 s.
    (fields[11] + fields[12]) / 100.0
}

/// A stream of `total` bytes made of one shared 64 KiB chunk.
fn input(total: usize) -> ByteStream {
    let chunk = Bytes::from(vec![0x5a; SEG]);
    futures::stream::iter((0..total / SEG).map(move |_| Ok(chunk.clone()))).boxed()
}

/// Drains a stream and returns (GB/s, CPU seconds per GB).
async fn drain(total: usize, stream: ByteStream) -> (f64, f64) {
    let (t0, c0) = (Instant::now(), cpu_seconds());
    let n = stream
        .fold(0usize, |n, b| async move { n + b.unwrap().len() })
        .await;
    assert!(n >= total);
    let gb = total as f64 / 1e9;
    (gb / t0.elapsed().as_secs_f64(), (cpu_seconds() - c0) / gb)
}

async fn streams(runtime: &str) {
    println!("Streams end to end, on a {runtime} tokio runtime:");
    const TOTAL: usize = 1 << 30;
    for md5 in [false, true] {
        let sealed = seal::seal_stream(shared_key(), 0, TOTAL as u64, md5, input(TOTAL));
        let (rate, cpu) = drain(TOTAL, sealed.stream).await;
        println!("  seal_stream 1 GiB, md5 {md5:<5}: {rate:5.2} GB/s, {cpu:.2} CPU s per GB");
    }

    const OPEN: usize = 256 << 20;
    let sealed = seal::seal_stream(shared_key(), 0, OPEN as u64, false, input(OPEN));
    let segments: Vec<Bytes> = sealed.stream.map(|b| b.unwrap()).collect().await;
    for _ in 0..2 {
        let plan = seal::plan(OPEN as u64, 0..OPEN as u64).unwrap();
        let body = futures::stream::iter(segments.clone().into_iter().map(Ok)).boxed();
        let opened = seal::open_stream(shared_key(), 0, OPEN as u64, plan, body);
        let (rate, cpu) = drain(OPEN, opened).await;
        println!("  open_stream 256 MiB          : {rate:5.2} GB/s, {cpu:.2} CPU s per GB");
    }
}

/// Both implementations must produce the same bytes: the seam can switch between them freely.
fn same_output() {
    let mut a = vec![0x5a; SEG];
    let tag_a = shared_key().seal_in_place(&nonce(3), AAD, &mut a).unwrap();
    let mut b = vec![0x5a; SEG];
    let n = nonce(3).into();
    let tag_b =
        Aes256Gcm::new(&KEY.into()).encrypt_inout_detached(&n, AAD, b.as_mut_slice().into());
    assert!(
        a == b && tag_a[..] == tag_b.unwrap()[..],
        "aws-lc-rs and aes-gcm disagree"
    );
}

fn main() {
    same_output();
    println!("aws-lc-rs and aes-gcm 0.11 give identical ciphertext and tag for a 64 KiB segment");
    let (lc_seal, lc_open) = aws_lc();
    let (rc_seal, rc_open) = rust_crypto();
    let md5 = md5();
    println!("AES-256-GCM, 64 KiB segments, GB/s per core (median of {ROUNDS})");
    println!("  aws-lc-rs   seal {lc_seal:6.2}   open {lc_open:6.2}");
    println!("  aes-gcm 0.11 seal {rc_seal:6.2}   open {rc_open:6.2}");
    println!(
        "  ratio aws-lc-rs / aes-gcm: seal {:.2}x, open {:.2}x",
        lc_seal / rc_seal,
        lc_open / rc_open
    );
    println!(
        "MD5 (md-5 0.11): {md5:.2} GB/s; aws-lc-rs seal / MD5 = {:.1}x",
        lc_seal / md5
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(streams("multi-thread"));
    drop(runtime);

    // The MD5 still runs beside, on the blocking pool; no idle worker threads spin here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(streams("current-thread"));
    drop(runtime);

    // For comparison: with no tokio runtime the sealer hashes inline, after each chunk.
    const TOTAL: usize = 1 << 30;
    let sealed = seal::seal_stream(shared_key(), 0, TOTAL as u64, true, input(TOTAL));
    let (rate, cpu) = futures::executor::block_on(drain(TOTAL, sealed.stream));
    println!("Without a runtime (MD5 inline, for comparison):");
    println!("  seal_stream 1 GiB, md5 true : {rate:5.2} GB/s, {cpu:.2} CPU s per GB");
}

/// The benchmark's data key, as the gateway holds it.
fn shared_key() -> std::sync::Arc<Key> {
    std::sync::Arc::new(Key::new(&KEY).expect("a 32-byte key"))
}
