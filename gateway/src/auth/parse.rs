//! First step of authentication: find and parse the request's SigV4 signature.
//!
//! Takes the request head and hands on a [`SignedParts`]: where the signature was (header or
//! presigned query), the access key id, the credential scope, the request time, the signed header
//! names and the signature. Anonymous requests and mechanisms Sealgate does not support stop
//! here with their own [`AuthError`].

use std::time::{Duration, SystemTime};

use http::request::Parts;
use percent_encoding::percent_decode_str;
use time::{OffsetDateTime, PrimitiveDateTime, format_description::BorrowedFormatItem};

use super::AuthError;

/// The only signing algorithm Sealgate accepts.
pub(crate) const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The `X-Amz-Date` format, `20130524T000000Z`.
const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");

/// The longest validity of a presigned URL: seven days.
const MAX_EXPIRES_SECS: u64 = 604_800;

/// Where the signature travelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Location {
    /// In the Authorization header.
    Header,
    /// In presigned query parameters, valid for `expires` seconds after the request time.
    Query {
        /// X-Amz-Expires.
        expires: u64,
    },
}

/// The credential scope: `date/region/service/aws4_request`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Scope {
    /// The scope as it appears in a string to sign.
    pub(crate) fn to_scope_string(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

/// A parsed SigV4 signature and what it covers.
#[derive(Clone, Debug)]
pub(crate) struct SignedParts {
    pub(crate) location: Location,
    pub(crate) access_key_id: String,
    pub(crate) scope: Scope,
    /// The request time as `X-Amz-Date` (also when the client sent a `Date` header).
    pub(crate) amz_date: String,
    pub(crate) time: SystemTime,
    /// Lowercase header names, in the client's order.
    pub(crate) signed_headers: Vec<String>,
    pub(crate) signature: String,
}

/// Finds the signature of a request, or says why there is none we accept.
pub(crate) fn signed_parts(parts: &Parts) -> Result<SignedParts, AuthError> {
    let query = query_pairs(parts.uri.query().unwrap_or(""));
    let presigned = find(&query, "X-Amz-Algorithm").is_some();

    match parts.headers.get(http::header::AUTHORIZATION) {
        Some(_) if presigned => Err(AuthError::malformed_presigned(
            "both an Authorization header and presigned parameters",
        )),
        Some(value) => from_header(parts, header_str(value, "authorization")?),
        None if presigned => from_query(&query),
        None => Err(no_signature(parts, &query)),
    }
}

/// The error for a request without a SigV4 signature.
fn no_signature(parts: &Parts, query: &[(String, String)]) -> AuthError {
    if find(query, "AWSAccessKeyId").is_some() && find(query, "Signature").is_some() {
        return AuthError::UnsupportedMechanism {
            what: "AWS Signature Version 2",
        };
    }
    let content_type = parts.headers.get(http::header::CONTENT_TYPE);
    let form = content_type.and_then(|v| v.to_str().ok()).unwrap_or("");
    if parts.method == http::Method::POST && form.starts_with("multipart/form-data") {
        return AuthError::UnsupportedMechanism {
            what: "POST policy (browser-based upload)",
        };
    }
    AuthError::Anonymous
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
fn from_header(parts: &Parts, value: &str) -> Result<SignedParts, AuthError> {
    let Some(fields) = value.strip_prefix(ALGORITHM).filter(|f| f.starts_with(' ')) else {
        return Err(unsupported_scheme(value));
    };

    let (credential, signed, signature) = header_fields(fields)?;
    let (access_key_id, scope) = credential_scope(credential).map_err(AuthError::malformed_auth)?;
    let (amz_date, time) = header_time(parts)?;
    Ok(SignedParts {
        location: Location::Header,
        access_key_id,
        scope,
        amz_date,
        time,
        signed_headers: signed_header_list(signed).map_err(AuthError::malformed_auth)?,
        signature: signature_value(signature).map_err(AuthError::malformed_auth)?,
    })
}

/// The `Credential`, `SignedHeaders` and `Signature` fields, each required once.
fn header_fields(fields: &str) -> Result<(&str, &str, &str), AuthError> {
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let slot = match field.split_once('=') {
            Some(("Credential", v)) => (&mut credential, v),
            Some(("SignedHeaders", v)) => (&mut signed, v),
            Some(("Signature", v)) => (&mut signature, v),
            _ => {
                return Err(AuthError::malformed_auth(format!(
                    "unexpected field {field:?}"
                )));
            }
        };
        if slot.0.replace(slot.1).is_some() {
            return Err(AuthError::malformed_auth(format!(
                "repeated field {field:?}"
            )));
        }
    }
    match (credential, signed, signature) {
        (Some(c), Some(h), Some(s)) => Ok((c, h, s)),
        _ => Err(AuthError::malformed_auth(
            "needs Credential, SignedHeaders and Signature",
        )),
    }
}

/// The error for an Authorization header of another scheme.
fn unsupported_scheme(value: &str) -> AuthError {
    if value.starts_with("AWS ") {
        AuthError::UnsupportedMechanism {
            what: "AWS Signature Version 2",
        }
    } else if value.starts_with("AWS4-ECDSA-P256-SHA256") {
        AuthError::UnsupportedMechanism {
            what: "AWS Signature Version 4A",
        }
    } else {
        AuthError::malformed_auth("unknown authorization scheme")
    }
}

/// The request time of a header-signed request: `x-amz-date`, else `Date`.
fn header_time(parts: &Parts) -> Result<(String, SystemTime), AuthError> {
    if let Some(value) = parts.headers.get("x-amz-date") {
        let text = header_str(value, "x-amz-date")?;
        let time = parse_amz_date(text).ok_or(AuthError::InvalidHeader { name: "x-amz-date" })?;
        return Ok((text.to_owned(), time));
    }
    let value = parts
        .headers
        .get(http::header::DATE)
        .ok_or_else(|| AuthError::malformed_auth("no x-amz-date or Date header"))?;
    let time = httpdate::parse_http_date(header_str(value, "date")?)
        .map_err(|_| AuthError::InvalidHeader { name: "date" })?;
    Ok((format_amz_date(time), time))
}

/// Parses the presigned parameters `X-Amz-*` of a query.
fn from_query(query: &[(String, String)]) -> Result<SignedParts, AuthError> {
    let get = |name: &str| {
        unique(query, name).map_err(|why| AuthError::malformed_presigned(format!("{name}: {why}")))
    };

    if get("X-Amz-Algorithm")? != ALGORITHM {
        return Err(AuthError::UnsupportedMechanism {
            what: "presigned URL algorithm",
        });
    }
    let (access_key_id, scope) =
        credential_scope(get("X-Amz-Credential")?).map_err(AuthError::malformed_presigned)?;
    let amz_date = get("X-Amz-Date")?;
    let time = parse_amz_date(amz_date)
        .ok_or_else(|| AuthError::malformed_presigned("X-Amz-Date is not a date"))?;
    Ok(SignedParts {
        location: Location::Query {
            expires: parse_expires(get("X-Amz-Expires")?)?,
        },
        access_key_id,
        scope,
        amz_date: amz_date.to_owned(),
        time,
        signed_headers: signed_header_list(get("X-Amz-SignedHeaders")?)
            .map_err(AuthError::malformed_presigned)?,
        signature: signature_value(get("X-Amz-Signature")?)
            .map_err(AuthError::malformed_presigned)?,
    })
}

/// X-Amz-Expires: whole seconds, 1 to 604800.
fn parse_expires(text: &str) -> Result<u64, AuthError> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<u64>() {
        Ok(secs @ 1..=MAX_EXPIRES_SECS) if digits => Ok(secs),
        _ => Err(AuthError::malformed_presigned(
            "X-Amz-Expires must be 1 to 604800 seconds",
        )),
    }
}

