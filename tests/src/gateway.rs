//! The `sealgate` binary under test, started on a free loopback port.
//!
//! The binary is `$SEALGATE_BIN` when set, else `debug/sealgate` under `$CARGO_TARGET_DIR` (or
//! the workspace's `target/`). Each [`Gateway`] gets its own temporary data dir and the fixed test
//! credentials, is ready when `/health/ready` answers 200, and is killed when dropped; a test that
//! panics prints the gateway's log.

use crate::client::{Client, Creds};
use crate::hsm::{self, SoftHsm};
use crate::process::{self, Guarded};
use crate::s3server::S3Server;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The root access key id every test gateway starts with.
pub const ACCESS_KEY_ID: &str = "SEALGATETESTKEY00001";
/// The root secret access key every test gateway starts with.
pub const SECRET_ACCESS_KEY: &str = "sealgate-test-secret/0123456789abcdefghijk";
/// The region the gateway serves.
pub const REGION: &str = "us-east-1";

/// What the gateway stores objects in.
#[derive(Debug, Clone, Copy)]
pub enum BackendKind<'a> {
    /// The local folder under the data dir.
    Folder,
    /// A real S3 server.
    S3(&'a S3Server),
}

/// A running gateway.
#[derive(Debug)]
pub struct Gateway {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    data_dir: tempfile::TempDir,
    /// Always `Some`, but while [`Gateway::restart`] swaps processes.
    process: Option<Guarded>,
    /// The S3 server it fronts (endpoint, region, credentials); `None` for the folder.
    s3: Option<(String, String, Creds)>,
    /// More `sealgate serve` arguments, given on every start.
    args: Vec<String>,
    /// The SoftHSM2 token of its root of trust; `None` for the software root.
    hsm: Option<SoftHsm>,
}

impl Gateway {
    /// Starts the gateway in front of `backend` and waits until it is ready.
    pub fn start(backend: BackendKind<'_>) -> Gateway {
        Gateway::start_with_args(backend, &[])
    }

    /// Stops this gateway's process and starts another on the same data dir and backend, on a
    /// new port: whatever the first kept only in memory is gone.
    pub fn restart(&mut self) {
        drop(self.process.take()); // waits for the process to end
        self.run();
    }

    /// Stops the process and starts another on the same data dir, with its root of trust now
    /// on `hsm` (or the software root).
    pub fn restart_on(&mut self, hsm: Option<SoftHsm>) {
        drop(self.process.take());
        self.hsm = hsm;
        self.run();
    }

    /// The environment for aws-cli and python clients, with the root credentials.
    pub fn env(&self) -> crate::tools::Env {
        crate::tools::Env {
            endpoint: self.endpoint.clone(),
            creds: Self::creds(),
            region: REGION.to_owned(),
        }
    }

    /// Like [`Gateway::start`], with more `sealgate serve` arguments (`--audit-max-file-age-secs`,
    /// say), which also hold after a [`Gateway::restart`].
    pub fn start_with_args(backend: BackendKind<'_>, args: &[&str]) -> Gateway {
        let hsm = hsm::suite_on_hsm().then(SoftHsm::create);
        Gateway::start_on(backend, args, hsm)
    }

    /// Like [`Gateway::start_with_args`], with the root of trust on `hsm` (or the software
    /// root), whatever `SEALGATE_TEST_ROOT_OF_TRUST` says.
    pub fn start_on(backend: BackendKind<'_>, args: &[&str], hsm: Option<SoftHsm>) -> Gateway {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let s3 = match backend {
            BackendKind::Folder => None,
            BackendKind::S3(server) => Some((
                server.endpoint.clone(),
                server.region.clone(),
                server.creds.clone(),
            )),
        };
        let mut gateway = Gateway {
            endpoint: String::new(),
            data_dir,
            process: None,
            s3,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            hsm,
        };
        gateway.run();
        gateway
    }

    /// Stops the process the way an operator does (SIGTERM: requests finish, the audit file is
    /// sealed) and waits for it to end; the data dir stays until the gateway is dropped.
    pub fn stop(&mut self) {
        drop(self.process.take());
    }

    fn run(&mut self) {
        let addr = format!("127.0.0.1:{}", process::free_port());
        let mut command = serve_command(&addr, self.data_dir.path(), self.s3.as_ref());
        command.args(&self.args);
        if let Some(hsm) = &self.hsm {
            hsm.configure(&mut command);
        }

        let log = self.data_dir.path().with_extension("log");
        let mut process = Guarded::spawn(command, &log);
        process.wait_ready(&addr, "/health/ready");
        self.endpoint = format!("http://{addr}");
        self.process = Some(process);
    }

    /// The SoftHSM2 token of its root of trust, if it runs on one.
    pub fn hsm(&self) -> Option<&SoftHsm> {
        self.hsm.as_ref()
    }

    /// Points a `sealgate` admin command at this gateway's root of trust (for the HSM: the
    /// token's module, label and PIN).
    pub fn configure_root(&self, command: &mut Command) {
        if let Some(hsm) = &self.hsm {
            hsm.configure(command);
        }
    }

    /// The gateway's data dir (the folder backend keeps objects under `objects/`).
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The gateway's log so far.
    pub fn log(&self) -> String {
        self.process.as_ref().map(Guarded::log).unwrap_or_default()
    }

    /// The test credentials.
    pub fn creds() -> Creds {
        Creds::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    }

    /// A client signing with the test credentials.
    pub fn client(&self) -> Client {
        Client::new(&self.endpoint, Self::creds(), REGION)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- sealgate log ({}) ----\n{}", self.endpoint, self.log());
        }
        let _ = std::fs::remove_file(self.data_dir.path().with_extension("log"));
    }
}

/// `sealgate serve` with the listen address, data dir, credentials and backend options.
fn serve_command(addr: &str, data_dir: &Path, s3: Option<&(String, String, Creds)>) -> Command {
    let mut command = Command::new(binary());
    for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("SEALGATE_")) {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .arg("--listen")
        .arg(addr)
        .arg("--data-dir")
        .arg(data_dir);
    command.args(["--region", REGION]);
    command.env("SEALGATE_ACCESS_KEY_ID", ACCESS_KEY_ID);
    command.env("SEALGATE_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY);
    command.env("NO_COLOR", "1");
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "info,sealgate=debug");
    }

    if let Some((endpoint, region, creds)) = s3 {
        command.arg("--backend-endpoint").arg(endpoint);
        command.arg("--backend-region").arg(region);
        command
            .arg("--backend-access-key-id")
            .arg(&creds.access_key_id);
        command
            .arg("--backend-secret-access-key")
            .arg(&creds.secret_access_key);
    }
    command
}

/// Where the binary under test is.
pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("SEALGATE_BIN") {
        return bin.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    let bin = target.join("debug").join("sealgate");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p sealgate` first",
        bin.display()
    );
    bin
}

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}
