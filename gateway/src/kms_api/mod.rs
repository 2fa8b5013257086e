//! The KMS API: AWS KMS's JSON protocol on Sealgate's listener, so `aws kms --endpoint-url` and
//! the AWS SDKs work unmodified.
//!
//! A request is `POST /` with `X-Amz-Target: TrentService.<Operation>` and a JSON body. It walks
//! the same path as an S3 request, shorter: the body is read (it is small), the SigV4 signature
//! checked over it with service `kms`, the caller's policies and the key's policy asked
//! ([`access`]), then the operation runs on `kms-core` and answers JSON.
//! Every error becomes `{"__type": ..., "message": ...}` in [`KmsError`], the one mapping from
//! internal errors to KMS's wire errors. Binary values (plaintexts, ciphertext blobs) travel as
//! base64, as in AWS.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use kms_core::{CreateKey, DataKeySpec, EncryptionContext, Kms, Tag};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::{self, AuthError, AuthSettings};
use crate::server::{App, ResponseBody, full};
use crate::trail;

mod access;

/// The `X-Amz-Target` prefix of every KMS operation.
pub const TARGET_PREFIX: &str = "TrentService.";

/// The largest request body read (a 4096-byte plaintext or 6144-byte blob is far less in base64).
const MAX_BODY: usize = 64 * 1024;

/// The only encryption algorithm of symmetric keys.
const SYMMETRIC_DEFAULT: &str = "SYMMETRIC_DEFAULT";

/// Whether `request` is a KMS request (by its `X-Amz-Target`).
pub fn is_kms<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with(TARGET_PREFIX))
}

/// Answers one KMS request.
pub async fn handle(app: &App, request: Request<Incoming>) -> Response<ResponseBody> {
    match run(app, request).await {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &KmsError) -> Response<ResponseBody> {
    tracing::debug!(error = %error.message, kind = error.kind, "kms request refused");
    let body = json!({ "__type": error.kind, "message": error.message });
    let mut response = json_response(error.status, &body);
    let code = trail::ErrorCode(error.kind.to_owned());
    response.extensions_mut().insert(code);
    response
}

/// The answer while the audit trail cannot be written.
pub fn unavailable() -> Response<ResponseBody> {
    let error = KmsError::new("KMSInternalException", "An internal error occurred");
    error_response(&error)
}

async fn run(app: &App, request: Request<Incoming>) -> Result<Value, KmsError> {
    let (parts, body) = request.into_parts();
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    tracing::Span::current().record("operation", operation.as_str());
    trail::note(|e| e.action = format!("kms:{operation}"));
    if parts.method != http::Method::POST || parts.uri.path() != "/" {
        return Err(KmsError::new(
            "UnsupportedOperationException",
            "KMS takes POST /",
        ));
    }
    let body = read_body(body).await?;

    let settings = AuthSettings::new(&app.region);
    let who = auth::authenticate_buffered(&parts, &body, app.credentials.as_ref(), &settings)
        .await
        .map_err(KmsError::from)?;
    tracing::Span::current().record("access_key_id", who.access_key_id.as_str());
    if who.service != "kms" {
        let msg = "Credential should be scoped to correct service: 'kms'.";
        return Err(KmsError::new("InvalidSignatureException", msg));
    }

    let grants = crate::server::grants(app, &who, &parts).map_err(access::internal)?;
    // A body that is not JSON asks about nothing; the operation refuses it.
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    access::authorize(app, &grants, &operation, &value)?;

    let kms = app.keys.kms();
    if !MUTATIONS.contains(&operation.as_str()) {
        return operate(kms, &operation, &body);
    }
    // These write the key store (with fsync): off the runtime's threads.
    let kms = std::sync::Arc::clone(kms);
    tokio::task::spawn_blocking(move || operate(&kms, &operation, &body))
        .await
        .map_err(|_| KmsError::new("KMSInternalException", "An internal error occurred"))?
}

/// The operations that change the key store; the rest only read it.
const MUTATIONS: &[&str] = &[
    "CreateKey",
    "EnableKey",
    "DisableKey",
    "UpdateKeyDescription",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "RotateKeyOnDemand",
    "PutKeyPolicy",
];

async fn read_body(body: Incoming) -> Result<Bytes, KmsError> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let collected = limited.collect().await.map_err(|_| {
        KmsError::new(
            "ValidationException",
            "The request body is too large or incomplete",
        )
    })?;
    Ok(collected.to_bytes())
}

