//! Sealgate: an S3-compatible gateway that encrypts every object on its way to the backend.
//!
//! A request walks one path, and the modules follow it:
//! [`server`] accepts it and opens its span and audit draft, [`auth`] verifies its SigV4 signature
//! and wraps its body in a verifying stream, [`s3`] decides the operation, [`authz`] asks the
//! principal's policies and the resource's, [`keys`] gets or unwraps the object's data key from
//! `kms-core`, [`seal`] encrypts or decrypts the body in segments, [`backend`] reads or writes the
//! store behind the gateway, and [`trail`] appends the request's audit event. Errors meet the wire
//! in exactly one place, [`error`]. [`kms_api`] and [`iam_api`] walk the same path for the KMS
//! and IAM APIs.

pub mod admin;
pub mod audit_cli;
pub mod auth;
pub mod authz;
pub mod backend;
pub mod body;
pub mod config;
pub mod error;
pub mod iam_api;
pub mod keys;
pub mod kms_api;
pub mod metrics;
pub mod rewrap;
pub mod s3;
pub mod seal;
pub mod server;
pub mod startup;
pub mod trail;
