//! Recomputes a request's signature: aws-sigv4 where it can, [`super::canonical`] where not.
//!
//! Takes the request head, its [`SignedParts`], the secret and the payload hash, and hands on
//! the signature the client must have sent. aws-sigv4 (set up as S3 signs: single
//! percent-encoding, no path normalisation, no payload checksum header, no excluded headers)
//! handles what real SDKs send; requests it cannot reproduce (a `Date` header instead of
//! `x-amz-date`, `+` or non-UTF-8 in the query, unsorted or repeated signed headers, a
//! non-canonical X-Amz-Expires, header values that are not text) go to our own builder.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::request::Parts;

use super::parse::{Location, SignedParts, parse_amz_date};
use super::{SecretKey, SigningKey, canonical};

/// Presigned parameters aws-sigv4 adds itself, so they are taken out of the query it is given.
const PRESIGN_PARAMS: [&str; 6] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
];

/// Which builder computed a signature (for tests and debug events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builder {
    AwsSigv4,
    Own,
}

/// The signature the client must have sent, and which builder computed it. Should aws-sigv4
/// refuse the request, our own builder takes it.
pub(crate) fn expected_signature(
    parts: &Parts,
    signed: &SignedParts,
    secret: &SecretKey,
    payload_hash: &str,
) -> (String, Builder) {
    let by_aws_sigv4 = aws_sigv4_can_reproduce(parts, signed)
        .then(|| with_aws_sigv4(parts, signed, secret, payload_hash))
        .flatten();
    match by_aws_sigv4 {
        Some(signature) => (signature, Builder::AwsSigv4),
        None => (
            with_own_builder(parts, signed, secret, payload_hash),
            Builder::Own,
        ),
    }
}

/// Our own canonical request, string to sign and HMAC.
pub(crate) fn with_own_builder(
    parts: &Parts,
    signed: &SignedParts,
    secret: &SecretKey,
    payload_hash: &str,
) -> String {
    let canonical = canonical::canonical_request(parts, signed, payload_hash);
    let scope = &signed.scope;
    let key = SigningKey::derive(secret, &scope.date, &scope.region, &scope.service);
    key.sign(&canonical::string_to_sign(signed, &canonical))
}

/// Whether aws-sigv4 builds the same canonical request as the client did.
fn aws_sigv4_can_reproduce(parts: &Parts, signed: &SignedParts) -> bool {
    let names = &signed.signed_headers;
    let sorted_unique = names.windows(2).all(|w| matches!(w, [a, b] if a < b));
    let header_ok = match signed.location {
        Location::Header => names.iter().any(|n| n == "x-amz-date"),
        Location::Query { expires } => {
            presign_params_canonical(parts, expires) && !names.iter().any(|n| presign_dropped(n))
        }
    };
    sorted_unique && header_ok && query_is_plain(parts) && headers_are_text(parts, names)
}

/// Headers aws-sigv4 never signs in a presigned URL.
fn presign_dropped(name: &str) -> bool {
    name == "x-amz-user-agent" || name == "x-amz-checksum-mode"
}

/// The presigned parameters appear once each and X-Amz-Expires has no leading zero.
fn presign_params_canonical(parts: &Parts, expires: u64) -> bool {
    let raw = parts.uri.query().unwrap_or("");
    let expires_raw = format!("X-Amz-Expires={expires}");
    let once = |name: &str| {
        raw.split('&')
            .filter(|p| p.split('=').next() == Some(name))
            .count()
            == 1
    };
    PRESIGN_PARAMS.iter().all(|n| once(n)) && raw.split('&').any(|p| p == expires_raw)
}

/// No `+` and only escapes that decode to UTF-8: what form_urlencoded reads as we do.
fn query_is_plain(parts: &Parts) -> bool {
    let raw = parts.uri.query().unwrap_or("");
    let utf8 = raw.split(['&', '=']).all(|c| {
        percent_encoding::percent_decode_str(c)
            .decode_utf8()
            .is_ok()
    });
    !raw.contains('+') && utf8
}

/// Every signed header present once (host may come from the URI) with a text value.
fn headers_are_text(parts: &Parts, names: &[String]) -> bool {
    names.iter().all(|name| {
        let values: Vec<_> = parts.headers.get_all(name.as_str()).iter().collect();
        match values.as_slice() {
            [] => name == "host" && parts.uri.authority().is_some(),
            [one] => one.to_str().is_ok(),
            _ => false,
        }
    })
}

/// Signs the request again with aws-sigv4; `None` if it refuses.
fn with_aws_sigv4(
    parts: &Parts,
    signed: &SignedParts,
    secret: &SecretKey,
    payload_hash: &str,
) -> Option<String> {
    let identity: Identity = Credentials::new(
        &signed.access_key_id,
        secret.expose(),
        None,
        None,
        "sealgate",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&signed.scope.region)
        .name(&signed.scope.service)
        .time(parse_amz_date(&signed.amz_date).unwrap_or(signed.time))
        .settings(settings(&signed.location))
        .build()
        .ok()?;
    let output = sign(signable(parts, signed, payload_hash)?, &params.into()).ok()?;
    Some(output.signature().to_owned())
}

/// The request as aws-sigv4 takes it: exactly the signed headers, the precomputed payload hash.
fn signable<'a>(
    parts: &'a Parts,
    signed: &'a SignedParts,
    payload_hash: &str,
) -> Option<SignableRequest<'a>> {
    let headers = signed_headers(parts, &signed.signed_headers);
    let uri = request_target(parts, &signed.location);
    let body = SignableBody::Precomputed(payload_hash.to_owned());
    SignableRequest::new(parts.method.as_str(), uri, headers.into_iter(), body).ok()
}

/// Signing settings that match S3.
fn settings(location: &Location) -> SigningSettings {
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    settings.excluded_headers = Some(Vec::new());
    if let Location::Query { expires } = location {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(*expires));
    }
    settings
}

/// Exactly the signed headers, with `host` from the URI when there is no Host header.
fn signed_headers<'a>(parts: &'a Parts, names: &'a [String]) -> Vec<(&'a str, &'a str)> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        match parts
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
        {
            Some(value) => out.push((name.as_str(), value)),
            None if name == "host" => {
                out.extend(parts.uri.authority().map(|a| ("host", a.as_str())));
            }
            // Only reached if `headers_are_text` was skipped; the signature then fails.
            None => {}
        }
    }
    out
}

/// Path and query, without the parameters aws-sigv4 adds itself to a presigned URL.
fn request_target(parts: &Parts, location: &Location) -> String {
    let path = match parts.uri.path() {
        "" => "/",
        path => path,
    };
    let query = parts.uri.query().unwrap_or("");
    let kept: Vec<&str> = match location {
        Location::Header => query.split('&').filter(|p| !p.is_empty()).collect(),
        Location::Query { .. } => query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| !PRESIGN_PARAMS.contains(&p.split('=').next().unwrap_or("")))
            .collect(),
    };
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}
