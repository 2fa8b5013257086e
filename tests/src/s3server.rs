//! The real S3 server the tests use as a backend and as a reference.
//!
//! When `SEALGATE_TEST_S3_ENDPOINT` is set (with `SEALGATE_TEST_S3_ACCESS_KEY_ID`,
//! `SEALGATE_TEST_S3_SECRET_ACCESS_KEY` and optionally `SEALGATE_TEST_S3_REGION`), that server is
//! used, MinIO from the compose file for example. Otherwise moto's server is started on a free
//! loopback port, once per test binary, and stops when the binary exits.

use crate::client::{Client, Creds};
use crate::process::{self, Guarded};
use std::process::Command;
use std::sync::OnceLock;

/// A running S3 server and how to reach it.
#[derive(Debug)]
pub struct S3Server {
    /// `http://host:port`, no trailing slash.
    pub endpoint: String,
    /// Credentials the server accepts.
    pub creds: Creds,
    /// The region to sign for.
    pub region: String,
    _process: Option<(Guarded, tempfile::TempDir)>,
}

static SHARED: OnceLock<S3Server> = OnceLock::new();

impl S3Server {
    /// The server shared by every test of this binary, started on first use.
    pub fn shared() -> &'static S3Server {
        SHARED.get_or_init(|| Self::from_env().unwrap_or_else(Self::start_moto))
    }

    /// The external server named by the environment, if any.
    fn from_env() -> Option<S3Server> {
        let endpoint = std::env::var("SEALGATE_TEST_S3_ENDPOINT").ok()?;
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
        let creds = Creds::new(
            &var("SEALGATE_TEST_S3_ACCESS_KEY_ID"),
            &var("SEALGATE_TEST_S3_SECRET_ACCESS_KEY"),
        );
        let region =
            std::env::var("SEALGATE_TEST_S3_REGION").unwrap_or_else(|_| "us-east-1".into());
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        Some(S3Server {
            endpoint,
            creds,
            region,
            _process: None,
        })
    }

    /// Starts moto's S3 server on a free loopback port and waits until it answers.
    fn start_moto() -> S3Server {
        let dir = tempfile::tempdir().expect("temp dir for moto");
        let port = process::free_port();
        let mut command = Command::new(crate::tools::python());
        command
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .current_dir(dir.path());

        let addr = format!("127.0.0.1:{port}");
        let mut server = Guarded::spawn(command, &dir.path().join("moto.log"));
        server.wait_ready(&addr, "/moto-api/");
        let creds = Creds::new("moto-test-key", "moto-test-secret");
        let endpoint = format!("http://{addr}");
        S3Server {
            endpoint,
            creds,
            region: "us-east-1".into(),
            _process: Some((server, dir)),
        }
    }

    /// Whether this is the moto server the harness started (it checks no signatures).
    pub fn is_moto(&self) -> bool {
        self._process.is_some()
    }

    /// A client that talks to this server directly, bypassing any gateway.
    pub fn client(&self) -> Client {
        Client::new(&self.endpoint, self.creds.clone(), &self.region)
    }
}
