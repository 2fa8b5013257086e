//! The wire side of S3 errors: every error code Sealgate can answer, its HTTP status and default
//! message, and the `<Error>` XML document S3 sends.
//!
//! Handlers and `crate::error` build an [`S3Error`] (a code, a message and the context S3 reports
//! beside it: `Resource`, `BucketName`, `Key`, `ArgumentName`...); the server step writes it out
//! with [`S3Error::to_xml`] and [`S3Error::status`]. The mapping from internal errors to these
//! codes lives in `crate::error`, not here.

use std::borrow::Cow;

use http::StatusCode;

use super::xml::escape_text;

/// Declares [`S3ErrorCode`] from one table: variant, code string, HTTP status, default message.
macro_rules! s3_error_codes {
    ($( $variant:ident, $code:literal, $status:literal, $message:literal; )*) => {
        /// An S3 error code, as it appears in `<Code>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum S3ErrorCode {
            $(
                #[doc = $message]
                $variant,
            )*
        }

        impl S3ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [S3ErrorCode] = &[$(S3ErrorCode::$variant,)*];

            /// The code string sent in `<Code>`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$variant => $code,)*
                }
            }

            /// The HTTP status S3 answers with this code.
            pub fn status(self) -> StatusCode {
                let code = match self {
                    $(S3ErrorCode::$variant => $status,)*
                };
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }

            /// The message S3 sends when nothing more specific is known.
            pub fn default_message(self) -> &'static str {
                match self {
                    $(S3ErrorCode::$variant => $message,)*
                }
            }
        }
    };
}

