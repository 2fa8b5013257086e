//! Start-up: turn a [`Config`] into a running [`App`].
//!
//! Opens the root of trust (a root key generated on first start, mode 0600), the key store and
//! its default master key, the identity store, the audit trail (its seal key kept sealed by the
//! root of trust), the root credentials (from the environment, or generated on first start,
//! printed once and kept encrypted under the default master key), and the backend; then
//! listens.

use std::path::Path;
use std::sync::Arc;

use kms_core::{EncryptionContext, Kms, SoftwareRoot};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::auth::{Credential, IdentityCredentials, SecretKey};
use crate::authz::Authorizer;
use crate::backend::Backend;
use crate::config::{AuditConfig, AuditDurability, Config, RootConfig, TokenChoice};
use crate::keys::DataKeys;
use crate::metrics::{Counted, Metrics};
use crate::server::App;
use crate::trail::Trail;

/// The environment variables that set the root credentials.
const ACCESS_KEY_ENV: &str = "SEALGATE_ACCESS_KEY_ID";
const SECRET_KEY_ENV: &str = "SEALGATE_SECRET_ACCESS_KEY";
/// Where generated root credentials are kept, relative to the data dir.
const CREDENTIALS_FILE: &str = "root-credentials.json";

/// Why Sealgate could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot use data dir {path}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("key management: {0}")]
    Kms(#[from] kms_core::Error),
    #[error("backend: {0}")]
    Backend(#[from] crate::backend::BackendError),
    #[error("root credentials: {0}")]
    Credentials(String),
    #[error("identity store: {0}")]
    Identities(#[from] iam::Error),
    #[error("audit trail: {0}")]
    Audit(#[from] audit::Error),
    #[error("HSM PIN: {0}")]
    Pin(String),
    #[error("audit seal key {path}: {reason}")]
    AuditKey {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("cannot listen on {addr}")]
    Listen {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The stored form of generated root credentials: the secret is a KMS ciphertext blob.
#[derive(Serialize, Deserialize)]
struct StoredCredentials {
    access_key_id: String,
    encrypted_secret: String,
}

/// Builds the application from `config`: root of trust, key store, identities, audit trail,
/// credentials, backend.
pub async fn build(config: &Config) -> Result<Arc<App>, StartupError> {
    create_dir(&config.data_dir)?;
    let root = open_root(&config.root, &config.data_dir, true)?;
    let kms = Arc::new(Kms::open(&config.data_dir.join("kms"), Arc::clone(&root))?);
    let default_key = kms.default_key()?;
    tracing::info!(key_id = %default_key.key_id, "default master key ready");
    let account_id = kms.options().account_id.clone();
    let identities = Arc::new(iam::Iam::open(
        &config.data_dir.join("iam"),
        Arc::clone(&root),
        &account_id,
    )?);
    let trail = open_trail(&config.data_dir, root.as_ref(), &config.audit)?;

    let credentials = root_credentials(&kms, &config.data_dir)?;
    let metrics = Arc::new(Metrics::default());
    let backend = crate::backend::open(&config.backend).await?;
    let backend = Arc::new(Counted::new(backend, metrics.clone()));
    Ok(Arc::new(App {
        records: backend.records(),
        backend,
        metrics,
        authz: Authorizer::new(Arc::clone(&identities), Arc::clone(&kms), &account_id),
        credentials: Arc::new(IdentityCredentials::new(credentials, identities)),
        keys: DataKeys::new(kms),
        trail: Arc::new(trail),
        region: config.region.clone(),
        virtual_host_domains: config.virtual_host_domains.clone(),
    }))
}

/// The environment variable holding the HSM token's user PIN.
pub const PIN_ENV: &str = "SEALGATE_PKCS11_PIN";

/// The root key's file in the data dir.
pub const ROOT_KEY_FILE: &str = "root.key";

/// The root of trust `config` names. The software root is the root key in the data dir,
/// generated on first start when `create`. The HSM root is the token; while the data dir still
/// holds a root key (an installation moved onto the HSM with `sealgate migrate-root`), versions
/// made under it keep opening through it, and new ones are made in the token.
pub fn open_root(
    config: &RootConfig,
    data_dir: &Path,
    create: bool,
) -> Result<Arc<dyn kms_core::RootOfTrust>, StartupError> {
    let path = data_dir.join(ROOT_KEY_FILE);
    let RootConfig::Pkcs11 {
        module,
        token,
        pin_file,
    } = config
    else {
        if !create && !path.exists() {
            return Err(missing(path));
        }
        return Ok(Arc::new(software_root(&path)?));
    };
    let hsm = hsm_root(module, token, pin_file.as_deref())?;
    if !path.exists() {
        return Ok(Arc::new(hsm));
    }
    tracing::info!(path = %path.display(), "root key kept for versions made before the HSM");
    let legacy = software_root(&path)?;
    Ok(Arc::new(kms_core::MigratingRoot::new(
        Arc::new(hsm),
        Arc::new(legacy),
    )))
}

/// The HSM token, logged in.
pub fn hsm_root(
    module: &Path,
    token: &TokenChoice,
    pin_file: Option<&Path>,
) -> Result<kms_core::Pkcs11Root, StartupError> {
    let token = match token {
        TokenChoice::Label(label) => kms_core::TokenSelector::Label(label.clone()),
        TokenChoice::Slot(slot) => kms_core::TokenSelector::Slot(*slot),
    };
    let pin = read_pin(pin_file)?;
    let hsm = kms_core::Pkcs11Root::open(&kms_core::Pkcs11Config::new(module, token, pin))?;
    tracing::info!(module = %module.display(), "HSM root of trust open");
    Ok(hsm)
}

fn software_root(path: &Path) -> Result<SoftwareRoot, StartupError> {
    let (root, created) = SoftwareRoot::load_or_create(path)?;
    if created {
        tracing::info!(path = %path.display(), "root key generated");
    }
    Ok(root)
}

fn missing(path: std::path::PathBuf) -> StartupError {
    StartupError::DataDir {
        path,
        source: std::io::Error::from(std::io::ErrorKind::NotFound),
    }
}

/// The HSM PIN: from [`PIN_ENV`], else from the PIN file (its first line).
fn read_pin(pin_file: Option<&Path>) -> Result<kms_core::Pin, StartupError> {
    if let Ok(pin) = std::env::var(PIN_ENV) {
        return Ok(kms_core::Pin::new(pin));
    }
    let Some(path) = pin_file else {
        return Err(StartupError::Pin(format!(
            "set {PIN_ENV} or pkcs11_pin_file"
        )));
    };
    let read = std::fs::read_to_string(path).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })?;
    let text = Zeroizing::new(read);
    Ok(kms_core::Pin::new(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

/// Where the audit trail lives in the data dir.
pub fn audit_dir(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("audit")
}

fn open_trail(
    data_dir: &Path,
    root: &dyn kms_core::RootOfTrust,
    config: &AuditConfig,
) -> Result<Trail, StartupError> {
    let key = audit_seal_key(data_dir, root, true)?;
    let durability = match config.durability {
        AuditDurability::EveryEvent => audit::Durability::EveryEvent,
        AuditDurability::Batched => audit::Durability::default(),
    };
    let options = audit::AuditOptions {
        max_file_bytes: config.max_file_bytes,
        max_file_age: config.max_file_age,
        durability,
    };
    let log = audit::AuditLog::open(&audit_dir(data_dir), key, options)?;
    Ok(Trail::new(log))
}

/// The file keeping the audit seal key, sealed by the root of trust.
const AUDIT_KEY_FILE: &str = "audit-seal.key";
/// The name the root of trust knows the audit seal key's wrapping key by.
const AUDIT_KEY_NAME: &str = "sealgate-audit-seal";
/// Associated data binding the sealed seal key to its purpose. Do not change: the audit files
/// already sealed can only be verified with the key it opens.
const AUDIT_KEY_AAD: &[u8] = b"sealgate audit seal key v1";

/// Seals `key` under a new key of the root of trust and writes it to `path`.
fn store_seal_key(
    path: &Path,
    root: &dyn kms_core::RootOfTrust,
    key: &audit::SealKey,
) -> Result<(), StartupError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let fail = |reason: String| StartupError::AuditKey {
        path: path.to_owned(),
        reason,
    };
    let handle = root.create_version(AUDIT_KEY_NAME, 1)?;
    let sealed = root.seal(&handle, AUDIT_KEY_AAD, key.expose().as_slice())?;
    let stored = StoredSealKey {
        handle: STANDARD.encode(&handle),
        sealed: STANDARD.encode(&sealed),
    };
    let json = serde_json::to_vec_pretty(&stored).map_err(|e| fail(e.to_string()))?;
    write_private(path, &json).map_err(|e| fail(e.to_string()))
}

/// The stored form of the audit seal key: a root-of-trust handle and the key sealed under it.
#[derive(Serialize, Deserialize)]
struct StoredSealKey {
    handle: String,
    sealed: String,
}

/// Seals the audit seal key anew under a key the root of trust makes now, unless it already is
/// under one of the root's primary keys; returns whether it moved. Repeatable: the file is
/// replaced atomically.
pub fn reseal_audit_key(
    data_dir: &Path,
    root: &dyn kms_core::RootOfTrust,
) -> Result<bool, StartupError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let path = data_dir.join(AUDIT_KEY_FILE);
    let fail = |reason: String| StartupError::AuditKey {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    let stored: StoredSealKey = serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
    let handle = STANDARD
        .decode(&stored.handle)
        .map_err(|e| fail(e.to_string()))?;
    if root.is_primary(&handle) {
        return Ok(false);
    }
    let key = audit_seal_key(data_dir, root, false)?;
    store_seal_key(&path, root, &key)?;
    Ok(true)
}

/// The key that signs audit file seals: 32 random bytes made on first start, kept sealed by the
/// root of trust in the data dir, so only someone holding the root can forge a seal.
pub fn audit_seal_key(
    data_dir: &Path,
    root: &dyn kms_core::RootOfTrust,
    create: bool,
) -> Result<audit::SealKey, StartupError> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let path = data_dir.join(AUDIT_KEY_FILE);
    let fail = |reason: String| StartupError::AuditKey {
        path: path.clone(),
        reason,
    };
    if !path.exists() {
        if !create {
            return Err(fail("missing".to_owned()));
        }
        let key = audit::SealKey::from_bytes(rand::random());
        store_seal_key(&path, root, &key)?;
        return Ok(key);
    }
    let text = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
    let stored: StoredSealKey = serde_json::from_slice(&text).map_err(|e| fail(e.to_string()))?;
    let decode = |field: &str| STANDARD.decode(field).map_err(|e| fail(e.to_string()));
    let (handle, sealed) = (decode(&stored.handle)?, decode(&stored.sealed)?);
    let opened = root.open(&handle, AUDIT_KEY_AAD, &sealed)?;
    let bytes: [u8; audit::SEAL_KEY_LEN] = opened
        .as_bytes()
        .try_into()
        .map_err(|_| fail("not a 32-byte key".to_owned()))?;
    Ok(audit::SealKey::from_bytes(bytes))
}

/// Builds the application and serves it until a shutdown signal.
pub async fn run(config: Config) -> Result<(), StartupError> {
    let app = build(&config).await?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartupError::Listen {
            addr: config.listen,
            source,
        })?;
    tracing::info!(address = %config.listen, data_dir = %config.data_dir.display(), "listening");
    tokio::spawn(run_key_schedule(
        Arc::clone(app.keys.kms()),
        Arc::clone(&app.trail),
    ));
    crate::server::serve(app, listener)
        .await
        .map_err(|source| StartupError::Listen {
            addr: config.listen,
            source,
        })
}

/// How often scheduled rotations and deletions are looked for.
const KEY_SCHEDULE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Performs scheduled rotations and deletions that are due, at start-up (catching up on dates
/// missed while the process was down) and every [`KEY_SCHEDULE_INTERVAL`] after. The schedule
/// lives in the key store, so nothing is lost across restarts.
async fn run_key_schedule(kms: Arc<Kms>, trail: Arc<Trail>) {
    let mut ticks = tokio::time::interval(KEY_SCHEDULE_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let kms = Arc::clone(&kms);
        let done = tokio::task::spawn_blocking(move || {
            let now = time::OffsetDateTime::now_utc();
            (kms.rotate_due(now), kms.delete_due(now))
        })
        .await;
        match done {
            Ok((rotated, deleted)) => log_schedule(&trail, rotated, deleted),
            Err(e) => tracing::error!(error = %e, "key schedule task failed"),
        }
    }
}

fn log_schedule(
    trail: &Trail,
    rotated: Result<Vec<kms_core::KeyRotation>, kms_core::Error>,
    deleted: Result<Vec<String>, kms_core::Error>,
) {
    match rotated {
        Ok(rotations) => rotations.iter().for_each(|r| {
            tracing::info!(key_id = %r.key_id, version = r.key_version, "master key rotated");
            trail.system("kms:RotateKey", &r.key_id, Some(r.key_version));
        }),
        Err(e) => tracing::error!(error = %e, "scheduled rotation failed; retried next time"),
    }
    match deleted {
        // Crypto-erase: every object under the key is unreadable from here on.
        Ok(keys) => keys.iter().for_each(|key_id| {
            tracing::warn!(key_id = %key_id, "master key material destroyed after its waiting period");
            trail.system("kms:DeleteKey", key_id, None);
        }),
        Err(e) => tracing::error!(error = %e, "scheduled deletion failed; retried next time"),
    }
}

fn create_dir(path: &Path) -> Result<(), StartupError> {
    std::fs::create_dir_all(path).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })
}

fn credentials_context() -> EncryptionContext {
    let mut context = EncryptionContext::new();
    context.insert("sealgate:purpose".to_owned(), "root-credentials".to_owned());
    context
}

/// The root credentials: from the environment, from the data dir, or generated now.
fn root_credentials(kms: &Kms, data_dir: &Path) -> Result<Credential, StartupError> {
    if let (Ok(id), Ok(secret)) = (std::env::var(ACCESS_KEY_ENV), std::env::var(SECRET_KEY_ENV)) {
        return Ok(credential(id, Zeroizing::new(secret)));
    }
    let path = data_dir.join(CREDENTIALS_FILE);
    if path.exists() {
        return load_credentials(kms, &path);
    }
    let (id, secret) = generate_credentials();
    store_credentials(kms, &path, &id, &secret)?;
    print_credentials(&id, &secret);
    Ok(credential(id, secret))
}

fn credential(access_key_id: String, secret: Zeroizing<String>) -> Credential {
    Credential {
        access_key_id,
        principal: crate::auth::Principal::Root,
        secret: SecretKey::new(secret.as_str()),
    }
}

fn generate_credentials() -> (String, Zeroizing<String>) {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const ANY: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    let mut pick = |alphabet: &[u8]| {
        let index = rng.random_range(0..alphabet.len());
        alphabet.get(index).map_or('A', |&b| char::from(b))
    };
    let id = std::iter::once("SG".to_owned())
        .chain((0..18).map(|_| pick(UPPER).to_string()))
        .collect();
    let secret = Zeroizing::new((0..40).map(|_| pick(ANY)).collect());
    (id, secret)
}

fn store_credentials(
    kms: &Kms,
    path: &Path,
    access_key_id: &str,
    secret: &str,
) -> Result<(), StartupError> {
    let key = kms.default_key()?;
    let blob = kms.encrypt(&key.key_id, secret.as_bytes(), &credentials_context())?;
    let stored = StoredCredentials {
        access_key_id: access_key_id.to_owned(),
        encrypted_secret: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, blob),
    };
    let json = serde_json::to_vec_pretty(&stored)
        .map_err(|error| StartupError::Credentials(error.to_string()))?;
    write_private(path, &json).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })
}

