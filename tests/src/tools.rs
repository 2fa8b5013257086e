//! Real S3 clients driven from the tests: aws-cli, python scripts using boto3, rclone, restic.
//!
//! Each gets the endpoint, credentials and region in its environment, and each reports failure
//! with its whole output. aws-cli is `$SEALGATE_TEST_AWS`, else Debian's `/usr/bin/aws` when
//! installed, else the first `aws` on `PATH`; python is `$SEALGATE_TEST_PYTHON`, else `python3`;
//! rclone and restic are `$SEALGATE_TEST_RCLONE` and `$SEALGATE_TEST_RESTIC`, else the ones on
//! `PATH`. rclone and restic run with a temporary `HOME` and cache of their own per process, so
//! nothing one run keeps is seen by the next.

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

/// The rclone executable.
pub fn rclone() -> PathBuf {
    std::env::var_os("SEALGATE_TEST_RCLONE").map_or_else(|| "rclone".into(), PathBuf::from)
}

/// The restic executable.
pub fn restic() -> PathBuf {
    std::env::var_os("SEALGATE_TEST_RESTIC").map_or_else(|| "restic".into(), PathBuf::from)
}

/// The rclone remote [`Env::rclone`] defines for the endpoint: paths read `sg:bucket/key`.
pub const RCLONE_REMOTE: &str = "sg";

/// The password of every restic repository [`Env::restic`] opens.
pub const RESTIC_PASSWORD: &str = "sealgate-test-restic-password";

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

/// The gateway's account id, as its IAM API reports it.
pub const ACCOUNT_ID: &str = "000000000000";

/// The ARN of the gateway's IAM user `name`.
pub fn user_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:user/{name}")
}

/// The ARN of the gateway's root identity.
pub fn root_arn() -> String {
    format!("arn:aws:iam::{ACCOUNT_ID}:root")
}

impl Env {
    /// The same identity and region, at another endpoint (a restarted gateway).
    pub fn with_endpoint(&self, endpoint: &str) -> Env {
        Env {
            endpoint: endpoint.to_owned(),
            ..self.clone()
        }
    }

    /// The same endpoint and region, acting as another identity.
    pub fn with_credentials(&self, access_key_id: &str, secret_access_key: &str) -> Env {
        Env {
            creds: Creds::new(access_key_id, secret_access_key),
            ..self.clone()
        }
    }

    /// Creates the IAM user `name` and an access key for it with aws-cli (acting as this
    /// identity), and returns the environment acting as the new user.
    pub fn create_user(&self, name: &str) -> Env {
        self.aws(&["iam", "create-user", "--user-name", name]);
        let out = self.aws(&["iam", "create-access-key", "--user-name", name]);
        let created: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("create-access-key prints JSON");
        let field = |name: &str| {
            created["AccessKey"][name]
                .as_str()
                .unwrap_or_else(|| panic!("AccessKey.{name} in {created}"))
                .to_owned()
        };
        self.with_credentials(&field("AccessKeyId"), &field("SecretAccessKey"))
    }

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