/// Splits `AKID/20130524/us-east-1/s3/aws4_request`.
fn credential_scope(credential: &str) -> Result<(String, Scope), String> {
    // The access key id may not contain '/', so the scope is the last four parts.
    let mut parts = credential.rsplitn(5, '/');
    let terminator = parts.next();
    let service = parts.next();
    let region = parts.next();
    let date = parts.next();
    let access_key_id = parts.next();
    match (access_key_id, date, region, service, terminator) {
        (Some(id), Some(date), Some(region), Some(service), Some("aws4_request"))
            if !id.is_empty() && is_scope_date(date) && !region.is_empty() =>
        {
            let scope = Scope {
                date: date.into(),
                region: region.into(),
                service: service.into(),
            };
            Ok((id.to_owned(), scope))
        }
        _ => Err(format!("bad credential scope {credential:?}")),
    }
}

fn is_scope_date(date: &str) -> bool {
    date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())
}

/// `host;x-amz-date` into names; they must be lowercase and include `host`.
fn signed_header_list(text: &str) -> Result<Vec<String>, String> {
    let names: Vec<String> = text.split(';').map(str::to_owned).collect();
    let well_formed = names
        .iter()
        .all(|n| !n.is_empty() && n.to_ascii_lowercase() == *n);
    if !well_formed {
        return Err(format!("bad SignedHeaders {text:?}"));
    }
    if !names.iter().any(|n| n == "host") {
        return Err("SignedHeaders must include host".into());
    }
    Ok(names)
}

/// A signature: 64 lowercase hex digits.
fn signature_value(text: &str) -> Result<String, String> {
    let hex = text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if hex {
        Ok(text.to_owned())
    } else {
        Err("signature is not 64 lowercase hex digits".into())
    }
}

