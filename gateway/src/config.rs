//! Configuration: the one struct every part of Sealgate is set up from.
//!
//! A setting comes from, in order of precedence, the command line, its environment variable
//! (`SEALGATE_` and the option's name in capitals), the TOML file named by `--config`, and the
//! default documented on the field. `sealgate.example.toml` at the repository root lists them all.
//! Everything is validated here, at start-up, so that a bad setting stops the process before it
//! listens.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::{BackendConfig, SecretKey};

/// Where the default configuration keeps its state when `--data-dir` is not given.
pub const DEFAULT_DATA_DIR: &str = "sealgate-data";
/// Where the gateway listens when `--listen` is not given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8300";
/// The region Sealgate reports and expects in signatures when `--region` is not given.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Options of `sealgate serve`, as given on the command line, in the environment or in the file.
///
/// Every field is optional here; [`Config::resolve`] fills in the defaults.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct ServeOptions {
    /// A TOML file with any of these options (command line and environment win over it).
    #[arg(long, env = "SEALGATE_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8300].
    #[arg(long, env = "SEALGATE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Folder for all state: backend folder, key store, root key, credentials
    /// [default: ./sealgate-data].
    #[arg(long, env = "SEALGATE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The region clients sign for and Sealgate reports [default: us-east-1].
    #[arg(long, env = "SEALGATE_REGION")]
    pub region: Option<String>,
    /// Domains for virtual-hosted-style requests (`BUCKET.DOMAIN`), comma separated.
    #[arg(long, env = "SEALGATE_VIRTUAL_HOST_DOMAINS", value_delimiter = ',')]
    pub virtual_host_domains: Option<Vec<String>>,
    /// URL of an S3 server to store objects in, instead of the data dir's `objects/` folder.
    #[arg(long, env = "SEALGATE_BACKEND_ENDPOINT")]
    pub backend_endpoint: Option<String>,
    /// Region of the backend S3 server [default: us-east-1].
    #[arg(long, env = "SEALGATE_BACKEND_REGION")]
    pub backend_region: Option<String>,
    /// Access key id for the backend S3 server.
    #[arg(long, env = "SEALGATE_BACKEND_ACCESS_KEY_ID")]
    pub backend_access_key_id: Option<String>,
    /// Secret access key for the backend S3 server (prefer the environment variable).
    #[arg(
        long,
        env = "SEALGATE_BACKEND_SECRET_ACCESS_KEY",
        hide_env_values = true
    )]
    pub backend_secret_access_key: Option<String>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "SEALGATE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, as `RUST_LOG` [default: info].
    #[arg(long, env = "SEALGATE_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Where master-key material lives: `software` (a root key in the data dir) or `pkcs11` (an
    /// HSM through its PKCS#11 module) [default: software].
    #[arg(long, env = "SEALGATE_ROOT_OF_TRUST")]
    pub root_of_trust: Option<RootOfTrustKind>,
    /// The PKCS#11 module (shared library) of the HSM, such as
    /// `/usr/lib/softhsm/libsofthsm2.so`.
    #[arg(long, env = "SEALGATE_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the HSM token to use.
    #[arg(long, env = "SEALGATE_PKCS11_TOKEN_LABEL")]
    pub pkcs11_token_label: Option<String>,
    /// The slot of the HSM token, instead of its label.
    #[arg(long, env = "SEALGATE_PKCS11_SLOT")]
    pub pkcs11_slot: Option<u64>,
    /// A file holding the token's user PIN (mode 0600). The PIN may instead come from the
    /// environment variable SEALGATE_PKCS11_PIN; never from the command line or this file in
    /// clear.
    #[arg(long, env = "SEALGATE_PKCS11_PIN_FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
    /// When audit events reach the disk: `batched` (fsync at most a second after an event; an
    /// operating-system crash can lose that second) or `every-event` (fsync before each
    /// response) [default: batched].
    #[arg(long, env = "SEALGATE_AUDIT_DURABILITY")]
    pub audit_durability: Option<AuditDurability>,
    /// Size at which an audit file is sealed and a new one begun, in MiB [default: 64].
    #[arg(long, env = "SEALGATE_AUDIT_MAX_FILE_MB")]
    pub audit_max_file_mb: Option<u64>,
    /// Age at which an audit file is sealed and a new one begun, in seconds [default: 3600].
    #[arg(long, env = "SEALGATE_AUDIT_MAX_FILE_AGE_SECS")]
    pub audit_max_file_age_secs: Option<u64>,
}

/// Where master-key material lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RootOfTrustKind {
    /// A root key in a 0600 file in the data dir.
    #[default]
    Software,
    /// An HSM, through its PKCS#11 module.
    Pkcs11,
}

/// The root of trust, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootConfig {
    /// The root key in `DATA_DIR/root.key`.
    Software,
    /// An HSM token.
    Pkcs11 {
        /// The module's path.
        module: PathBuf,
        /// Which token.
        token: TokenChoice,
        /// A file with the PIN, if the PIN does not come from the environment.
        pin_file: Option<PathBuf>,
    },
}