s3_error_codes! {
    AccessDenied, "AccessDenied", 403, "Access Denied";
    AccessControlListNotSupported, "AccessControlListNotSupported", 400,
        "The bucket does not allow ACLs";
    AuthorizationHeaderMalformed, "AuthorizationHeaderMalformed", 400,
        "The authorization header is malformed.";
    AuthorizationQueryParametersError, "AuthorizationQueryParametersError", 400,
        "Error parsing the X-Amz-Credential parameter.";
    BadDigest, "BadDigest", 400,
        "The Content-MD5 you specified did not match what we received.";
    BadRequest, "BadRequest", 400, "Bad Request";
    BucketAlreadyExists, "BucketAlreadyExists", 409,
        "The requested bucket name is not available. Please select a different name and try again.";
    BucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", 409,
        "Your previous request to create the named bucket succeeded and you already own it.";
    BucketNotEmpty, "BucketNotEmpty", 409, "The bucket you tried to delete is not empty";
    EntityTooLarge, "EntityTooLarge", 400,
        "Your proposed upload exceeds the maximum allowed size";
    EntityTooSmall, "EntityTooSmall", 400,
        "Your proposed upload is smaller than the minimum allowed object size.";
    ExpiredToken, "ExpiredToken", 400, "The provided token has expired.";
    IllegalLocationConstraintException, "IllegalLocationConstraintException", 400,
        "The unspecified location constraint is incompatible for the region specific endpoint \
         this request was sent to.";
    IllegalVersioningConfigurationException, "IllegalVersioningConfigurationException", 400,
        "The versioning configuration specified in the request is invalid.";
    IncompleteBody, "IncompleteBody", 400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header.";
    InternalError, "InternalError", 500, "We encountered an internal error. Please try again.";
    InvalidAccessKeyId, "InvalidAccessKeyId", 403,
        "The AWS Access Key Id you provided does not exist in our records.";
    InvalidArgument, "InvalidArgument", 400, "Invalid Argument";
    InvalidBucketName, "InvalidBucketName", 400, "The specified bucket is not valid.";
    InvalidBucketState, "InvalidBucketState", 409,
        "The request is not valid with the current state of the bucket.";
    InvalidDigest, "InvalidDigest", 400, "The Content-MD5 you specified is not valid.";
    InvalidEncryptionAlgorithmError, "InvalidEncryptionAlgorithmError", 400,
        "The encryption request you specified is not valid. The valid value is AES256.";
    InvalidLocationConstraint, "InvalidLocationConstraint", 400,
        "The specified location constraint is not valid.";
    InvalidObjectState, "InvalidObjectState", 403,
        "The operation is not valid for the object's storage class";
    InvalidPart, "InvalidPart", 400,
        "One or more of the specified parts could not be found. The part may not have been \
         uploaded, or the specified entity tag may not match the part's entity tag.";
    InvalidPartNumber, "InvalidPartNumber", 416, "The requested partnumber is not satisfiable";
    InvalidPartOrder, "InvalidPartOrder", 400,
        "The list of parts was not in ascending order. The parts list must be specified in order \
         by part number.";
    InvalidPolicyDocument, "InvalidPolicyDocument", 400,
        "The content of the form does not meet the conditions specified in the policy document.";
    InvalidRange, "InvalidRange", 416, "The requested range is not satisfiable";
    InvalidRequest, "InvalidRequest", 400, "Invalid Request";
    InvalidStorageClass, "InvalidStorageClass", 400,
        "The storage class you specified is not valid";
    InvalidTag, "InvalidTag", 400, "The tag provided was not a valid tag.";
    InvalidToken, "InvalidToken", 400, "The provided token is malformed or otherwise invalid.";
    InvalidURI, "InvalidURI", 400, "Couldn't parse the specified URI.";
    KeyTooLongError, "KeyTooLongError", 400, "Your key is too long";
    KmsDisabled, "KMS.DisabledException", 400, "The KMS key is disabled.";
    KmsInvalidState, "KMS.KMSInvalidStateException", 400,
        "The KMS key is not in a valid state for this request.";
    KmsNotFound, "KMS.NotFoundException", 400, "The KMS key does not exist.";
    MalformedACLError, "MalformedACLError", 400,
        "The XML you provided was not well-formed or did not validate against our published schema";
    MalformedPolicy, "MalformedPolicy", 400, "Policies must be valid JSON.";
    MalformedPOSTRequest, "MalformedPOSTRequest", 400,
        "The body of your POST request is not well-formed multipart/form-data.";
    MalformedXML, "MalformedXML", 400,
        "The XML you provided was not well-formed or did not validate against our published schema";
    MaxMessageLengthExceeded, "MaxMessageLengthExceeded", 400, "Your request was too big.";
    MetadataTooLarge, "MetadataTooLarge", 400,
        "Your metadata headers exceed the maximum allowed metadata size.";
    MethodNotAllowed, "MethodNotAllowed", 405,
        "The specified method is not allowed against this resource.";
    MissingContentLength, "MissingContentLength", 411,
        "You must provide the Content-Length HTTP header.";
    MissingRequestBodyError, "MissingRequestBodyError", 400, "Request Body is empty";
    MissingSecurityHeader, "MissingSecurityHeader", 400,
        "Your request is missing a required header.";
    NoSuchBucket, "NoSuchBucket", 404, "The specified bucket does not exist";
    NoSuchBucketPolicy, "NoSuchBucketPolicy", 404, "The bucket policy does not exist";
    NoSuchCORSConfiguration, "NoSuchCORSConfiguration", 404,
        "The CORS configuration does not exist";
    NoSuchKey, "NoSuchKey", 404, "The specified key does not exist.";
    NoSuchLifecycleConfiguration, "NoSuchLifecycleConfiguration", 404,
        "The lifecycle configuration does not exist";
    NoSuchTagSet, "NoSuchTagSet", 404, "The TagSet does not exist";
    NoSuchUpload, "NoSuchUpload", 404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.";
    NoSuchVersion, "NoSuchVersion", 404,
        "The version ID specified in the request does not match an existing version.";
    NoSuchWebsiteConfiguration, "NoSuchWebsiteConfiguration", 404,
        "The specified bucket does not have a website configuration";
    NotImplemented, "NotImplemented", 501,
        "A header you provided implies functionality that is not implemented";
    NotModified, "NotModified", 304, "Not Modified";
    ObjectLockConfigurationNotFoundError, "ObjectLockConfigurationNotFoundError", 404,
        "Object Lock configuration does not exist for this bucket";
    OperationAborted, "OperationAborted", 409,
        "A conflicting conditional operation is currently in progress against this resource. \
         Please try again.";
    OwnershipControlsNotFoundError, "OwnershipControlsNotFoundError", 404,
        "The bucket ownership controls were not found";
    PermanentRedirect, "PermanentRedirect", 301,
        "The bucket you are attempting to access must be addressed using the specified \
         endpoint. Please send all future requests to this endpoint.";
    PreconditionFailed, "PreconditionFailed", 412,
        "At least one of the pre-conditions you specified did not hold";
    ReplicationConfigurationNotFoundError, "ReplicationConfigurationNotFoundError", 404,
        "The replication configuration was not found";
    RequestTimeout, "RequestTimeout", 400,
        "Your socket connection to the server was not read from or written to within the \
         timeout period.";
    RequestTimeTooSkewed, "RequestTimeTooSkewed", 403,
        "The difference between the request time and the current time is too large.";
    ServerSideEncryptionConfigurationNotFoundError,
        "ServerSideEncryptionConfigurationNotFoundError", 404,
        "The server side encryption configuration was not found";
    ServiceUnavailable, "ServiceUnavailable", 503, "Please reduce your request rate.";
    SignatureDoesNotMatch, "SignatureDoesNotMatch", 403,
        "The request signature we calculated does not match the signature you provided. Check \
         your key and signing method.";
    SlowDown, "SlowDown", 503, "Please reduce your request rate.";
    TemporaryRedirect, "TemporaryRedirect", 307,
        "You are being redirected to the bucket while DNS updates.";
    TooManyBuckets, "TooManyBuckets", 400,
        "You have attempted to create more buckets than allowed";
    UnexpectedContent, "UnexpectedContent", 400, "This request does not support content";
    UnresolvableGrantByEmailAddress, "UnresolvableGrantByEmailAddress", 400,
        "The email address you provided does not match any account on record.";
    XAmzContentSHA256Mismatch, "XAmzContentSHA256Mismatch", 400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.";
}

