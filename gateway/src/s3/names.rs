//! S3's naming rules for buckets and object keys, checked before a request reaches a handler.
//!
//! [`check_bucket_name`] applies the rules for general purpose buckets (3 to 63 characters of
//! lowercase letters, digits, hyphens and dots; no IP address; no reserved prefix or suffix) and
//! answers `InvalidBucketName`; [`check_key`] applies the 1024-byte key limit and answers
//! `KeyTooLongError`. Both return the [`S3Error`] the client gets, carrying the name it sent.

use super::errors::{S3Error, S3ErrorCode};

/// The longest object key S3 accepts, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 1024;

const RESERVED_PREFIXES: &[&str] = &["xn--", "sthree-", "amzn-s3-demo-"];
const RESERVED_SUFFIXES: &[&str] = &["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/// Checks a bucket name against S3's rules for general purpose buckets.
pub fn check_bucket_name(name: &str) -> Result<(), S3Error> {
    if is_valid_bucket_name(name) {
        return Ok(());
    }
    Err(S3Error::new(S3ErrorCode::InvalidBucketName).with("BucketName", name))
}

/// Whether `name` is a valid bucket name (see [`check_bucket_name`]).
pub fn is_valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(is_bucket_byte)
        && starts_and_ends_alphanumeric(name)
        && !name.contains("..")
        && !looks_like_ipv4(name)
        && !RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        && !RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Checks an object key: at least one byte and at most [`MAX_KEY_BYTES`].
pub fn check_key(key: &str) -> Result<(), S3Error> {
    if key.is_empty() {
        return Err(S3Error::with_message(
            S3ErrorCode::InvalidArgument,
            "Invalid key name",
        ));
    }
    if key.len() > MAX_KEY_BYTES {
        let err = S3Error::new(S3ErrorCode::KeyTooLongError)
            .with("Size", key.len().to_string())
            .with("MaxSizeAllowed", MAX_KEY_BYTES.to_string());
        return Err(err);
    }
    Ok(())
}

fn is_bucket_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
}

fn starts_and_ends_alphanumeric(name: &str) -> bool {
    let alnum = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    alnum(name.as_bytes().first()) && alnum(name.as_bytes().last())
}

/// Four dot-separated groups of digits, like `192.168.5.4`, are refused as IP-address lookalikes.
fn looks_like_ipv4(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_name_table() {
        let cases: &[(&str, bool)] = &[
            ("abc", true),
            ("my-bucket", true),
            ("my.bucket.name", true),
            ("1bucket", true),
            ("bucket1", true),
            ("a1-b2.c3", true),
            ("192.168.5.4x", true),
            ("1.2.3", true),
            ("1.2.3.4.5", true),
            ("xn-bucket", true),
            ("s3alias", true),
            ("sthree", true),
            (&"a".repeat(63), true),
            ("ab", false),
            ("", false),
            (&"a".repeat(64), false),
            ("MyBucket", false),
            ("my_bucket", false),
            ("my bucket", false),
            ("-bucket", false),
            ("bucket-", false),
            (".bucket", false),
            ("bucket.", false),
            ("my..bucket", false),
            ("192.168.5.4", false),
            ("1.1.1.1", false),
            ("xn--bucket", false),
            ("sthree-bucket", false),
            ("sthree-configurator", false),
            ("amzn-s3-demo-bucket", false),
            ("bucket-s3alias", false),
            ("bucket--ol-s3", false),
            ("bucket.mrap", false),
            ("bucket--x-s3", false),
            ("bucket--table-s3", false),
            ("büc", false),
            ("bucket/x", false),
        ];
        for (name, valid) in cases {
            assert_eq!(is_valid_bucket_name(name), *valid, "{name:?}");
            assert_eq!(check_bucket_name(name).is_ok(), *valid, "{name:?}");
        }
    }

    #[test]
    fn invalid_bucket_name_reports_the_name() {
        let err = check_bucket_name("Bad").unwrap_err();
        assert_eq!(err.code, S3ErrorCode::InvalidBucketName);
        assert_eq!(err.extra, vec![("BucketName", "Bad".to_string())]);
    }

    #[test]
    fn key_length_table() {
        let long_unicode = "é".repeat(512); // 1024 bytes
        let cases: &[(&str, Option<S3ErrorCode>)] = &[
            ("a", None),
            ("dir/", None),
            ("a//b", None),
            (" ", None),
            (&"k".repeat(1024), None),
            (&long_unicode, None),
            ("", Some(S3ErrorCode::InvalidArgument)),
            (&"k".repeat(1025), Some(S3ErrorCode::KeyTooLongError)),
            (
                &format!("{long_unicode}x"),
                Some(S3ErrorCode::KeyTooLongError),
            ),
        ];
        for (key, want) in cases {
            assert_eq!(
                check_key(key).err().map(|e| e.code),
                *want,
                "{} bytes",
                key.len()
            );
        }
    }
}