    /// Runs PyPI's aws-cli (`python3 -m awscli`, current botocore: it has the KMS commands of
    /// 2024 that Debian's aws-cli lacks); panics on failure.
    pub fn aws_pypi(&self, args: &[&str]) -> Output {
        let home = tempfile::tempdir().expect("aws home");
        let mut command = Command::new(python());
        command
            .args(["-m", "awscli", "--endpoint-url", &self.endpoint])
            .args(args);
        self.apply(&mut command, home.path());
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?} -m awscli: {e}", python()));
        assert!(
            out.status.success(),
            "python -m awscli {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs aws-cli and returns its output whatever its exit status.
    pub fn aws_status(&self, args: &[&str]) -> Output {
        let home = tempfile::tempdir().expect("aws home");
        self.aws_status_in(home.path(), args)
    }

    /// Like [`Env::aws`], with aws-cli's config and credentials files in `home`, which the caller
    /// keeps: settings made there with `aws configure set` hold for the later calls.
    pub fn aws_in(&self, home: &Path, args: &[&str]) -> Output {
        let out = self.aws_status_in(home, args);
        assert!(
            out.status.success(),
            "aws {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Like [`Env::aws_status`], with aws-cli's config and credentials files in `home`.
    pub fn aws_status_in(&self, home: &Path, args: &[&str]) -> Output {
        let mut command = Command::new(aws());
        command.arg("--endpoint-url").arg(&self.endpoint).args(args);
        self.apply(&mut command, home);
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", aws()))
    }

    /// Runs `rclone args...` with the remote [`RCLONE_REMOTE`] defined for the endpoint; panics
    /// on failure. Returns its output (rclone reports on stderr).
    pub fn rclone(&self, args: &[&str]) -> Output {
        let out = self.rclone_status(args);
        assert!(
            out.status.success(),
            "rclone {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs rclone and returns its output whatever its exit status.
    ///
    /// The remote comes from `RCLONE_CONFIG_SG_*` variables beside an empty config file. One try
    /// per operation and per request (`--retries 1 --low-level-retries 1`): a refused request
    /// fails the command at once instead of being hidden by a retry.
    pub fn rclone_status(&self, args: &[&str]) -> Output {
        let home = tempfile::tempdir().expect("rclone home");
        let config = home.path().join("rclone.conf");
        std::fs::write(&config, "").expect("empty rclone config");
        let mut command = Command::new(rclone());
        isolate(&mut command, home.path(), "RCLONE_");
        command
            .arg("--config")
            .arg(&config)
            .arg("--cache-dir")
            .arg(home.path().join("cache"))
            .args(["--retries", "1", "--low-level-retries", "1"])
            .args(args);

        let remote = |name: &str| format!("RCLONE_CONFIG_{}_{name}", RCLONE_REMOTE.to_uppercase());
        command
            .env(remote("TYPE"), "s3")
            .env(remote("PROVIDER"), "Other")
            .env(remote("ENDPOINT"), &self.endpoint)
            .env(remote("ACCESS_KEY_ID"), &self.creds.access_key_id)
            .env(remote("SECRET_ACCESS_KEY"), &self.creds.secret_access_key)
            .env(remote("REGION"), &self.region)
            .env(remote("FORCE_PATH_STYLE"), "true")
            // rclone's AWS SDK refuses any custom CA bundle with rclone's own HTTP transport,
            // and the endpoint is plain http anyway.
            .env_remove("AWS_CA_BUNDLE");
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", rclone()))
    }

    /// Runs `restic args...` on the repository `s3:ENDPOINT/REPO` (`repo` is `bucket/path`),
    /// with [`RESTIC_PASSWORD`]; panics on failure. Returns its output.
    pub fn restic(&self, repo: &str, args: &[&str]) -> Output {
        let out = self.restic_status(repo, args);
        assert!(
            out.status.success(),
            "restic {args:?} failed:\n{}",
            describe(&out)
        );
        out
    }

    /// Runs restic on `repo` and returns its output whatever its exit status.
    pub fn restic_status(&self, repo: &str, args: &[&str]) -> Output {
        let home = tempfile::tempdir().expect("restic home");
        let mut command = Command::new(restic());
        isolate(&mut command, home.path(), "RESTIC_");
        command
            .args(["-o", &format!("s3.region={}", self.region)])
            .args(args)
            .env("RESTIC_REPOSITORY", format!("s3:{}/{repo}", self.endpoint))
            .env("RESTIC_PASSWORD", RESTIC_PASSWORD)
            .env("RESTIC_CACHE_DIR", home.path().join("cache"))
            .env("AWS_ACCESS_KEY_ID", &self.creds.access_key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.creds.secret_access_key)
            .env("AWS_DEFAULT_REGION", &self.region)
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE");
        command
            .output()
            .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", restic()))
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

/// Gives a process `home` as its `HOME` and XDG folders, and drops the variables starting with
/// `prefix` it would otherwise inherit (its own settings from the caller's environment).
fn isolate(command: &mut Command, home: &Path, prefix: &str) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with(prefix) {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("NO_PROXY", "127.0.0.1");
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