/// How the HSM token is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenChoice {
    /// By its label.
    Label(String),
    /// By its slot id.
    Slot(u64),
}

/// When audit events are forced to the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuditDurability {
    /// Written before the response, forced to disk at most a second later.
    #[default]
    Batched,
    /// Forced to disk before the response.
    EveryEvent,
}

/// How the audit trail is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditConfig {
    /// When events are forced to disk.
    pub durability: AuditDurability,
    /// Size at which a file is sealed.
    pub max_file_bytes: u64,
    /// Age at which a file is sealed.
    pub max_file_age: std::time::Duration,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved configuration, every default filled in and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the gateway listens on.
    pub listen: SocketAddr,
    /// Folder for all state.
    pub data_dir: PathBuf,
    /// The region Sealgate reports and expects in signatures.
    pub region: String,
    /// Domains for virtual-hosted-style requests.
    pub virtual_host_domains: Vec<String>,
    /// Where objects are stored.
    pub backend: BackendConfig,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// How the audit trail is written.
    pub audit: AuditConfig,
    /// Where master-key material lives.
    pub root: RootConfig,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML for these options.
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    /// A setting has a value Sealgate cannot use.
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl ServeOptions {
    /// Fills every option not given here from `file`.
    fn or(self, file: ServeOptions) -> ServeOptions {
        ServeOptions {
            config: self.config,
            listen: self.listen.or(file.listen),
            data_dir: self.data_dir.or(file.data_dir),
            region: self.region.or(file.region),
            virtual_host_domains: self.virtual_host_domains.or(file.virtual_host_domains),
            backend_endpoint: self.backend_endpoint.or(file.backend_endpoint),
            backend_region: self.backend_region.or(file.backend_region),
            backend_access_key_id: self.backend_access_key_id.or(file.backend_access_key_id),
            backend_secret_access_key: self
                .backend_secret_access_key
                .or(file.backend_secret_access_key),
            log_format: self.log_format.or(file.log_format),
            log_level: self.log_level.or(file.log_level),
            root_of_trust: self.root_of_trust.or(file.root_of_trust),
            pkcs11_module: self.pkcs11_module.or(file.pkcs11_module),
            pkcs11_token_label: self.pkcs11_token_label.or(file.pkcs11_token_label),
            pkcs11_slot: self.pkcs11_slot.or(file.pkcs11_slot),
            pkcs11_pin_file: self.pkcs11_pin_file.or(file.pkcs11_pin_file),
            audit_durability: self.audit_durability.or(file.audit_durability),
            audit_max_file_mb: self.audit_max_file_mb.or(file.audit_max_file_mb),
            audit_max_file_age_secs: self
                .audit_max_file_age_secs
                .or(file.audit_max_file_age_secs),
        }
    }
}

impl Config {
    /// Merges the options with the config file they name, applies defaults and validates.
    pub fn resolve(options: ServeOptions) -> Result<Config, ConfigError> {
        let options = match options.config.clone() {
            Some(path) => options.or(read_file(&path)?),
            None => options,
        };
        let data_dir = options
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let region = options
            .region
            .clone()
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        validate_region("region", &region)?;
        let backend = backend_config(&data_dir, &options.backend_endpoint, &options)?;
        let audit = audit_config(&options)?;
        let root = root_config(&RootOptions::from(&options))?;

        Ok(Config {
            listen: options.listen.unwrap_or_else(default_listen),
            data_dir,
            region,
            virtual_host_domains: options.virtual_host_domains.unwrap_or_default(),
            backend,
            log_format: options.log_format.unwrap_or_default(),
            log_level: options.log_level.unwrap_or_else(|| "info".to_owned()),
            audit,
            root,
        })
    }
}

/// The root-of-trust options of the admin commands that open a data dir offline
/// (`sealgate audit verify`, `sealgate migrate-root`): the same names and variables as serve's.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct RootOptions {
    /// `software` or `pkcs11` [default: software].
    #[arg(long, env = "SEALGATE_ROOT_OF_TRUST")]
    pub root_of_trust: Option<RootOfTrustKind>,
    /// The PKCS#11 module of the HSM.
    #[arg(long, env = "SEALGATE_PKCS11_MODULE")]
    pub pkcs11_module: Option<PathBuf>,
    /// The label of the HSM token.
    #[arg(long, env = "SEALGATE_PKCS11_TOKEN_LABEL")]
    pub pkcs11_token_label: Option<String>,
    /// The slot of the HSM token, instead of its label.
    #[arg(long, env = "SEALGATE_PKCS11_SLOT")]
    pub pkcs11_slot: Option<u64>,
    /// A file holding the token's PIN (or set SEALGATE_PKCS11_PIN).
    #[arg(long, env = "SEALGATE_PKCS11_PIN_FILE")]
    pub pkcs11_pin_file: Option<PathBuf>,
}