impl std::fmt::Display for S3ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One S3 error as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct S3Error {
    /// The error code.
    pub code: S3ErrorCode,
    /// The human-readable message (`<Message>`).
    pub message: Cow<'static, str>,
    /// The bucket or object the request named (`<Resource>`), when S3 reports it.
    pub resource: Option<String>,
    /// Further elements S3 adds for this code, such as `BucketName`, `Key`, `ArgumentName`,
    /// `ArgumentValue`, `RangeRequested` or `ActualObjectSize`, in the order given.
    pub extra: Vec<(&'static str, String)>,
}

impl S3Error {
    /// An error with the code's default message and no context.
    pub fn new(code: S3ErrorCode) -> Self {
        Self::with_message(code, code.default_message())
    }

    /// An error with a specific message.
    pub fn with_message(code: S3ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            resource: None,
            extra: Vec::new(),
        }
    }

    /// Sets `<Resource>`.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Adds a context element such as `("BucketName", bucket)`.
    pub fn with(mut self, element: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((element, value.into()));
        self
    }

    /// An `InvalidArgument` naming the offending argument, as S3 reports it.
    pub fn invalid_argument(message: &'static str, name: &str, value: &str) -> Self {
        Self::with_message(S3ErrorCode::InvalidArgument, message)
            .with("ArgumentName", name)
            .with("ArgumentValue", value)
    }

    /// `NoSuchBucket`, naming the bucket as S3 does.
    pub fn no_such_bucket(bucket: &str) -> Self {
        Self::new(S3ErrorCode::NoSuchBucket).with("BucketName", bucket)
    }

    /// `NoSuchKey`, naming the key as S3 does.
    pub fn no_such_key(key: &str) -> Self {
        Self::new(S3ErrorCode::NoSuchKey).with("Key", key)
    }

