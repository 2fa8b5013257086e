//! The S3 protocol: which operation a request asks for, S3's naming and header rules, the XML
//! documents and the error responses.
//!
//! [`route`] turns a request head into an operation on a bucket and key, [`names`] checks bucket
//! names and keys, [`headers`] reads and writes the headers S3 keeps with an object (ranges,
//! conditional requests, stored content headers, dates), [`xml`] reads and writes S3's XML bodies,
//! and [`errors`] is the wire side of every error. The handlers that run an operation build on
//! these.

pub mod errors;
pub mod headers;
pub mod meta;
pub mod names;
pub mod route;
pub mod xml;

mod access;
mod bucket;
mod copy;
mod dispatch;
#[cfg(test)]
mod frozen;
mod list;
mod multipart;
mod object;
pub mod parts;
mod policy;
pub mod sse;

pub use dispatch::{Call, handle, read_small_body};
