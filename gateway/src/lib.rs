//! Sealgate: an S3-compatible gateway that encrypts every object on its way to the backend.
//!
//! A request walks one path, and the modules follow it:
//! [`server`] accepts it and opens its span, [`auth`] verifies its SigV4 signature and wraps its
//! body in a verifying stream, [`s3`] decides the operation, [`keys`] gets or unwraps the object's
//! data key from `kms-core`, [`seal`] encrypts or decrypts the body in segments, and [`backend`]
//! reads or writes the store behind the gateway. Errors meet the wire in exactly one place,
//! [`error`].

pub mod auth;
pub mod backend;
pub mod body;
pub mod config;
pub mod error;
pub mod keys;
pub mod kms_api;
pub mod metrics;
pub mod rewrap;
pub mod s3;
pub mod seal;
pub mod server;
pub mod startup;
