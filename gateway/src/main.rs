//! The `sealgate` binary: `sealgate serve` runs the gateway.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sealgate::config::{Config, LogFormat, ServeOptions};

/// An S3-compatible gateway that encrypts every object, with its own KMS.
#[derive(Parser)]
#[command(name = "sealgate", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (S3 API, KMS API, health endpoints).
    Serve(Box<ServeOptions>),
    /// Move a software-rooted data dir onto an HSM (the gateway stopped); see docs/hsm.md.
    MigrateRoot(sealgate::admin::HsmOptions),
    /// List the HSM token's key objects and whether their values can be read (never).
    HsmObjects(sealgate::admin::HsmOptions),
    /// Read the audit trail: verify its chain and seals, or query its events.
    #[command(subcommand)]
    Audit(sealgate::audit_cli::AuditCommand),
    /// Re-wrap a bucket's data keys under the newest version of their master key (or under
    /// another one), through a running Sealgate; bodies stay as they are.
    Rewrap(sealgate::rewrap::RewrapOptions),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(options) => serve(*options),
        Command::Rewrap(options) => rewrap(&options),
        Command::Audit(command) => audit(&command),
        Command::MigrateRoot(options) => admin(sealgate::admin::migrate_root(&options)),
        Command::HsmObjects(options) => admin(sealgate::admin::hsm_objects(&options)),
    }
}

fn admin(done: Result<(), sealgate::admin::AdminError>) -> ExitCode {
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&error),
    }
}

fn audit(command: &sealgate::audit_cli::AuditCommand) -> ExitCode {
    use sealgate::audit_cli::{self, AuditCommand};
    init_logging(LogFormat::Text, "warn");
    match command {
        AuditCommand::Verify(options) => match audit_cli::verify(options) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(error) => fail(&error),
        },
        AuditCommand::Query(options) => match audit_cli::query(options) {
            Ok(_) => ExitCode::SUCCESS,
            Err(error) => fail(&error),
        },
    }
}

#[allow(clippy::print_stdout)]
fn rewrap(options: &sealgate::rewrap::RewrapOptions) -> ExitCode {
    init_logging(LogFormat::Text, "warn");
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(sealgate::rewrap::run(options)) {
        Ok(summary) => {
            println!(
                "rewrapped={} skipped={} last_key={}",
                summary.rewrapped,
                summary.skipped,
                summary.last_key.unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => fail(error.as_ref()),
    }
}

fn serve(options: ServeOptions) -> ExitCode {
    let config = match Config::resolve(options) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    init_logging(config.log_format, &config.log_level);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(sealgate::startup::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error, "sealgate stopped");
            fail(&error)
        }
    }
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[allow(clippy::print_stderr)]
fn fail(error: &dyn std::error::Error) -> ExitCode {
    eprint!("sealgate: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprint!(": {cause}");
        source = cause.source();
    }
    eprintln!();
    ExitCode::FAILURE
}