/// Runs `operation` with its JSON `body`.
fn operate(kms: &Kms, operation: &str, body: &[u8]) -> Result<Value, KmsError> {
    match operation {
        "CreateKey" => create_key(kms, parse(body)?),
        "DescribeKey" => {
            let r: KeyRef = parse(body)?;
            Ok(json!({ "KeyMetadata": kms.describe_key(&r.key_id)? }))
        }
        "ListKeys" => Ok(json!({ "Keys": kms.list_keys(), "Truncated": false })),
        "EnableKey" => {
            let r: KeyRef = parse(body)?;
            kms.enable_key(&r.key_id)?;
            Ok(json!({}))
        }
        "DisableKey" => {
            let r: KeyRef = parse(body)?;
            kms.disable_key(&r.key_id)?;
            Ok(json!({}))
        }
        "UpdateKeyDescription" => {
            let r: UpdateDescription = parse(body)?;
            kms.update_key_description(&r.key_id, &r.description)?;
            Ok(json!({}))
        }
        "ScheduleKeyDeletion" => schedule_deletion(kms, parse(body)?),
        "CancelKeyDeletion" => {
            let r: KeyRef = parse(body)?;
            let meta = kms.cancel_key_deletion(&r.key_id)?;
            Ok(json!({ "KeyId": meta.arn }))
        }
        "CreateAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.create_alias(&r.alias_name, &required(r.target_key_id, "TargetKeyId")?)?;
            Ok(json!({}))
        }
        "UpdateAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.update_alias(&r.alias_name, &required(r.target_key_id, "TargetKeyId")?)?;
            Ok(json!({}))
        }
        "DeleteAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.delete_alias(&r.alias_name)?;
            Ok(json!({}))
        }
        "ListAliases" => {
            let r: OptionalKeyRef = parse(body)?;
            let aliases = kms.list_aliases(r.key_id.as_deref())?;
            Ok(json!({ "Aliases": aliases, "Truncated": false }))
        }
        "Encrypt" => encrypt(kms, parse(body)?),
        "Decrypt" => decrypt(kms, parse(body)?),
        "ReEncrypt" => re_encrypt(kms, parse(body)?),
        "GenerateDataKey" => generate_data_key(kms, parse(body)?, true),
        "GenerateDataKeyWithoutPlaintext" => generate_data_key(kms, parse(body)?, false),
        "GenerateRandom" => {
            let r: RandomRequest = parse(body)?;
            let len = required(r.number_of_bytes, "NumberOfBytes")?;
            let random = kms.generate_random(len)?;
            Ok(json!({ "Plaintext": BASE64.encode(random.as_bytes()) }))
        }
        "EnableKeyRotation" => {
            let r: RotationRequest = parse(body)?;
            kms.enable_key_rotation(&r.key_id, r.rotation_period_in_days)?;
            Ok(json!({}))
        }
        "DisableKeyRotation" => {
            let r: KeyRef = parse(body)?;
            kms.disable_key_rotation(&r.key_id)?;
            Ok(json!({}))
        }
        "GetKeyRotationStatus" => {
            let r: KeyRef = parse(body)?;
            Ok(serde_json::to_value(
                kms.get_key_rotation_status(&r.key_id)?,
            )?)
        }
        "RotateKeyOnDemand" => {
            let r: KeyRef = parse(body)?;
            let rotation = kms.rotate_key_on_demand(&r.key_id)?;
            Ok(json!({ "KeyId": rotation.key_id }))
        }
        "ListKeyRotations" => {
            let r: KeyRef = parse(body)?;
            let rotations = kms.list_key_rotations(&r.key_id)?;
            Ok(json!({ "Rotations": rotations, "Truncated": false }))
        }
        "GetKeyPolicy" => {
            let r: KeyRef = parse(body)?;
            let policy = kms
                .get_key_policy(&r.key_id)?
                .unwrap_or_else(|| default_policy(&kms.options().account_id));
            Ok(json!({ "Policy": policy, "PolicyName": "default" }))
        }
        "PutKeyPolicy" => {
            let r: PutKeyPolicy = parse(body)?;
            if r.policy_name.as_deref().is_some_and(|n| n != "default") {
                let msg = "PolicyName must be \"default\"";
                return Err(KmsError::new("ValidationException", msg));
            }
            access::check_policy(&r.policy)?;
            kms.put_key_policy(&r.key_id, &r.policy)?;
            Ok(json!({}))
        }
        "ListResourceTags" => {
            let r: KeyRef = parse(body)?;
            let tags = kms.list_resource_tags(&r.key_id)?;
            Ok(json!({ "Tags": tags, "Truncated": false }))
        }
        other => Err(KmsError::new(
            "UnsupportedOperationException",
            &format!("{other} is not implemented by Sealgate"),
        )),
    }
}