    /// `NoSuchUpload`, naming the upload id as S3 does.
    pub fn no_such_upload(upload_id: &str) -> Self {
        Self::new(S3ErrorCode::NoSuchUpload).with("UploadId", upload_id)
    }

    /// `NotImplemented` for an S3 operation Sealgate does not serve, naming it.
    pub fn not_implemented(operation: &str) -> Self {
        let message = format!("{operation} is not implemented by Sealgate");
        Self::with_message(S3ErrorCode::NotImplemented, message)
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// Whether the response carries a body: S3 sends `304 Not Modified` (and `HEAD` answers)
    /// without one.
    pub fn has_body(&self) -> bool {
        self.code != S3ErrorCode::NotModified
    }

    /// The `<Error>` document, in S3's element order: `Code`, `Message`, the context elements,
    /// `Resource`, `RequestId`.
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
        out.push_str("\n<Error>");
        push_element(&mut out, "Code", self.code.as_str());
        push_element(&mut out, "Message", &self.message);
        for (name, value) in &self.extra {
            push_element(&mut out, name, value);
        }
        if let Some(resource) = &self.resource {
            push_element(&mut out, "Resource", resource);
        }
        push_element(&mut out, "RequestId", request_id);
        out.push_str("</Error>");
        out
    }
}

impl From<S3ErrorCode> for S3Error {
    fn from(code: S3ErrorCode) -> Self {
        Self::new(code)
    }
}