/// Parses `20130524T000000Z`.
pub(crate) fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let time = PrimitiveDateTime::parse(text, AMZ_DATE).ok()?;
    Some(time.assume_utc().into())
}

/// Formats a time as `20130524T000000Z`.
pub(crate) fn format_amz_date(time: SystemTime) -> String {
    OffsetDateTime::from(time)
        .format(AMZ_DATE)
        .unwrap_or_default()
}

/// Adds seconds to a time, saturating far in the future.
pub(crate) fn plus_secs(time: SystemTime, secs: u64) -> SystemTime {
    time.checked_add(Duration::from_secs(secs)).unwrap_or(time)
}

/// A header's value as text, or [`AuthError::InvalidHeader`].
pub(crate) fn header_str<'a>(
    value: &'a http::HeaderValue,
    name: &'static str,
) -> Result<&'a str, AuthError> {
    value
        .to_str()
        .map_err(|_| AuthError::InvalidHeader { name })
}

/// The query's `name=value` pairs, percent-decoded (`+` stays `+`, as SigV4 clients encode).
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let pairs = query.split('&').filter(|p| !p.is_empty());
    pairs
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn find<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The one value of a parameter: missing or repeated is an error.
fn unique<'a>(query: &'a [(String, String)], name: &str) -> Result<&'a str, &'static str> {
    let mut values = query
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Ok(value),
        (None, _) => Err("missing"),
        (Some(_), Some(_)) => Err("repeated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::get(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    const SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    #[test]
    fn parses_header_signature() {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-date, Signature={SIG}"
        );
        let p = parts(
            "/k",
            &[("authorization", &auth), ("x-amz-date", "20130524T000000Z")],
        );
        let signed = signed_parts(&p).unwrap();
        assert_eq!(signed.access_key_id, "AKID");
        assert_eq!(
            signed.scope.to_scope_string(),
            "20130524/us-east-1/s3/aws4_request"
        );
        assert_eq!(signed.signed_headers, ["host", "range", "x-amz-date"]);
        assert_eq!(signed.location, Location::Header);
        assert_eq!(format_amz_date(signed.time), "20130524T000000Z");
    }

    #[test]
    fn date_header_stands_in_for_x_amz_date() {
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=date;host,Signature={SIG}"
        );
        let p = parts(
            "/k",
            &[
                ("authorization", &auth),
                ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ],
        );
        assert_eq!(signed_parts(&p).unwrap().amz_date, "20130524T000000Z");
    }

    #[test]
    fn refuses_what_is_not_sigv4() {
        let p = parts("/k", &[("authorization", "AWS AKID:c2lnbmF0dXJl")]);
        assert!(matches!(
            signed_parts(&p),
            Err(AuthError::UnsupportedMechanism { .. })
        ));
        let p = parts("/k?AWSAccessKeyId=AKID&Expires=1&Signature=abc", &[]);
        assert!(matches!(
            signed_parts(&p),
            Err(AuthError::UnsupportedMechanism { .. })
        ));
        assert!(matches!(
            signed_parts(&parts("/k", &[])),
            Err(AuthError::Anonymous)
        ));
        let mut p = parts(
            "/bucket",
            &[("content-type", "multipart/form-data; boundary=x")],
        );
        p.method = http::Method::POST;
        assert!(matches!(
            signed_parts(&p),
            Err(AuthError::UnsupportedMechanism { .. })
        ));
    }

    #[test]
    fn refuses_malformed_headers() {
        for auth in [
            format!("AWS4-HMAC-SHA256 Credential=AKID/2013/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=x-amz-date, Signature={SIG}"),
            "AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=zz".into(),
            format!("AWS4-HMAC-SHA256 SignedHeaders=host, Signature={SIG}"),
            format!("AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, Signature={SIG}"),
            "Bearer x".into(),
        ] {
            let p = parts("/k", &[("authorization", &auth), ("x-amz-date", "20130524T000000Z")]);
            assert!(
                matches!(signed_parts(&p), Err(AuthError::MalformedAuthorization { .. })),
                "{auth}"
            );
        }
    }

    #[test]
    fn parses_presigned_parameters() {
        let uri = format!(
            "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3\
             %2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400\
             &X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}"
        );
        let signed = signed_parts(&parts(&uri, &[])).unwrap();
        assert_eq!(signed.location, Location::Query { expires: 86400 });
        assert_eq!(signed.access_key_id, "AKID");
    }

    #[test]
    fn refuses_bad_expiry() {
        for expires in ["0", "604801", "-1", "1e3", "", "+5"] {
            assert!(parse_expires(expires).is_err(), "{expires}");
        }
        assert_eq!(parse_expires("604800").unwrap(), 604_800);
    }
}
