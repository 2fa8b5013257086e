//! Black-box test harness for Sealgate.
//!
//! The tests in `tests/tests/` never link the gateway: they start the built `sealgate` binary
//! ([`Gateway`]) in front of a backend (a temporary folder, or a real S3 server from
//! [`S3Server`]), talk to it over loopback HTTP with a small signing client ([`Client`]) or with
//! real S3 clients ([`tools`]), and look at what the backend holds. [`Target`] and the
//! [`conformance!`] macro run one test function against every backend, and against the plain S3
//! server directly, which checks that the tests themselves expect what S3 does.

pub mod client;
pub mod data;
pub mod gateway;
pub mod hsm;
pub mod multipart;
pub mod process;
pub mod s3server;
pub mod target;
pub mod tools;
pub mod xml;

pub use client::{Client, Creds, Payload, Req, Resp};
pub use gateway::{BackendKind, Gateway};
pub use s3server::S3Server;
pub use target::{Kind, Target};