fn push_element(out: &mut String, name: &str, value: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape_text(value));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statuses the S3 API reference documents for each code.
    const DOCUMENTED: &[(&str, u16)] = &[
        ("AccessDenied", 403),
        ("AccessControlListNotSupported", 400),
        ("AuthorizationHeaderMalformed", 400),
        ("AuthorizationQueryParametersError", 400),
        ("BadDigest", 400),
        ("BadRequest", 400),
        ("BucketAlreadyExists", 409),
        ("BucketAlreadyOwnedByYou", 409),
        ("BucketNotEmpty", 409),
        ("EntityTooLarge", 400),
        ("EntityTooSmall", 400),
        ("ExpiredToken", 400),
        ("IllegalLocationConstraintException", 400),
        ("IllegalVersioningConfigurationException", 400),
        ("IncompleteBody", 400),
        ("InternalError", 500),
        ("InvalidAccessKeyId", 403),
        ("InvalidArgument", 400),
        ("InvalidBucketName", 400),
        ("InvalidBucketState", 409),
        ("InvalidDigest", 400),
        ("InvalidEncryptionAlgorithmError", 400),
        ("InvalidLocationConstraint", 400),
        ("InvalidObjectState", 403),
        ("InvalidPart", 400),
        ("InvalidPartNumber", 416),
        ("InvalidPartOrder", 400),
        ("InvalidPolicyDocument", 400),
        ("InvalidRange", 416),
        ("InvalidRequest", 400),
        ("InvalidStorageClass", 400),
        ("InvalidTag", 400),
        ("InvalidToken", 400),
        ("InvalidURI", 400),
        ("KeyTooLongError", 400),
        ("KMS.DisabledException", 400),
        ("KMS.KMSInvalidStateException", 400),
        ("KMS.NotFoundException", 400),
        ("MalformedACLError", 400),
        ("MalformedPolicy", 400),
        ("MalformedPOSTRequest", 400),
        ("MalformedXML", 400),
        ("MaxMessageLengthExceeded", 400),
        ("MetadataTooLarge", 400),
        ("MethodNotAllowed", 405),
        ("MissingContentLength", 411),
        ("MissingRequestBodyError", 400),
        ("MissingSecurityHeader", 400),
        ("NoSuchBucket", 404),
        ("NoSuchBucketPolicy", 404),
        ("NoSuchCORSConfiguration", 404),
        ("NoSuchKey", 404),
        ("NoSuchLifecycleConfiguration", 404),
        ("NoSuchTagSet", 404),
        ("NoSuchUpload", 404),
        ("NoSuchVersion", 404),
        ("NoSuchWebsiteConfiguration", 404),
        ("NotImplemented", 501),
        ("NotModified", 304),
        ("ObjectLockConfigurationNotFoundError", 404),
        ("OperationAborted", 409),
        ("OwnershipControlsNotFoundError", 404),
        ("PermanentRedirect", 301),
        ("PreconditionFailed", 412),
        ("ReplicationConfigurationNotFoundError", 404),
        ("RequestTimeout", 400),
        ("RequestTimeTooSkewed", 403),
        ("ServerSideEncryptionConfigurationNotFoundError", 404),
        ("ServiceUnavailable", 503),
        ("SignatureDoesNotMatch", 403),
        ("SlowDown", 503),
        ("TemporaryRedirect", 307),
        ("TooManyBuckets", 400),
        ("UnexpectedContent", 400),
        ("UnresolvableGrantByEmailAddress", 400),
        ("XAmzContentSHA256Mismatch", 400),
    ];

    #[test]
    fn every_code_has_the_documented_status() {
        assert_eq!(S3ErrorCode::ALL.len(), DOCUMENTED.len());
        for code in S3ErrorCode::ALL {
            let want = DOCUMENTED.iter().find(|(name, _)| *name == code.as_str());
            let (_, status) = want.unwrap_or_else(|| panic!("{code} missing from the table"));
            assert_eq!(code.status().as_u16(), *status, "{code}");
        }
    }

    #[test]
    fn codes_are_unique_and_have_messages() {
        let mut names: Vec<_> = S3ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), S3ErrorCode::ALL.len());
        assert!(
            S3ErrorCode::ALL
                .iter()
                .all(|c| !c.default_message().is_empty())
        );
    }

    #[test]
    fn error_xml_has_s3_shape() {
        let err = S3Error::new(S3ErrorCode::NoSuchKey)
            .resource("/b/a&b")
            .with("Key", "a&b");
        let xml = err.to_xml("4442587FB7D0A2F9");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>\
             <Message>The specified key does not exist.</Message><Key>a&amp;b</Key>\
             <Resource>/b/a&amp;b</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"
        );
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn error_xml_survives_control_characters() {
        let err = S3Error::new(S3ErrorCode::NoSuchKey).with("Key", "a\u{1}b<");
        let xml = err.to_xml("id");
        assert!(!xml.contains('\u{1}'));
        assert!(xml.contains("<Key>a\u{FFFD}b&lt;</Key>"));
    }

    #[test]
    fn helpers_carry_s3_context() {
        let xml = S3Error::no_such_bucket("b").to_xml("r");
        assert!(xml.contains("<Code>NoSuchBucket</Code>"));
        assert!(xml.contains("<BucketName>b</BucketName>"));
        assert!(
            S3Error::no_such_key("k")
                .to_xml("r")
                .contains("<Key>k</Key>")
        );
        let upload = S3Error::no_such_upload("u").to_xml("r");
        assert!(upload.contains("<UploadId>u</UploadId>"));
        let err = S3Error::not_implemented("GetBucketAcl");
        assert_eq!(err.status().as_u16(), 501);
        assert_eq!(err.message, "GetBucketAcl is not implemented by Sealgate");
    }

    #[test]
    fn not_modified_has_no_body() {
        assert!(!S3Error::new(S3ErrorCode::NotModified).has_body());
        assert!(S3Error::new(S3ErrorCode::NoSuchKey).has_body());
    }

    #[test]
    fn invalid_argument_names_its_argument() {
        let err = S3Error::invalid_argument("bad max-keys", "max-keys", "-1");
        let xml = err.to_xml("r");
        assert!(xml.contains("<ArgumentName>max-keys</ArgumentName>"));
        assert!(xml.contains("<ArgumentValue>-1</ArgumentValue>"));
    }
}
