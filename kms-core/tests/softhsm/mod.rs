//! Runs a test against a SoftHSM2 token of its own.
//!
//! SoftHSM reads `SOFTHSM2_CONF` when the library is initialized, and the environment is
//! process-wide (and `set_var` unsafe), so each test runs in a child process of this test
//! binary: the parent makes a token folder and a `softhsm2.conf`, initializes a token with
//! `softhsm2-util`, and re-runs the binary on this one test with `SOFTHSM2_CONF` set; the child
//! finds the variable set and runs the body. Without the SoftHSM module or `softhsm2-util`
//! the test prints a notice and passes (CI installs Debian's `softhsm2`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use kms_core::{Pin, Pkcs11Config, Pkcs11Root, SealMechanism, TokenSelector};

/// Debian's SoftHSM2 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// The label of every test's token (each test has a token folder of its own).
pub const LABEL: &str = "sealgate-test";
/// The user PIN of every test's token.
pub const PIN: &str = "5678";
/// Set in the child: the token folder.
const CHILD: &str = "SEALGATE_TEST_SOFTHSM_TOKENS";

/// Declares `#[test] fn $name` running `$body: fn(&Token)` in a token of its own.
#[macro_export]
macro_rules! softhsm_test {
    ($name:ident, $body:expr) => {
        #[test]
        fn $name() {
            softhsm::run(stringify!($name), $body);
        }
    };
}

/// The child's view of its token.
pub struct Token {
    /// The token folder (`directories.tokendir`).
    pub tokens: PathBuf,
}

impl Token {
    /// A configuration for this token with `sessions` sessions.
    pub fn config(&self, sessions: usize) -> Pkcs11Config {
        let mut config = Pkcs11Config::new(
            MODULE,
            TokenSelector::Label(LABEL.into()),
            Pin::new(PIN.into()),
        );
        config.sessions = sessions;
        config
    }

    /// A root over this token with the default pool.
    pub fn root(&self) -> Pkcs11Root {
        Pkcs11Root::open(&self.config(kms_core::DEFAULT_PKCS11_SESSIONS)).unwrap()
    }

    /// A root over this token with the default pool, sealing with `mechanism`.
    pub fn root_with(&self, mechanism: SealMechanism) -> Pkcs11Root {
        let mut config = self.config(kms_core::DEFAULT_PKCS11_SESSIONS);
        config.mechanism = mechanism;
        Pkcs11Root::open(&config).unwrap()
    }
}

/// In the child, runs `body`; in the parent, sets up a token and runs the child.
pub fn run(name: &str, body: fn(&Token)) {
    if let Some(tokens) = std::env::var_os(CHILD) {
        return body(&Token {
            tokens: tokens.into(),
        });
    }
    if !Path::new(MODULE).exists() || !tool_exists() {
        eprintln!("skipping {name}: SoftHSM2 ({MODULE}, softhsm2-util) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (conf, tokens) = init_token(dir.path());
    run_child(name, &conf, &tokens);
}

fn tool_exists() -> bool {
    Command::new("softhsm2-util")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success())
}

/// Writes `softhsm2.conf` and initializes a token in `dir/tokens`.
fn init_token(dir: &Path) -> (PathBuf, PathBuf) {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    let text = format!(
        "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
        tokens.display()
    );
    std::fs::write(&conf, text).unwrap();
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", LABEL])
        .args(["--so-pin", "1234", "--pin", PIN])
        .env("SOFTHSM2_CONF", &conf)
        .output()
        .unwrap();
    assert!(out.status.success(), "softhsm2-util: {out:?}");
    (conf, tokens)
}

/// Re-runs this binary on test `name` alone, with the token's configuration.
fn run_child(name: &str, conf: &Path, tokens: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", conf)
        .env(CHILD, tokens)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "child test {name} failed");
    assert!(stdout.contains("1 passed"), "child ran no test {name}");
}
