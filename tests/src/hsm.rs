//! A SoftHSM2 token of its own for a gateway under test: the HSM root of trust, for real.
//!
//! [`SoftHsm::create`] writes a `softhsm2.conf` naming a fresh token folder and initialises a
//! token in it with `softhsm2-util`; [`SoftHsm::configure`] points a `sealgate` command at it
//! (module, token label, PIN, and `SOFTHSM2_CONF`). A gateway runs on it when the test asks for
//! it, or for every gateway when `SEALGATE_TEST_ROOT_OF_TRUST=pkcs11` is set, which is how the
//! test script runs the whole suite a second time on an HSM.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The token's label.
pub const TOKEN_LABEL: &str = "sealgate-test";
/// The token's user PIN.
pub const PIN: &str = "5678";
/// The token's security officer PIN.
const SO_PIN: &str = "1234";

/// Where Debian and others install SoftHSM2's module.
const MODULES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// Whether the whole suite is asked to run on SoftHSM2.
pub fn suite_on_hsm() -> bool {
    std::env::var("SEALGATE_TEST_ROOT_OF_TRUST").is_ok_and(|v| v == "pkcs11")
}

/// SoftHSM2's module on this machine.
pub fn module() -> PathBuf {
    let found = MODULES.iter().map(PathBuf::from).find(|p| p.exists());
    found.expect("SoftHSM2 is not installed (Debian: apt install softhsm2)")
}

/// A token folder and its configuration; removed when dropped.
#[derive(Debug)]
pub struct SoftHsm {
    dir: tempfile::TempDir,
}

impl SoftHsm {
    /// A new token, initialised and ready for its user PIN.
    pub fn create() -> SoftHsm {
        let dir = tempfile::tempdir().expect("token dir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("tokens folder");
        let conf = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        );
        std::fs::write(dir.path().join("softhsm2.conf"), conf).expect("softhsm2.conf");
        let hsm = SoftHsm { dir };
        let out = hsm
            .util()
            .args(["--init-token", "--free", "--label", TOKEN_LABEL])
            .args(["--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .expect("softhsm2-util runs");
        assert!(out.status.success(), "softhsm2-util: {out:?}");
        hsm
    }

    /// The configuration file `SOFTHSM2_CONF` names.
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// The folder SoftHSM2 keeps the token's objects in.
    pub fn token_dir(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    /// `softhsm2-util` on this token's configuration.
    pub fn util(&self) -> Command {
        let mut command = Command::new("softhsm2-util");
        command.env("SOFTHSM2_CONF", self.conf());
        command
    }

    /// Points a `sealgate` command at this token: root of trust, module, label, PIN.
    pub fn configure(&self, command: &mut Command) {
        command
            .env("SOFTHSM2_CONF", self.conf())
            .env("SEALGATE_ROOT_OF_TRUST", "pkcs11")
            .env("SEALGATE_PKCS11_MODULE", module())
            .env("SEALGATE_PKCS11_TOKEN_LABEL", TOKEN_LABEL)
            .env("SEALGATE_PKCS11_PIN", PIN);
    }

    /// The token folder's path, for tests that look at what it holds.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}