fn create_key(kms: &Kms, r: CreateKeyRequest) -> Result<Value, KmsError> {
    let spec = r.key_spec.or(r.customer_master_key_spec);
    if spec.as_deref().is_some_and(|s| s != "SYMMETRIC_DEFAULT") {
        let msg = "Sealgate makes symmetric keys only (KeySpec SYMMETRIC_DEFAULT)";
        return Err(KmsError::new("UnsupportedOperationException", msg));
    }
    if r.key_usage
        .as_deref()
        .is_some_and(|u| u != "ENCRYPT_DECRYPT")
    {
        let msg = "Sealgate makes ENCRYPT_DECRYPT keys only";
        return Err(KmsError::new("UnsupportedOperationException", msg));
    }
    if let Some(policy) = &r.policy {
        access::check_policy(policy)?;
    }
    let request = CreateKey {
        description: r.description.unwrap_or_default(),
        tags: r.tags.unwrap_or_default(),
        policy: r.policy,
    };
    Ok(json!({ "KeyMetadata": kms.create_key(request)? }))
}

fn schedule_deletion(kms: &Kms, r: ScheduleDeletion) -> Result<Value, KmsError> {
    let meta = kms.schedule_key_deletion(&r.key_id, r.pending_window_in_days)?;
    Ok(json!({
        "KeyId": meta.arn,
        "DeletionDate": meta.deletion_date.map(|d| d.unix_timestamp()),
        "KeyState": meta.key_state,
        "PendingWindowInDays": meta.pending_deletion_window_in_days,
    }))
}

