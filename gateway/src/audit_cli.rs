//! `sealgate audit verify` and `sealgate audit query`: reading the audit trail of a data dir.
//!
//! Both run beside a gateway or without one: they only read the files under `DATA_DIR/audit`.
//! `verify` opens the seal key with the data dir's root of trust, checks every file's hash chain
//! and seal, and reports the first broken point (exit status 1). `query` filters events by time,
//! principal, action, resource, key id and result, and prints JSON lines or a table.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::{DEFAULT_DATA_DIR, RootOptions};

/// `sealgate audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain and the seals of every audit file; report the first broken point.
    Verify(VerifyOptions),
    /// Print the events that match every filter given.
    Query(QueryOptions),
}

/// Options of `sealgate audit verify`.
#[derive(Debug, Args)]
pub struct VerifyOptions {
    /// The gateway's data dir (the audit files are in its `audit/` folder).
    #[arg(long, env = "SEALGATE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// The root of trust that opens the seal key: the gateway's.
    #[command(flatten)]
    pub root: RootOptions,
}

/// Options of `sealgate audit query`.
#[derive(Debug, Args)]
pub struct QueryOptions {
    /// The gateway's data dir.
    #[arg(long, env = "SEALGATE_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Events at or after this time (RFC 3339, such as 2026-12-04T10:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Events before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// The principal's ARN.
    #[arg(long)]
    pub principal: Option<String>,
    /// The action; `*` matches any run of characters (`s3:Get*`).
    #[arg(long)]
    pub action: Option<String>,
    /// Part of a bucket, `bucket/key`, resource ARN or key id.
    #[arg(long)]
    pub resource: Option<String>,
    /// The master key id.
    #[arg(long)]
    pub key_id: Option<String>,
    /// How the request ended.
    #[arg(long, value_enum)]
    pub result: Option<ResultArg>,
    /// Output: JSON lines or a table.
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
}

/// `--result`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ResultArg {
    /// The authorizer allowed it.
    Allowed,
    /// The authorizer denied it.
    Denied,
    /// Answered with an error status.
    Error,
    /// Answered with a success status.
    Ok,
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Aligned columns.
    Table,
}

/// Why an audit command failed (a broken trail is not an error: it is a report).
#[derive(Debug, thiserror::Error)]
pub enum AuditCliError {
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Audit(#[from] audit::Error),
    #[error("--{name} {value:?} is not an RFC 3339 time")]
    Time { name: &'static str, value: String },
    #[error("cannot write the output")]
    Output(#[from] std::io::Error),
}

/// Verifies the trail; `Ok(true)` when intact. Prints the report on standard output.
pub fn verify(options: &VerifyOptions) -> Result<bool, AuditCliError> {
    let root_config = options.root.resolve()?;
    let root = crate::startup::open_root(&root_config, &options.data_dir, false)?;
    let key = crate::startup::audit_seal_key(&options.data_dir, root.as_ref(), false)?;
    let report = audit::verify(&crate::startup::audit_dir(&options.data_dir), &key)?;
    let mut out = std::io::stdout().lock();
    for warning in &report.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    match &report.broken {
        None => writeln!(
            out,
            "intact: {} files, {} events",
            report.files, report.events
        )?,
        Some(broken) => writeln!(out, "broken: {broken}")?,
    }
    Ok(report.is_intact())
}

/// Prints the events that match; returns how many.
pub fn query(options: &QueryOptions) -> Result<u64, AuditCliError> {
    let filter = audit::Filter {
        since: time_arg("since", options.since.as_deref())?,
        until: time_arg("until", options.until.as_deref())?,
        principal: options.principal.clone(),
        action: options.action.clone(),
        resource: options.resource.clone(),
        key_id: options.key_id.clone(),
        result: options.result.map(|r| match r {
            ResultArg::Allowed => audit::ResultFilter::Allowed,
            ResultArg::Denied => audit::ResultFilter::Denied,
            ResultArg::Error => audit::ResultFilter::Error,
            ResultArg::Ok => audit::ResultFilter::Ok,
        }),
    };
    let events = audit::query(&crate::startup::audit_dir(&options.data_dir), &filter)?;
    let mut out = std::io::stdout().lock();
    if matches!(options.format, Format::Table) {
        writeln!(out, "{}", audit::table_header())?;
    }
    let mut count = 0;
    for event in events {
        let event = event?;
        match options.format {
            Format::Json => writeln!(out, "{}", serde_json::to_string(&event).unwrap_or_default())?,
            Format::Table => writeln!(out, "{}", audit::format_table_row(&event))?,
        }
        count += 1;
    }
    Ok(count)
}

fn time_arg(
    name: &'static str,
    value: Option<&str>,
) -> Result<Option<OffsetDateTime>, AuditCliError> {
    value
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339).map_err(|_| AuditCliError::Time {
                name,
                value: v.to_owned(),
            })
        })
        .transpose()
}
