//! Real S3 clients driven from the tests: aws-cli and python scripts using boto3.
//!
//! Both get the endpoint, credentials and region in their environment, and both report failure
//! with their whole output. aws-cli is `$SEALGATE_TEST_AWS`, else Debian's `/usr/bin/aws` when
//! installed, else the first `aws` on `PATH`; python is `$SEALGATE_TEST_PYTHON`, else `python3`.

use crate::client::Creds;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The aws-cli executable.
pub fn aws() -> PathBuf {
    if let Some(aws) = std::env::var_os("SEALGATE_TEST_AWS") {
        return aws.into();
    }
    let debian = Path::new("/usr/bin/aws");
    if debian.exists() {
        debian.into()
    } else {
        "aws".into()
    }
}

/// The python interpreter that has boto3 and moto.
pub fn python() -> PathBuf {
    std::env::var_os("SEALGATE_TEST_PYTHON").map_or_else(|| "python3".into(), PathBuf::from)
}

/// The folder of the python client scripts.
pub fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Where a client runs: endpoint, credentials, region.
#[derive(Debug, Clone)]
pub struct Env {
    /// `http://host:port`.
    pub endpoint: String,
    /// The credentials to use.
    pub creds: Creds,
    /// The region.
    pub region: String,
}

impl Env {
    fn apply(&self, command: &mut Command, home: &Path) {
        command
            .env("AWS_ACCESS_KEY_ID", &self.creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.creds.secret_access_key)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env("AWS_REGION", &self.region)
            .env("SEALGATE_ENDPOINT", &self.endpoint)
            .env("AWS_CONFIG_FILE", home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .env("NO_PROXY", "127.0.0.1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_ENDPOINT_URL");
    }

    /// Runs `aws --endpoint-url ENDPOINT args...` and returns its output; panics on failure.
    pub fn aws(&self, args: &[&str]) -> Output {
        let out = self.aws_status(args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs aws-cli and returns its output whatever its exit status.
    pub fn aws_status(&self, args: &[&str]) -> Output {
        let home = tempfile::tempdir().expect("aws home");
        let mut command = Command::new(aws());
        command.arg("--endpoint-url").arg(&self.endpoint).args(args);
        self.apply(&mut command, home.path());
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", aws()))
    }

    /// Runs `python3 clients/SCRIPT args...`; panics unless it exits 0. Returns stdout.
    pub fn python(&self, script: &str, args: &[&str]) -> String {
        let home = tempfile::tempdir().expect("python home");
        let mut command = Command::new(python());
        command.arg(scripts_dir().join(script)).args(args);
        self.apply(&mut command, home.path());
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", python()));
        assert!(
            out.status.success(),
            "{script} {args:?} failed:\n{}",
            describe(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A process's exit status, stdout and stderr.
pub fn describe(out: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