fn encrypt(kms: &Kms, r: EncryptRequest) -> Result<Value, KmsError> {
    let plaintext = decode(&r.plaintext, "Plaintext")?;
    let context = r.encryption_context.unwrap_or_default();
    let blob = kms.encrypt(&r.key_id, &plaintext, &context)?;
    let key = kms.describe_key(&r.key_id)?;
    Ok(json!({
        "CiphertextBlob": BASE64.encode(blob),
        "KeyId": key.arn,
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

fn decrypt(kms: &Kms, r: DecryptRequest) -> Result<Value, KmsError> {
    let blob = decode(&r.ciphertext_blob, "CiphertextBlob")?;
    let context = r.encryption_context.unwrap_or_default();
    let opened = kms.decrypt(&blob, &context)?;
    if let Some(wanted) = &r.key_id {
        let wanted = kms.describe_key(wanted)?;
        if wanted.key_id != opened.key_id {
            let msg = "The key ID in the request does not identify a KMS key that can perform \
                       this operation.";
            return Err(KmsError::new("IncorrectKeyException", msg));
        }
    }
    Ok(json!({
        "KeyId": opened.key_arn,
        "Plaintext": BASE64.encode(opened.plaintext.as_bytes()),
        "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

fn re_encrypt(kms: &Kms, r: ReEncryptRequest) -> Result<Value, KmsError> {
    let blob = decode(&r.ciphertext_blob, "CiphertextBlob")?;
    let source_context = r.source_encryption_context.unwrap_or_default();
    let destination_context = r.destination_encryption_context.unwrap_or_default();
    let source = kms.decrypt(&blob, &source_context)?;
    let rewrapped = kms.re_encrypt(
        &blob,
        &source_context,
        &r.destination_key_id,
        &destination_context,
    )?;
    let destination = kms.describe_key(&r.destination_key_id)?;
    Ok(json!({
        "CiphertextBlob": BASE64.encode(rewrapped),
        "SourceKeyId": source.key_arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": SYMMETRIC_DEFAULT,
        "DestinationEncryptionAlgorithm": SYMMETRIC_DEFAULT,
    }))
}

fn generate_data_key(
    kms: &Kms,
    r: DataKeyRequest,
    with_plaintext: bool,
) -> Result<Value, KmsError> {
    let spec = match (r.key_spec.as_deref(), r.number_of_bytes) {
        (Some(_), Some(_)) => {
            let msg = "KeySpec and NumberOfBytes cannot both be given";
            return Err(KmsError::new("ValidationException", msg));
        }
        (Some("AES_256"), None) => DataKeySpec::Aes256,
        (Some("AES_128"), None) => DataKeySpec::Aes128,
        (Some(other), None) => {
            let msg = format!("KeySpec {other} is not AES_256 or AES_128");
            return Err(KmsError::new("ValidationException", &msg));
        }
        (None, Some(n)) => DataKeySpec::Bytes(n),
        (None, None) => {
            let msg = "Please specify either number of bytes or key spec.";
            return Err(KmsError::new("ValidationException", msg));
        }
    };
    let context = r.encryption_context.unwrap_or_default();
    let data = kms.generate_data_key_with(&r.key_id, spec, &context, with_plaintext)?;
    let mut answer = json!({
        "CiphertextBlob": BASE64.encode(&data.ciphertext_blob),
        "KeyId": data.key_arn,
    });
    if let (Some(plaintext), Some(map)) = (&data.plaintext, answer.as_object_mut()) {
        map.insert(
            "Plaintext".to_owned(),
            Value::String(BASE64.encode(plaintext.as_bytes())),
        );
    }
    Ok(answer)
}

/// What GetKeyPolicy shows for a key created without a policy: AWS's default, which leaves the
/// key's use to the account (the root) and to identity policies. Sealgate does not store it, so
/// such a key has no resource policy to evaluate.
fn default_policy(account_id: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": { "AWS": format!("arn:aws:iam::{account_id}:root") },
            "Action": "kms:*",
            "Resource": "*",
        }],
    })
    .to_string()
}

// ---------------------------------------------------------------------------------------------
// Request shapes (AWS's names; unknown members are ignored, as AWS SDKs may send more)

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyRef {
    key_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OptionalKeyRef {
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateKeyRequest {
    description: Option<String>,
    tags: Option<Vec<Tag>>,
    policy: Option<String>,
    key_usage: Option<String>,
    key_spec: Option<String>,
    customer_master_key_spec: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutKeyPolicy {
    key_id: String,
    policy: String,
    policy_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateDescription {
    key_id: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleDeletion {
    key_id: String,
    pending_window_in_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AliasRequest {
    alias_name: String,
    target_key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EncryptRequest {
    key_id: String,
    plaintext: String,
    encryption_context: Option<EncryptionContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DecryptRequest {
    ciphertext_blob: String,
    encryption_context: Option<EncryptionContext>,
    key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReEncryptRequest {
    ciphertext_blob: String,
    source_encryption_context: Option<EncryptionContext>,
    destination_key_id: String,
    destination_encryption_context: Option<EncryptionContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DataKeyRequest {
    key_id: String,
    key_spec: Option<String>,
    number_of_bytes: Option<usize>,
    encryption_context: Option<EncryptionContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RandomRequest {
    number_of_bytes: Option<usize>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RotationRequest {
    key_id: String,
    rotation_period_in_days: Option<u32>,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, KmsError> {
    let body = if body.is_empty() {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let msg = format!("The request is not valid: {e}");
        KmsError::new("ValidationException", &msg)
    })
}

fn required<T>(value: Option<T>, name: &str) -> Result<T, KmsError> {
    value.ok_or_else(|| {
        let msg = format!("1 validation error detected: {name} must not be null");
        KmsError::new("ValidationException", &msg)
    })
}

fn decode(value: &str, name: &str) -> Result<Vec<u8>, KmsError> {
    BASE64.decode(value).map_err(|_| {
        let msg = format!("{name} is not valid base64");
        KmsError::new("ValidationException", &msg)
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<ResponseBody> {
    let mut response = full(status, body.to_string());
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    response
}

// ---------------------------------------------------------------------------------------------
// Errors

/// An error as KMS sends it: its `__type`, a message and the HTTP status.
#[derive(Debug)]
pub struct KmsError {
    /// The exception name, such as `NotFoundException`.
    pub kind: &'static str,
    /// The message for the client.
    pub message: String,
    /// The HTTP status.
    pub status: StatusCode,
}

impl KmsError {
    fn with_status(kind: &'static str, message: &str, status: StatusCode) -> KmsError {
        KmsError {
            kind,
            message: message.to_owned(),
            status,
        }
    }

    fn new(kind: &'static str, message: &str) -> KmsError {
        let status = match kind {
            "KMSInternalException" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        KmsError::with_status(kind, message, status)
    }
}

/// The one mapping from kms-core's errors to KMS's wire errors. Internal faults say nothing more
/// to the client than that; the detail goes to the log.
impl From<kms_core::Error> for KmsError {
    fn from(error: kms_core::Error) -> KmsError {
        use kms_core::Error as E;
        let message = error.to_string();
        match &error {
            E::InvalidCiphertext | E::Aead => KmsError::new("InvalidCiphertextException", ""),
            E::NotFound { .. } => KmsError::new("NotFoundException", &message),
            E::Disabled { .. } => KmsError::new("DisabledException", &message),
            E::InvalidState { .. } => KmsError::new("KMSInvalidStateException", &message),
            E::AlreadyExists { .. } => KmsError::new("AlreadyExistsException", &message),
            E::Validation { .. } => KmsError::new("ValidationException", &message),
            E::LimitExceeded { .. } => KmsError::new("LimitExceededException", &message),
            E::RootUnavailable { .. } => {
                tracing::error!(error = %error, "root of trust unavailable");
                let msg = "The key store is unavailable; retry later";
                KmsError::with_status("KMSInternalException", msg, StatusCode::SERVICE_UNAVAILABLE)
            }
            // Root key, store, root of trust, random generator, and whatever kms-core adds.
            _ => {
                tracing::error!(error = %error, "kms operation failed");
                KmsError::new("KMSInternalException", "An internal error occurred")
            }
        }
    }
}

impl From<AuthError> for KmsError {
    fn from(error: AuthError) -> KmsError {
        tracing::debug!(error = %error, "kms request not authenticated");
        match error {
            AuthError::InvalidAccessKeyId { .. } => KmsError::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            ),
            AuthError::Anonymous => KmsError::new(
                "MissingAuthenticationTokenException",
                "Request is missing Authentication Token",
            ),
            AuthError::RequestTimeTooSkewed { .. } | AuthError::Expired { .. } => {
                KmsError::new("InvalidSignatureException", "Signature expired")
            }
            _ => KmsError::new(
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided.",
            ),
        }
    }
}

impl From<serde_json::Error> for KmsError {
    fn from(error: serde_json::Error) -> KmsError {
        tracing::error!(error = %error, "kms answer not serialised");
        KmsError::new("KMSInternalException", "An internal error occurred")
    }
}
