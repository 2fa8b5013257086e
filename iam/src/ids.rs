//! Identifiers, names, paths, ARNs and dates of IAM entities.
//!
//! Ids are a four-letter prefix and 16 random characters of `[A-Z2-7]`, as AWS makes them.
//! Names are checked against IAM's patterns; lookups fold names to lower case because IAM names
//! are unique regardless of case.

use rand::RngExt;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::Error;

/// Id prefixes, as AWS uses them.
pub(crate) const USER_ID: &str = "AIDA";
pub(crate) const GROUP_ID: &str = "AGPA";
pub(crate) const POLICY_ID: &str = "ANPA";
pub(crate) const ACCESS_KEY_ID: &str = "AKIA";

/// Longest user and group name.
const MAX_ENTITY_NAME: usize = 64;
/// Longest policy name (inline and managed).
const MAX_POLICY_NAME: usize = 128;
/// Longest path.
const MAX_PATH: usize = 512;

/// A fresh id: `prefix` and 16 characters of `[A-Z2-7]`.
pub(crate) fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 16);
    id.push_str(prefix);
    for _ in 0..16 {
        let v: u8 = rng.random_range(0..32);
        id.push(char::from(if v < 26 { b'A' + v } else { b'2' + (v - 26) }));
    }
    id
}

/// The key of an entity's record: its name in lower case.
pub(crate) fn fold(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Checks a user or group name: `[\w+=,.@-]{1,64}`.
pub(crate) fn entity_name(field: &'static str, name: &str) -> Result<(), Error> {
    check_name(field, name, MAX_ENTITY_NAME)
}

/// Checks an inline or managed policy name: `[\w+=,.@-]{1,128}`.
pub(crate) fn policy_name(field: &'static str, name: &str) -> Result<(), Error> {
    check_name(field, name, MAX_POLICY_NAME)
}

fn check_name(field: &'static str, name: &str, max: usize) -> Result<(), Error> {
    if name.is_empty() || name.len() > max {
        return Err(Error::Validation {
            field,
            reason: "Member must have length between 1 and its maximum (64 or 128)",
        });
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if !name.chars().all(allowed) {
        return Err(Error::Validation {
            field,
            reason: r"Member must satisfy regular expression pattern: [\w+=,.@-]+",
        });
    }
    Ok(())
}

/// Checks a path: starts and ends with `/`, printable ASCII, at most 512 characters.
pub(crate) fn path(field: &'static str, path: &str) -> Result<(), Error> {
    if !path.ends_with('/') {
        return Err(bad_path(field));
    }
    path_prefix(field, path)
}

/// Checks a path prefix: starts with `/`, printable ASCII, at most 512 characters.
pub(crate) fn path_prefix(field: &'static str, prefix: &str) -> Result<(), Error> {
    let printable = prefix.chars().all(|c| ('!'..='~').contains(&c));
    if !prefix.starts_with('/') || prefix.len() > MAX_PATH || !printable {
        return Err(bad_path(field));
    }
    Ok(())
}

fn bad_path(field: &'static str) -> Error {
    Error::Validation {
        field,
        reason: "Member must be a path: '/' or '/' printable ASCII characters '/'",
    }
}

/// `arn:aws:iam::<account>:<kind><path><name>` (`kind` is `user`, `group` or `policy`).
pub(crate) fn arn(account_id: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:{kind}{path}{name}")
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Unix seconds as IAM writes dates: `2026-12-04T02:30:00Z`.
pub(crate) fn iso8601(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_aws_shape() {
        let id = new_id(USER_ID);
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AIDA"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
    }

    #[test]
    fn names_follow_iam_patterns() {
        assert!(entity_name("UserName", "a.b+c=d,e@f_g-h").is_ok());
        assert!(entity_name("UserName", "").is_err());
        assert!(entity_name("UserName", "a b").is_err());
        assert!(entity_name("UserName", "é").is_err());
        assert!(entity_name("UserName", &"a".repeat(65)).is_err());
        assert!(policy_name("PolicyName", &"a".repeat(128)).is_ok());
        assert!(policy_name("PolicyName", &"a".repeat(129)).is_err());
    }

    #[test]
    fn paths_are_slashed() {
        assert!(path("Path", "/").is_ok());
        assert!(path("Path", "/a/b/").is_ok());
        assert!(path("Path", "a/").is_err());
        assert!(path("Path", "/a").is_err());
        assert!(path("Path", "/a b/").is_err());
        assert!(path_prefix("PathPrefix", "/a").is_ok());
        assert!(path_prefix("PathPrefix", "a").is_err());
    }

    #[test]
    fn dates_are_iso8601() {
        assert_eq!(iso8601(1_796_351_400), "2026-12-04T02:30:00Z");
    }
}
