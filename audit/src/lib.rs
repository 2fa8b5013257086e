//! Sealgate's audit trail: one typed [`Event`] for every request (S3, KMS, IAM, admin) and every
//! background key event, appended by [`AuditLog`] to tamper-evident JSON-lines files.
//!
//! Each line carries a global, contiguous `seq` and the SHA-256 of the line before it (`prev`),
//! so editing, deleting or reordering a line, or deleting a file, breaks the chain. Each file
//! ends with a seal line whose HMAC under the [`SealKey`] authenticates the file's line count and
//! last hash, so the chain cannot simply be rebuilt by someone without the key. [`verify`] checks
//! all of it and names the first broken point; [`query`] streams matching events back out. The
//! frozen formats are described in the `line` module and in `docs/format.md`.
//!
//! Events never carry secrets; see [`Event`].

mod error;
mod event;
mod file;
mod key;
mod line;
mod query;
mod recover;
mod verify;
mod writer;

pub use error::Error;
pub use event::{Decision, Event, Service};
pub use key::{SEAL_KEY_LEN, SealKey};
pub use query::{Filter, Query, ResultFilter, format_table_row, query, table_header};
pub use recover::Recovery;
pub use verify::{Break, Report, verify};
pub use writer::{AuditLog, AuditOptions, Durability};

#[cfg(test)]
mod tests;
