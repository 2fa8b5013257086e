//! Test harness: a real S3 server for the conformance suite (stub until the S3 backend lands).

use super::conformance::Fixture;

pub(super) async fn fixture() -> Option<Fixture> {
    None
}
