//! Admin commands that open a data dir offline, with the gateway stopped:
//! `sealgate migrate-root` moves a software-rooted installation onto an HSM, and
//! `sealgate hsm-objects` shows what the HSM token holds.
//!
//! Migration, in place and repeatable (a second run, or a run after a crash, finishes the
//! first): the data dir's root key stays as the legacy root and the token becomes the primary
//! one ([`kms_core::MigratingRoot`]); every master key gets a new version in the token that
//! becomes current (old versions keep decrypting), the key store's own key and the identity
//! store's secrets key move into the token, and the audit seal key is sealed anew under a token
//! key. Objects' data keys are re-wrapped afterwards through the running gateway with
//! `sealgate rewrap`; docs/hsm.md gives the whole procedure.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::config::{DEFAULT_DATA_DIR, RootConfig, RootOptions};
use crate::startup::{self, StartupError};

/// Options of `sealgate migrate-root` and `sealgate hsm-objects`.
#[derive(Debug, Args)]
pub struct HsmOptions {
    /// The gateway's data dir (the gateway must be stopped).
    #[arg(long, env = "SEALGATE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The HSM (`--root-of-trust pkcs11` and its module, token and PIN).
    #[command(flatten)]
    pub root: RootOptions,
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("key management: {0}")]
    Kms(#[from] kms_core::Error),
    #[error("identity store: {0}")]
    Identities(#[from] iam::Error),
    #[error("this command needs the HSM: --root-of-trust pkcs11 and its options")]
    NotPkcs11,
    #[error("no root key in {0}: nothing to migrate")]
    NothingToMigrate(PathBuf),
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Moves the installation in `options.data_dir` onto the HSM; prints what moved.
pub fn migrate_root(options: &HsmOptions) -> Result<(), AdminError> {
    let data_dir = &options.data_dir;
    let RootConfig::Pkcs11 { .. } = options.root.resolve()? else {
        return Err(AdminError::NotPkcs11);
    };
    if !data_dir.join(startup::ROOT_KEY_FILE).exists() {
        return Err(AdminError::NothingToMigrate(data_dir.clone()));
    }
    let root = startup::open_root(&options.root.resolve()?, data_dir, false)?;

    let kms = kms_core::Kms::open(&data_dir.join("kms"), Arc::clone(&root))?;
    let moved = kms.migrate_root()?;
    let account_id = kms.options().account_id.clone();
    let identities = iam::Iam::open(&data_dir.join("iam"), Arc::clone(&root), &account_id)?;
    let secrets_moved = identities.migrate_root()?;
    let audit_moved = startup::reseal_audit_key(data_dir, root.as_ref())?;
    let legacy = kms.legacy_versions();

    let mut out = std::io::stdout().lock();
    for key_id in &moved.keys_moved {
        writeln!(out, "master key {key_id}: new current version in the HSM")?;
    }
    writeln!(
        out,
        "key store key in the HSM: {}",
        yes(moved.store_key_moved)
    )?;
    writeln!(
        out,
        "identity secrets key in the HSM: {}",
        yes(secrets_moved)
    )?;
    writeln!(out, "audit seal key in the HSM: {}", yes(audit_moved))?;
    writeln!(
        out,
        "{} older versions still open through {}: run `sealgate rewrap` for every bucket \
         before retiring it (docs/hsm.md)",
        legacy.len(),
        data_dir.join(startup::ROOT_KEY_FILE).display()
    )?;
    Ok(())
}

fn yes(moved: bool) -> &'static str {
    if moved { "moved now" } else { "already" }
}

/// Prints every secret-key object of the token, and whether its value can be read (never).
pub fn hsm_objects(options: &HsmOptions) -> Result<(), AdminError> {
    let RootConfig::Pkcs11 {
        module,
        token,
        pin_file,
    } = options.root.resolve()?
    else {
        return Err(AdminError::NotPkcs11);
    };
    let hsm = startup::hsm_root(&module, &token, pin_file.as_deref())?;
    let mut out = std::io::stdout().lock();
    for object in hsm.key_objects()? {
        let line = serde_json::json!({
            "label": object.label,
            "id": hex::encode(&object.id),
            "sensitive": object.sensitive,
            "extractable": object.extractable,
            "wrap": object.wrap,
            "unwrap": object.unwrap,
            "value_readable": object.value_readable,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}
