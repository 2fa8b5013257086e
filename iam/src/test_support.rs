//! Helpers of the unit tests: a store in a temporary folder and calls by `(name, value)` pairs.

use std::sync::Arc;

use kms_core::{RootKey, SoftwareRoot};
use tempfile::TempDir;

use crate::{Caller, Iam, IamError};

pub(crate) const ACCOUNT: &str = "123456789012";

/// Owned form pairs from borrowed ones.
pub(crate) fn pairs(params: &[(&str, &str)]) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

pub(crate) fn root() -> Arc<SoftwareRoot> {
    Arc::new(SoftwareRoot::new(&RootKey::from_bytes([7; 32])).unwrap())
}

/// A fresh store; keep the folder alive as long as the store.
pub(crate) fn open() -> (TempDir, Iam) {
    let dir = tempfile::tempdir().unwrap();
    let iam = Iam::open(dir.path(), root(), ACCOUNT).unwrap();
    (dir, iam)
}

/// Runs `action` as root.
pub(crate) fn call(iam: &Iam, action: &str, params: &[(&str, &str)]) -> Result<String, IamError> {
    call_as(iam, &Caller::Root, action, params)
}

/// Runs `action` as `caller`.
pub(crate) fn call_as(
    iam: &Iam,
    caller: &Caller,
    action: &str,
    params: &[(&str, &str)],
) -> Result<String, IamError> {
    let mut all = vec![("Action", action), ("Version", "2010-05-08")];
    all.extend_from_slice(params);
    iam.call(caller, &pairs(&all), "req-1")
}

/// Runs `action` as root and expects success.
pub(crate) fn ok(iam: &Iam, action: &str, params: &[(&str, &str)]) -> String {
    call(iam, action, params).unwrap_or_else(|e| panic!("{action}: {e}"))
}

/// Runs `action` as root and returns the error code.
pub(crate) fn code(iam: &Iam, action: &str, params: &[(&str, &str)]) -> &'static str {
    match call(iam, action, params) {
        Ok(body) => panic!("{action} succeeded: {body}"),
        Err(err) => err.code,
    }
}

/// The text of the first `<tag>` in `xml`.
pub(crate) fn field<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    &xml[start..end]
}

/// An allow-everything policy document on `action`.
pub(crate) fn doc(action: &str) -> String {
    let statement = format!(r#"{{"Effect":"Allow","Action":"{action}","Resource":"*"}}"#);
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}