impl RootOptions {
    /// The root of trust these options name.
    pub fn resolve(&self) -> Result<RootConfig, ConfigError> {
        root_config(self)
    }
}

impl From<&ServeOptions> for RootOptions {
    fn from(options: &ServeOptions) -> RootOptions {
        RootOptions {
            root_of_trust: options.root_of_trust,
            pkcs11_module: options.pkcs11_module.clone(),
            pkcs11_token_label: options.pkcs11_token_label.clone(),
            pkcs11_slot: options.pkcs11_slot,
            pkcs11_pin_file: options.pkcs11_pin_file.clone(),
        }
    }
}

fn root_config(options: &RootOptions) -> Result<RootConfig, ConfigError> {
    let invalid = |name, reason: &str| ConfigError::Invalid {
        name,
        reason: reason.to_owned(),
    };
    if options.root_of_trust.unwrap_or_default() == RootOfTrustKind::Software {
        return Ok(RootConfig::Software);
    }
    let module = options.pkcs11_module.clone().ok_or_else(|| {
        invalid(
            "pkcs11_module",
            "root_of_trust pkcs11 needs the module's path",
        )
    })?;
    let token = match (&options.pkcs11_token_label, options.pkcs11_slot) {
        (Some(label), None) => TokenChoice::Label(label.clone()),
        (None, Some(slot)) => TokenChoice::Slot(slot),
        _ => {
            let reason = "give exactly one of pkcs11_token_label and pkcs11_slot";
            return Err(invalid("pkcs11_token_label", reason));
        }
    };
    Ok(RootConfig::Pkcs11 {
        module,
        token,
        pin_file: options.pkcs11_pin_file.clone(),
    })
}

fn audit_config(options: &ServeOptions) -> Result<AuditConfig, ConfigError> {
    let megabytes = options.audit_max_file_mb.unwrap_or(64);
    let seconds = options.audit_max_file_age_secs.unwrap_or(3600);
    if megabytes == 0 || seconds == 0 {
        return Err(ConfigError::Invalid {
            name: "audit_max_file_mb",
            reason: "audit files need a size and an age above zero".to_owned(),
        });
    }
    Ok(AuditConfig {
        durability: options.audit_durability.unwrap_or_default(),
        max_file_bytes: megabytes.saturating_mul(1024 * 1024),
        max_file_age: std::time::Duration::from_secs(seconds),
    })
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8300))
}

fn read_file(path: &Path) -> Result<ServeOptions, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

fn validate_region(name: &'static str, region: &str) -> Result<(), ConfigError> {
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            name,
            reason: format!("{region:?} is not a region name"),
        })
    }
}

fn backend_config(
    data_dir: &Path,
    endpoint: &Option<String>,
    options: &ServeOptions,
) -> Result<BackendConfig, ConfigError> {
    let Some(endpoint) = endpoint else {
        return Ok(BackendConfig::Folder {
            root: data_dir.join("objects"),
        });
    };
    let url = endpoint.trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            name: "backend_endpoint",
            reason: format!("{url:?} is not an http:// or https:// URL"),
        });
    }
    let region = options
        .backend_region
        .clone()
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    validate_region("backend_region", &region)?;
    let (Some(access_key_id), Some(secret)) = (
        options.backend_access_key_id.clone(),
        options.backend_secret_access_key.clone(),
    ) else {
        return Err(ConfigError::Invalid {
            name: "backend_access_key_id",
            reason: "an S3 backend needs an access key id and a secret access key".to_owned(),
        });
    };
    Ok(BackendConfig::S3 {
        endpoint: url.to_owned(),
        region,
        access_key_id,
        secret: SecretKey::new(secret),
        allow_http: url.starts_with("http://"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_use_the_local_folder() {
        let config = Config::resolve(ServeOptions::default()).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.region, "us-east-1");
        assert!(matches!(config.backend, BackendConfig::Folder { .. }));
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealgate.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\nregion = \"eu-west-1\"\n",
        )
        .unwrap();
        let options = ServeOptions {
            config: Some(path),
            region: Some("ap-south-1".to_owned()),
            ..ServeOptions::default()
        };
        let config = Config::resolve(options).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.region, "ap-south-1");
    }

    #[test]
    fn unknown_file_options_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sealgate.toml");
        std::fs::write(&path, "lissten = \"127.0.0.1:9000\"\n").unwrap();
        let options = ServeOptions {
            config: Some(path),
            ..ServeOptions::default()
        };
        assert!(matches!(
            Config::resolve(options),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn an_s3_backend_needs_credentials() {
        let options = ServeOptions {
            backend_endpoint: Some("http://127.0.0.1:9000".to_owned()),
            ..ServeOptions::default()
        };
        assert!(matches!(
            Config::resolve(options),
            Err(ConfigError::Invalid { .. })
        ));
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../../sealgate.example.toml");
        let options: ServeOptions = toml::from_str(text).unwrap();
        assert!(options.listen.is_some());
    }
}
