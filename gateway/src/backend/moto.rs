//! Test harness: the real S3 server the conformance suite runs the S3 backend against.
//!
//! `SEALGATE_TEST_S3_ENDPOINT` (with `SEALGATE_TEST_S3_ACCESS_KEY_ID`,
//! `SEALGATE_TEST_S3_SECRET_ACCESS_KEY` and `SEALGATE_TEST_S3_REGION`) names a server to use;
//! otherwise one moto server is started per test process on a free loopback port, watched by a
//! small shell loop that stops it when the test process ends. Without either, S3 tests are
//! skipped with a message.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::conformance::{Fixture, bucket_name};
use super::{BackendConfig, SecretKey};

static SERVER: OnceLock<Option<BackendConfig>> = OnceLock::new();

/// The S3 backend against the test server with a fresh bucket name; `None` to skip.
pub(super) async fn fixture() -> Option<Fixture> {
    let config = config()?;
    let backend = super::s3::S3Backend::open(&config).unwrap();
    Some(Fixture {
        backend: Arc::new(backend),
        bucket: bucket_name(),
        _keep: None,
    })
}

/// The configuration of the test server, started on first use; `None` to skip.
pub(super) fn config() -> Option<BackendConfig> {
    SERVER.get_or_init(server_config).clone()
}

fn server_config() -> Option<BackendConfig> {
    let endpoint = match std::env::var("SEALGATE_TEST_S3_ENDPOINT") {
        Ok(endpoint) => endpoint,
        Err(_) => start_moto()?,
    };
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or(default.to_string());
    Some(BackendConfig::S3 {
        allow_http: endpoint.starts_with("http://"),
        endpoint,
        region: var("SEALGATE_TEST_S3_REGION", "us-east-1"),
        access_key_id: var("SEALGATE_TEST_S3_ACCESS_KEY_ID", "sealgate-test"),
        secret: SecretKey::new(var(
            "SEALGATE_TEST_S3_SECRET_ACCESS_KEY",
            "sealgate-test-secret",
        )),
    })
}

fn start_moto() -> Option<String> {
    let probe = Command::new("python3")
        .args(["-c", "import moto.server"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipping S3 backend tests: moto is not installed (pip install 'moto[server]')");
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let watchdog = format!(
        "python3 -m moto.server -H 127.0.0.1 -p {port} >/dev/null 2>&1 & m=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done; \
         kill $m 2>/dev/null",
        parent = std::process::id()
    );
    // Not waited for: the shell loop outlives no test process, and ends moto with it.
    #[allow(clippy::zombie_processes)]
    let _watchdog = Command::new("sh")
        .args(["-c", &watchdog])
        .stdin(Stdio::null())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "moto did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(format!("http://127.0.0.1:{port}"))
}
