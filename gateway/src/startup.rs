//! Start-up: turn a [`Config`] into a running [`App`].
//!
//! Opens the root of trust (a root key generated on first start, mode 0600), the key store and
//! its default master key, the root credentials (from the environment, or generated on first
//! start, printed once and kept encrypted under the default master key), and the backend; then
//! listens.

use std::path::Path;
use std::sync::Arc;

use kms_core::{EncryptionContext, Kms, SoftwareRoot};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::auth::{Credential, SecretKey, StaticCredentials};
use crate::backend::Backend;
use crate::config::Config;
use crate::keys::DataKeys;
use crate::metrics::{Counted, Metrics};
use crate::server::App;

/// The environment variables that set the root credentials.
const ACCESS_KEY_ENV: &str = "SEALGATE_ACCESS_KEY_ID";
const SECRET_KEY_ENV: &str = "SEALGATE_SECRET_ACCESS_KEY";
/// Where generated root credentials are kept, relative to the data dir.
const CREDENTIALS_FILE: &str = "root-credentials.json";
/// The principal name of the root credentials.
pub const ROOT_PRINCIPAL: &str = "root";

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

/// Builds the application from `config`: root of trust, key store, credentials, backend.
pub async fn build(config: &Config) -> Result<Arc<App>, StartupError> {
    create_dir(&config.data_dir)?;
    let (root, created) = SoftwareRoot::load_or_create(&config.data_dir.join("root.key"))?;
    if created {
        tracing::info!(path = %config.data_dir.join("root.key").display(), "root key generated");
    }
    let kms = Arc::new(Kms::open(&config.data_dir.join("kms"), Arc::new(root))?);
    let default_key = kms.default_key()?;
    tracing::info!(key_id = %default_key.key_id, "default master key ready");

    let credentials = root_credentials(&kms, &config.data_dir)?;
    let metrics = Arc::new(Metrics::default());
    let backend = crate::backend::open(&config.backend).await?;
    let backend = Arc::new(Counted::new(backend, metrics.clone()));
    Ok(Arc::new(App {
        records: backend.records(),
        backend,
        metrics,
        keys: DataKeys::new(kms),
        credentials: Arc::new(StaticCredentials::new(vec![credentials])),
        region: config.region.clone(),
        virtual_host_domains: config.virtual_host_domains.clone(),
    }))
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
    tokio::spawn(run_key_schedule(Arc::clone(app.keys.kms())));
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
async fn run_key_schedule(kms: Arc<Kms>) {
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
            Ok((rotated, deleted)) => log_schedule(rotated, deleted),
            Err(e) => tracing::error!(error = %e, "key schedule task failed"),
        }
    }
}

fn log_schedule(
    rotated: Result<Vec<kms_core::KeyRotation>, kms_core::Error>,
    deleted: Result<Vec<String>, kms_core::Error>,
) {
    match rotated {
        Ok(rotations) => rotations.iter().for_each(|r| {
            tracing::info!(key_id = %r.key_id, version = r.key_version, "master key rotated");
        }),
        Err(e) => tracing::error!(error = %e, "scheduled rotation failed; retried next time"),
    }
    match deleted {
        // Crypto-erase: every object under the key is unreadable from here on.
        Ok(keys) => keys.iter().for_each(|key_id| {
            tracing::warn!(key_id = %key_id, "master key material destroyed after its waiting period");
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
        principal: ROOT_PRINCIPAL.to_owned(),
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
