//! One audit event: who asked for which action on which resource, what was decided and how the
//! request ended.
//!
//! The gateway builds one [`Event`] per request (S3, KMS, IAM, admin) and one per background key
//! event (scheduled rotation), and hands it to [`AuditLog::append`](crate::AuditLog::append).
//! An event never carries a secret: no secret access key, no signature, no data key, no key
//! material, no object content. This crate does not police that; the callers must not put one in.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The part of the gateway that handled the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The S3 API.
    S3,
    /// The KMS API.
    Kms,
    /// The IAM API.
    Iam,
    /// The admin API.
    Admin,
    /// Work the gateway does on its own, such as scheduled key rotation.
    System,
}

impl Service {
    /// The name written in the log: "s3", "kms", "iam", "admin" or "system".
    pub fn as_str(self) -> &'static str {
        match self {
            Service::S3 => "s3",
            Service::Kms => "kms",
            Service::Iam => "iam",
            Service::Admin => "admin",
            Service::System => "system",
        }
    }
}

/// What authorization decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// A statement allowed the request.
    Allow,
    /// A statement denied the request, or nothing allowed it.
    Deny,
    /// No authorization took place (unauthenticated failure, background event).
    None,
}

impl Decision {
    /// The name written in the log: "allow", "deny" or "none".
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Deny => "deny",
            Decision::None => "none",
        }
    }
}

/// One audit event. Optional fields are left out of the JSON when they are `None` (and
/// `resources` when it is empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// When the request arrived, written as RFC 3339 UTC with milliseconds.
    #[serde(with = "rfc3339_millis")]
    pub time: OffsetDateTime,
    /// The request id, as returned to the client.
    pub request_id: String,
    /// The API that handled it.
    pub service: Service,
    /// The action, such as "s3:GetObject", "kms:Decrypt" or "kms:RotateKey".
    pub action: String,
    /// The principal's ARN, or "anonymous".
    pub principal: String,
    /// The access key id that signed the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<IpAddr>,
    /// The client's User-Agent header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    /// The object key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The master key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// The master key version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_version: Option<u32>,
    /// The ARNs of the resources the request named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// What authorization decided.
    pub decision: Decision,
    /// The policy name and statement that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// Why, in words, for a denial or an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The HTTP status returned.
    pub status: u16,
    /// The wire error code returned, such as "AccessDenied".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Body bytes received.
    #[serde(default)]
    pub bytes_in: u64,
    /// Body bytes sent.
    #[serde(default)]
    pub bytes_out: u64,
}

impl Event {
    /// An event stamped now (to the millisecond), from "anonymous", with no decision, status 200
    /// and no bytes; the builder methods fill in the rest.
    ///
    /// ```
    /// use audit::{Decision, Event, Service};
    /// let event = Event::new(Service::S3, "s3:GetObject", "req-1")
    ///     .principal("arn:sealgate:iam::user/alice")
    ///     .object("photos", "2024/cat.jpg")
    ///     .allowed_by("alice-policy#ReadPhotos")
    ///     .bytes(0, 5120);
    /// assert_eq!(event.decision, Decision::Allow);
    /// ```
    pub fn new(
        service: Service,
        action: impl Into<String>,
        request_id: impl Into<String>,
    ) -> Event {
        Event {
            time: now_millis(),
            request_id: request_id.into(),
            service,
            action: action.into(),
            principal: "anonymous".to_owned(),
            access_key_id: None,
            source_ip: None,
            user_agent: None,
            bucket: None,
            key: None,
            key_id: None,
            key_version: None,
            resources: Vec::new(),
            decision: Decision::None,
            decided_by: None,
            reason: None,
            status: 200,
            error_code: None,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// Sets the time (kept to the millisecond, as the log stores it).
    pub fn at(mut self, time: OffsetDateTime) -> Event {
        self.time = truncate_millis(time);
        self
    }

    /// Sets the principal's ARN.
    pub fn principal(mut self, principal: impl Into<String>) -> Event {
        self.principal = principal.into();
        self
    }

    /// Sets the access key id that signed the request.
    pub fn access_key_id(mut self, access_key_id: impl Into<String>) -> Event {
        self.access_key_id = Some(access_key_id.into());
        self
    }

    /// Sets the client's address and User-Agent.
    pub fn client(mut self, source_ip: Option<IpAddr>, user_agent: Option<String>) -> Event {
        self.source_ip = source_ip;
        self.user_agent = user_agent;
        self
    }

    /// Sets the bucket.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Event {
        self.bucket = Some(bucket.into());
        self
    }

    /// Sets the bucket and object key.
    pub fn object(mut self, bucket: impl Into<String>, key: impl Into<String>) -> Event {
        self.bucket = Some(bucket.into());
        self.key = Some(key.into());
        self
    }

    /// Sets the master key id and, when known, its version.
    pub fn master_key(mut self, key_id: impl Into<String>, version: Option<u32>) -> Event {
        self.key_id = Some(key_id.into());
        self.key_version = version;
        self
    }

    /// Adds a resource ARN.
    pub fn resource(mut self, arn: impl Into<String>) -> Event {
        self.resources.push(arn.into());
        self
    }

    /// Records an allow by the named policy statement.
    pub fn allowed_by(mut self, statement: impl Into<String>) -> Event {
        self.decision = Decision::Allow;
        self.decided_by = Some(statement.into());
        self
    }

    /// Records a deny, by the named statement or (with `None`) because nothing allowed it.
    pub fn denied_by(mut self, statement: Option<String>) -> Event {
        self.decision = Decision::Deny;
        self.decided_by = statement;
        self
    }

    /// Sets the decision without naming a statement.
    pub fn decision(mut self, decision: Decision) -> Event {
        self.decision = decision;
        self
    }

    /// Sets the reason, in words.
    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: u16) -> Event {
        self.status = status;
        self
    }

    /// Sets the HTTP status and wire error code of a failed request.
    pub fn error(mut self, status: u16, error_code: impl Into<String>) -> Event {
        self.status = status;
        self.error_code = Some(error_code.into());
        self
    }

    /// Sets the body bytes received and sent.
    pub fn bytes(mut self, bytes_in: u64, bytes_out: u64) -> Event {
        self.bytes_in = bytes_in;
        self.bytes_out = bytes_out;
        self
    }
}

fn now_millis() -> OffsetDateTime {
    truncate_millis(OffsetDateTime::now_utc())
}

fn truncate_millis(time: OffsetDateTime) -> OffsetDateTime {
    let utc = time.to_offset(time::UtcOffset::UTC);
    utc.replace_millisecond(utc.millisecond()).unwrap_or(utc)
}

/// Serde for the `time` field: RFC 3339 in UTC with exactly three fraction digits and a `Z`.
mod rfc3339_millis {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _, ser::Error as _};
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset, macros::format_description};

    pub fn serialize<S: Serializer>(time: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let format = format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        );
        let text = time
            .to_offset(UtcOffset::UTC)
            .format(&format)
            .map_err(S::Error::custom)?;
        s.serialize_str(&text)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        let time = OffsetDateTime::parse(&text, &Rfc3339).map_err(D::Error::custom)?;
        Ok(time.to_offset(UtcOffset::UTC))
    }
}