fn load_credentials(kms: &Kms, path: &Path) -> Result<Credential, StartupError> {
    let text = std::fs::read(path).map_err(|source| StartupError::DataDir {
        path: path.to_owned(),
        source,
    })?;
    let stored: StoredCredentials = serde_json::from_slice(&text)
        .map_err(|error| StartupError::Credentials(format!("{}: {error}", path.display())))?;
    let blob = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &stored.encrypted_secret,
    )
    .map_err(|error| StartupError::Credentials(format!("{}: {error}", path.display())))?;
    let plaintext = kms.decrypt(&blob, &credentials_context())?;
    let secret = String::from_utf8(plaintext.plaintext.as_bytes().to_vec())
        .map_err(|_| StartupError::Credentials("stored secret is not UTF-8".to_owned()))?;
    Ok(credential(stored.access_key_id, Zeroizing::new(secret)))
}

/// Writes a file readable by its owner only, atomically.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// Prints generated credentials once, on standard output, never through the log.
#[allow(clippy::print_stdout)]
fn print_credentials(access_key_id: &str, secret: &str) {
    println!("Sealgate generated root credentials (shown once, kept encrypted in the data dir):");
    println!("  AWS_ACCESS_KEY_ID={access_key_id}");
    println!("  AWS_SECRET_ACCESS_KEY={secret}");
}
