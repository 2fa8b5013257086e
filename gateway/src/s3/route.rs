//! Which S3 operation a request asks for, and on which bucket and key.
//!
//! The server step hands every non-KMS, non-health request here. [`Router::route`] reads the
//! method, the path (path-style `/bucket/key`, or virtual-hosted `bucket.<base domain>/key` for
//! the configured base domains), the sub-resource query parameters and the copy-source header,
//! and returns a [`Route`]: the [`Operation`], the percent-decoded bucket and key (checked against
//! S3's naming rules) and the decoded query. Operations S3 has but Sealgate does not serve come
//! back as [`Operation::Unsupported`] naming them, so the handler can answer `NotImplemented`;
//! requests no S3 operation matches are refused with `MethodNotAllowed`.

use http::{HeaderMap, Method, Uri};
use percent_encoding::percent_decode_str;

use super::errors::{S3Error, S3ErrorCode};
use super::names::{check_bucket_name, check_key};

/// An S3 operation Sealgate recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // The variants are S3's operation names.
pub enum Operation {
    ListBuckets,
    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    PutObject,
    CopyObject,
    GetObject,
    HeadObject,
    DeleteObject,
    DeleteObjects,
    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy,
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
    ListMultipartUploads,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketVersioning,
    /// Objects never carry tags: answered with an empty tag set.
    GetObjectTagging,
    /// An S3 operation Sealgate does not serve; answered `NotImplemented`.
    Unsupported {
        /// S3's name for the operation, such as `PutBucketLifecycleConfiguration`.
        name: &'static str,
    },
}

impl Operation {
    /// S3's name for the operation, for logs, spans and error messages.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Unsupported { name } => name,
            other => other.supported_name(),
        }
    }

    fn supported_name(self) -> &'static str {
        use Operation::*;
        match self {
            ListBuckets => "ListBuckets",
            CreateBucket => "CreateBucket",
            HeadBucket => "HeadBucket",
            DeleteBucket => "DeleteBucket",
            GetBucketLocation => "GetBucketLocation",
            ListObjects => "ListObjects",
            ListObjectsV2 => "ListObjectsV2",
            PutObject => "PutObject",
            CopyObject => "CopyObject",
            GetObject => "GetObject",
            HeadObject => "HeadObject",
            DeleteObject => "DeleteObject",
            DeleteObjects => "DeleteObjects",
            GetObjectTagging => "GetObjectTagging",
            CreateMultipartUpload => "CreateMultipartUpload",
            UploadPart => "UploadPart",
            UploadPartCopy => "UploadPartCopy",
            CompleteMultipartUpload => "CompleteMultipartUpload",
            AbortMultipartUpload => "AbortMultipartUpload",
            ListParts => "ListParts",
            ListMultipartUploads => "ListMultipartUploads",
            GetBucketEncryption => "GetBucketEncryption",
            PutBucketEncryption => "PutBucketEncryption",
            DeleteBucketEncryption => "DeleteBucketEncryption",
            GetBucketPolicy => "GetBucketPolicy",
            PutBucketPolicy => "PutBucketPolicy",
            DeleteBucketPolicy => "DeleteBucketPolicy",
            GetBucketVersioning => "GetBucketVersioning",
            Unsupported { name } => name,
        }
    }

    /// Whether the handler must answer `NotImplemented`.
    pub fn is_unsupported(self) -> bool {
        matches!(self, Operation::Unsupported { .. })
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The decoded query string, in the order sent. `+` decodes to a space, as S3 reads queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Decodes a raw query string (`a=1&b&c=%2F`); a parameter without `=` has an empty value.
    pub fn parse(raw: &str) -> Result<Self, S3Error> {
        let pairs = raw.split('&').filter(|p| !p.is_empty()).map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode_query_part(name)?, decode_query_part(value)?))
        });
        pairs.collect::<Result<_, S3Error>>().map(Query)
    }

    /// The first value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether `name` is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// All parameters in the order sent.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }
}

/// A routed request: the operation and what it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The operation asked for.
    pub operation: Operation,
    /// The bucket, decoded and checked against S3's naming rules; `None` for ListBuckets.
    pub bucket: Option<String>,
    /// The object key, decoded and at most 1024 bytes; `None` for service and bucket operations.
    pub key: Option<String>,
    /// The decoded query parameters.
    pub query: Query,
}

impl Route {
    /// The `partNumber` parameter, checked to be 1 to 10000 as S3 requires.
    pub fn part_number(&self) -> Result<Option<u16>, S3Error> {
        self.query
            .get("partNumber")
            .map(parse_part_number)
            .transpose()
    }

    /// The `uploadId` parameter.
    pub fn upload_id(&self) -> Option<&str> {
        self.query.get("uploadId")
    }

    /// The resource S3 names in errors: `/bucket/key`, `/bucket` or `/`.
    pub fn resource(&self) -> String {
        match (&self.bucket, &self.key) {
            (Some(bucket), Some(key)) => format!("/{bucket}/{key}"),
            (Some(bucket), None) => format!("/{bucket}"),
            _ => "/".to_owned(),
        }
    }
}

/// Routes requests for the configured virtual-hosted base domains (such as `s3.example.com`);
/// any other host is read path-style.
#[derive(Debug, Clone, Default)]
pub struct Router {
    base_domains: Vec<String>,
}

impl Router {
    /// A router for these base domains (case-insensitive, without port).
    pub fn new(base_domains: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let base_domains = base_domains
            .into_iter()
            .map(|d| d.into().to_ascii_lowercase());
        Self {
            base_domains: base_domains.collect(),
        }
    }

    /// Routes a request from its method, URI and headers (`Host`, `x-amz-copy-source`).
    pub fn route(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<Route, S3Error> {
        let query = Query::parse(uri.query().unwrap_or(""))?;
        let (bucket, key) = self.target(uri, headers)?;
        let copy = headers.contains_key("x-amz-copy-source");
        let operation = match (&bucket, &key) {
            (None, _) => service_operation(method).ok_or_else(|| not_allowed(method, "SERVICE")),
            (Some(_), None) => {
                bucket_operation(method, &query).ok_or_else(|| not_allowed(method, "BUCKET"))
            }
            (Some(_), Some(_)) => {
                object_operation(method, &query, copy).ok_or_else(|| not_allowed(method, "OBJECT"))
            }
        }?;
        Ok(Route {
            operation,
            bucket,
            key,
            query,
        })
    }

    /// The route of a request's head.
    pub fn route_parts(&self, parts: &http::request::Parts) -> Result<Route, S3Error> {
        self.route(&parts.method, &parts.uri, &parts.headers)
    }

    fn target(&self, uri: &Uri, headers: &HeaderMap) -> Result<Target, S3Error> {
        let path = uri.path().strip_prefix('/').unwrap_or(uri.path());
        let (bucket, key) = match self.host_bucket(uri, headers) {
            Some(bucket) => (bucket, decode_path(path)?),
            None => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                (decode_path(bucket)?, decode_path(key)?)
            }
        };
        let bucket = Some(bucket).filter(|b| !b.is_empty());
        let key = Some(key).filter(|k| !k.is_empty() && bucket.is_some());
        check_target(bucket.as_deref(), key.as_deref())?;
        Ok((bucket, key))
    }

    /// The bucket named by a virtual-hosted `Host`, if the host is under a base domain.
    fn host_bucket(&self, uri: &Uri, headers: &HeaderMap) -> Option<String> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        let host = host.or_else(|| uri.host())?.to_ascii_lowercase();
        let host = strip_port(&host);
        let bucket = self
            .base_domains
            .iter()
            .filter_map(|base| host.strip_suffix(base.as_str())?.strip_suffix('.'))
            .min_by_key(|bucket| bucket.len())?;
        Some(bucket.to_owned())
    }
}

type Target = (Option<String>, Option<String>);

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host;
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Decodes a path segment: `%XX` escapes only; `+` stays a plus.
fn decode_path(raw: &str) -> Result<String, S3Error> {
    let decoded = percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| invalid_uri())?;
    Ok(decoded.into_owned())
}

fn decode_query_part(raw: &str) -> Result<String, S3Error> {
    let spaced = raw.replace('+', " ");
    let decoded = percent_decode_str(&spaced)
        .decode_utf8()
        .map_err(|_| invalid_uri())?;
    Ok(decoded.into_owned())
}

fn check_target(bucket: Option<&str>, key: Option<&str>) -> Result<(), S3Error> {
    if let Some(bucket) = bucket {
        check_bucket_name(bucket)?;
    }
    if let Some(key) = key {
        check_key(key)?;
    }
    Ok(())
}

fn parse_part_number(raw: &str) -> Result<u16, S3Error> {
    match raw.parse::<u16>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(S3Error::invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
            "partNumber",
            raw,
        )),
    }
}

fn invalid_uri() -> S3Error {
    S3Error::new(S3ErrorCode::InvalidURI)
}

/// `MethodNotAllowed`, naming the method and the kind of resource as S3 does.
fn not_allowed(method: &Method, resource_type: &str) -> S3Error {
    S3Error::new(S3ErrorCode::MethodNotAllowed)
        .with("Method", method.as_str())
        .with("ResourceType", resource_type)
}

fn service_operation(method: &Method) -> Option<Operation> {
    (method == Method::GET).then_some(Operation::ListBuckets)
}

/// Bucket sub-resources, each with its GET, PUT and DELETE operation names (empty: none).
const BUCKET_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    ("acl", "GetBucketAcl", "PutBucketAcl", ""),
    (
        "tagging",
        "GetBucketTagging",
        "PutBucketTagging",
        "DeleteBucketTagging",
    ),
    ("cors", "GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    (
        "lifecycle",
        "GetBucketLifecycleConfiguration",
        "PutBucketLifecycleConfiguration",
        "DeleteBucketLifecycle",
    ),
    (
        "website",
        "GetBucketWebsite",
        "PutBucketWebsite",
        "DeleteBucketWebsite",
    ),
    ("logging", "GetBucketLogging", "PutBucketLogging", ""),
    (
        "notification",
        "GetBucketNotificationConfiguration",
        "PutBucketNotificationConfiguration",
        "",
    ),
    (
        "replication",
        "GetBucketReplication",
        "PutBucketReplication",
        "DeleteBucketReplication",
    ),
    (
        "ownershipControls",
        "GetBucketOwnershipControls",
        "PutBucketOwnershipControls",
        "DeleteBucketOwnershipControls",
    ),
    (
        "publicAccessBlock",
        "GetPublicAccessBlock",
        "PutPublicAccessBlock",
        "DeletePublicAccessBlock",
    ),
    (
        "accelerate",
        "GetBucketAccelerateConfiguration",
        "PutBucketAccelerateConfiguration",
        "",
    ),
    (
        "requestPayment",
        "GetBucketRequestPayment",
        "PutBucketRequestPayment",
        "",
    ),
    (
        "object-lock",
        "GetObjectLockConfiguration",
        "PutObjectLockConfiguration",
        "",
    ),
    ("policyStatus", "GetBucketPolicyStatus", "", ""),
    ("session", "CreateSession", "", ""),
    (
        "metadataTable",
        "GetBucketMetadataTableConfiguration",
        "CreateBucketMetadataTableConfiguration",
        "DeleteBucketMetadataTableConfiguration",
    ),
];

/// Bucket configurations addressed by `id`, with the list operation used when `id` is absent.
const BUCKET_CONFIG_SETS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "analytics",
        "ListBucketAnalyticsConfigurations",
        "GetBucketAnalyticsConfiguration",
        "PutBucketAnalyticsConfiguration",
        "DeleteBucketAnalyticsConfiguration",
    ),
    (
        "metrics",
        "ListBucketMetricsConfigurations",
        "GetBucketMetricsConfiguration",
        "PutBucketMetricsConfiguration",
        "DeleteBucketMetricsConfiguration",
    ),
    (
        "inventory",
        "ListBucketInventoryConfigurations",
        "GetBucketInventoryConfiguration",
        "PutBucketInventoryConfiguration",
        "DeleteBucketInventoryConfiguration",
    ),
    (
        "intelligent-tiering",
        "ListBucketIntelligentTieringConfigurations",
        "GetBucketIntelligentTieringConfiguration",
        "PutBucketIntelligentTieringConfiguration",
        "DeleteBucketIntelligentTieringConfiguration",
    ),
];

fn bucket_operation(method: &Method, query: &Query) -> Option<Operation> {
    use Operation::*;
    if let Some(op) = bucket_unsupported(method, query) {
        return op;
    }
    let op = match *method {
        Method::HEAD => HeadBucket,
        Method::GET => bucket_get(query),
        Method::PUT => bucket_put(query)?,
        Method::DELETE => bucket_delete(query)?,
        Method::POST if query.has("delete") => DeleteObjects,
        Method::POST => unsupported("PostObject"),
        _ => return None,
    };
    Some(op)
}

/// The unsupported bucket sub-resources; `Some(None)` when the method has no such operation.
fn bucket_unsupported(method: &Method, query: &Query) -> Option<Option<Operation>> {
    if *method == Method::HEAD || *method == Method::POST {
        return None;
    }
    for (param, get, put, delete) in BUCKET_SUBRESOURCES {
        if query.has(param) {
            return Some(by_method(method, get, put, delete));
        }
    }
    for (param, list, get, put, delete) in BUCKET_CONFIG_SETS {
        if query.has(param) {
            let get = if query.has("id") { get } else { list };
            return Some(by_method(method, get, put, delete));
        }
    }
    None
}

fn by_method(
    method: &Method,
    get: &'static str,
    put: &'static str,
    delete: &'static str,
) -> Option<Operation> {
    let name = match *method {
        Method::GET => get,
        Method::PUT => put,
        Method::DELETE => delete,
        _ => "",
    };
    (!name.is_empty()).then_some(Operation::Unsupported { name })
}

fn bucket_get(query: &Query) -> Operation {
    use Operation::*;
    if query.has("location") {
        GetBucketLocation
    } else if query.has("versioning") {
        GetBucketVersioning
    } else if query.has("encryption") {
        GetBucketEncryption
    } else if query.has("policy") {
        GetBucketPolicy
    } else if query.has("uploads") {
        ListMultipartUploads
    } else if query.has("versions") {
        unsupported("ListObjectVersions")
    } else if query.get("list-type") == Some("2") {
        ListObjectsV2
    } else {
        ListObjects
    }
}

fn bucket_put(query: &Query) -> Option<Operation> {
    use Operation::*;
    let op = if query.has("versioning") {
        unsupported("PutBucketVersioning")
    } else if query.has("encryption") {
        PutBucketEncryption
    } else if query.has("policy") {
        PutBucketPolicy
    } else if ["location", "uploads", "versions"]
        .iter()
        .any(|p| query.has(p))
    {
        return None;
    } else {
        CreateBucket
    };
    Some(op)
}

fn bucket_delete(query: &Query) -> Option<Operation> {
    use Operation::*;
    let op = if query.has("encryption") {
        DeleteBucketEncryption
    } else if query.has("policy") {
        DeleteBucketPolicy
    } else if ["location", "uploads", "versions", "versioning"]
        .iter()
        .any(|p| query.has(p))
    {
        return None;
    } else {
        DeleteBucket
    };
    Some(op)
}

/// Object sub-resources, each with its GET, PUT and DELETE operation names (empty: none).
const OBJECT_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[
    ("acl", "GetObjectAcl", "PutObjectAcl", ""),
    (
        "tagging",
        "GetObjectTagging",
        "PutObjectTagging",
        "DeleteObjectTagging",
    ),
    ("retention", "GetObjectRetention", "PutObjectRetention", ""),
    ("legal-hold", "GetObjectLegalHold", "PutObjectLegalHold", ""),
    ("torrent", "GetObjectTorrent", "", ""),
    ("attributes", "GetObjectAttributes", "", ""),
];

fn object_operation(method: &Method, query: &Query, copy: bool) -> Option<Operation> {
    use Operation::*;
    if *method != Method::HEAD && *method != Method::POST {
        if *method == Method::GET && query.has("tagging") {
            return Some(GetObjectTagging);
        }
        for (param, get, put, delete) in OBJECT_SUBRESOURCES {
            if query.has(param) {
                return by_method(method, get, put, delete);
            }
        }
    }
    let upload = query.has("uploadId");
    let op = match *method {
        Method::HEAD => HeadObject,
        Method::GET if upload => ListParts,
        Method::GET => GetObject,
        Method::PUT => object_put(query, copy),
        Method::DELETE if upload => AbortMultipartUpload,
        Method::DELETE => DeleteObject,
        Method::POST => object_post(query)?,
        Method::OPTIONS => unsupported("OptionsObject"),
        _ => return None,
    };
    Some(op)
}

fn object_put(query: &Query, copy: bool) -> Operation {
    use Operation::*;
    match (query.has("partNumber") && query.has("uploadId"), copy) {
        (true, true) => UploadPartCopy,
        (true, false) => UploadPart,
        (false, true) => CopyObject,
        (false, false) => PutObject,
    }
}

fn object_post(query: &Query) -> Option<Operation> {
    use Operation::*;
    let op = if query.has("uploads") {
        CreateMultipartUpload
    } else if query.has("uploadId") {
        CompleteMultipartUpload
    } else if query.has("restore") {
        unsupported("RestoreObject")
    } else if query.has("select") {
        unsupported("SelectObjectContent")
    } else {
        return None;
    };
    Some(op)
}

fn unsupported(name: &'static str) -> Operation {
    Operation::Unsupported { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route_host(method: &str, target: &str, host: &str, copy: bool) -> Result<Route, S3Error> {
        let router = Router::new(["s3.example.com", "localhost"]);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let uri: Uri = target.parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(http::header::HOST, host.parse().unwrap());
        if copy {
            headers.insert("x-amz-copy-source", "/src/key".parse().unwrap());
        }
        router.route(&method, &uri, &headers)
    }

    fn route(method: &str, target: &str) -> Result<Route, S3Error> {
        route_host(method, target, "127.0.0.1:8300", false)
    }

    fn op(method: &str, target: &str) -> Operation {
        route(method, target).unwrap().operation
    }

    #[test]
    fn supported_operations_table() {
        use Operation::*;
        let cases: &[(&str, &str, Operation)] = &[
            ("GET", "/", ListBuckets),
            ("PUT", "/bkt", CreateBucket),
            ("PUT", "/bkt/", CreateBucket),
            ("HEAD", "/bkt", HeadBucket),
            ("DELETE", "/bkt", DeleteBucket),
            ("GET", "/bkt?location", GetBucketLocation),
            ("GET", "/bkt", ListObjects),
            ("GET", "/bkt?prefix=a&marker=b", ListObjects),
            ("GET", "/bkt?list-type=2", ListObjectsV2),
            (
                "GET",
                "/bkt?list-type=2&encoding-type=url&prefix=x",
                ListObjectsV2,
            ),
            ("PUT", "/bkt/key", PutObject),
            ("GET", "/bkt/key", GetObject),
            ("GET", "/bkt/key?partNumber=1", GetObject),
            ("HEAD", "/bkt/key", HeadObject),
            ("DELETE", "/bkt/key", DeleteObject),
            ("POST", "/bkt?delete", DeleteObjects),
            ("POST", "/bkt?delete=", DeleteObjects),
            ("POST", "/bkt/key?uploads", CreateMultipartUpload),
            ("PUT", "/bkt/key?partNumber=3&uploadId=u", UploadPart),
            ("POST", "/bkt/key?uploadId=u", CompleteMultipartUpload),
            ("DELETE", "/bkt/key?uploadId=u", AbortMultipartUpload),
            ("GET", "/bkt/key?uploadId=u", ListParts),
            ("GET", "/bkt?uploads", ListMultipartUploads),
            ("GET", "/bkt?encryption", GetBucketEncryption),
            ("PUT", "/bkt?encryption", PutBucketEncryption),
            ("DELETE", "/bkt?encryption", DeleteBucketEncryption),
            ("GET", "/bkt?policy", GetBucketPolicy),
            ("PUT", "/bkt?policy", PutBucketPolicy),
            ("DELETE", "/bkt?policy", DeleteBucketPolicy),
            ("GET", "/bkt?versioning", GetBucketVersioning),
        ];
        for (method, target, want) in cases {
            assert_eq!(op(method, target), *want, "{method} {target}");
        }
    }

    #[test]
    fn copy_source_header_selects_copies() {
        let put = route_host("PUT", "/bkt/key", "localhost", true).unwrap();
        assert_eq!(put.operation, Operation::CopyObject);
        let part = route_host("PUT", "/bkt/key?partNumber=2&uploadId=u", "localhost", true);
        assert_eq!(part.unwrap().operation, Operation::UploadPartCopy);
    }

    #[test]
    fn unsupported_operations_are_named() {
        let cases: &[(&str, &str, &str)] = &[
            ("GET", "/bkt?acl", "GetBucketAcl"),
            ("PUT", "/bkt?acl", "PutBucketAcl"),
            ("GET", "/bkt?tagging", "GetBucketTagging"),
            ("DELETE", "/bkt?tagging", "DeleteBucketTagging"),
            ("PUT", "/bkt?cors", "PutBucketCors"),
            ("DELETE", "/bkt?lifecycle", "DeleteBucketLifecycle"),
            ("GET", "/bkt?lifecycle", "GetBucketLifecycleConfiguration"),
            ("GET", "/bkt?versions", "ListObjectVersions"),
            ("PUT", "/bkt?versioning", "PutBucketVersioning"),
            ("GET", "/bkt?object-lock", "GetObjectLockConfiguration"),
            ("PUT", "/bkt?website", "PutBucketWebsite"),
            ("GET", "/bkt?logging", "GetBucketLogging"),
            (
                "PUT",
                "/bkt?notification",
                "PutBucketNotificationConfiguration",
            ),
            ("DELETE", "/bkt?replication", "DeleteBucketReplication"),
            (
                "GET",
                "/bkt?ownershipControls",
                "GetBucketOwnershipControls",
            ),
            ("PUT", "/bkt?publicAccessBlock", "PutPublicAccessBlock"),
            ("GET", "/bkt?accelerate", "GetBucketAccelerateConfiguration"),
            ("PUT", "/bkt?requestPayment", "PutBucketRequestPayment"),
            ("GET", "/bkt?analytics", "ListBucketAnalyticsConfigurations"),
            (
                "GET",
                "/bkt?analytics&id=a",
                "GetBucketAnalyticsConfiguration",
            ),
            ("PUT", "/bkt?metrics&id=m", "PutBucketMetricsConfiguration"),
            (
                "DELETE",
                "/bkt?inventory&id=i",
                "DeleteBucketInventoryConfiguration",
            ),
            (
                "GET",
                "/bkt?intelligent-tiering",
                "ListBucketIntelligentTieringConfigurations",
            ),
            ("GET", "/bkt?policyStatus", "GetBucketPolicyStatus"),
            ("GET", "/bkt?session", "CreateSession"),
            ("POST", "/bkt", "PostObject"),
            ("POST", "/bkt/key?restore", "RestoreObject"),
            (
                "POST",
                "/bkt/key?select&select-type=2",
                "SelectObjectContent",
            ),
            ("GET", "/bkt/key?attributes", "GetObjectAttributes"),
            ("GET", "/bkt/key?retention", "GetObjectRetention"),
            ("PUT", "/bkt/key?legal-hold", "PutObjectLegalHold"),
            ("GET", "/bkt/key?torrent", "GetObjectTorrent"),
            ("GET", "/bkt/key?acl", "GetObjectAcl"),
            ("PUT", "/bkt/key?tagging", "PutObjectTagging"),
            ("DELETE", "/bkt/key?tagging", "DeleteObjectTagging"),
            ("OPTIONS", "/bkt/key", "OptionsObject"),
        ];
        for (method, target, name) in cases {
            let got = op(method, target);
            assert_eq!(got, Operation::Unsupported { name }, "{method} {target}");
            assert!(got.is_unsupported());
            assert_eq!(got.name(), *name);
        }
    }

    #[test]
    fn nonsense_is_method_not_allowed() {
        let cases: &[(&str, &str)] = &[
            ("PUT", "/"),
            ("DELETE", "/"),
            ("POST", "/"),
            ("PATCH", "/bkt"),
            ("PATCH", "/bkt/key"),
            ("POST", "/bkt/key"),
            ("PUT", "/bkt?location"),
            ("PUT", "/bkt?uploads"),
            ("DELETE", "/bkt?acl"),
            ("DELETE", "/bkt?versioning"),
            ("PUT", "/bkt/key?torrent"),
            ("DELETE", "/bkt/key?acl"),
        ];
        for (method, target) in cases {
            let err = route(method, target).unwrap_err();
            assert_eq!(err.code, S3ErrorCode::MethodNotAllowed, "{method} {target}");
        }
    }

    #[test]
    fn keys_are_percent_decoded_and_plus_is_literal() {
        let cases: &[(&str, &str)] = &[
            ("/bkt/a%2Fb", "a/b"),
            ("/bkt/a/b/c", "a/b/c"),
            ("/bkt/a+b", "a+b"),
            ("/bkt/a%2Bb", "a+b"),
            ("/bkt/a%20b", "a b"),
            ("/bkt/dir/", "dir/"),
            ("/bkt//a", "/a"),
            ("/bkt/a//b", "a//b"),
            ("/bkt/%25", "%"),
            ("/bkt/%E4%B8%AD%E6%96%87", "中文"),
            ("/bkt/%F0%9F%98%80.txt", "😀.txt"),
            ("/bkt/.", "."),
            ("/bkt/..", ".."),
            ("/bkt/a%3Fb%23c", "a?b#c"),
        ];
        for (target, key) in cases {
            let route = route("GET", target).unwrap();
            assert_eq!(route.bucket.as_deref(), Some("bkt"));
            assert_eq!(route.key.as_deref(), Some(*key), "{target}");
        }
    }

    #[test]
    fn virtual_hosted_style() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            ("bkt.s3.example.com", "/", Some("bkt"), None),
            (
                "bkt.s3.example.com:8300",
                "/a%2Fb",
                Some("bkt"),
                Some("a/b"),
            ),
            ("BKT.S3.Example.com", "/k", Some("bkt"), Some("k")),
            (
                "my.dotted.bkt.s3.example.com",
                "/k",
                Some("my.dotted.bkt"),
                Some("k"),
            ),
            ("bkt.localhost:8300", "//x", Some("bkt"), Some("/x")),
            ("s3.example.com", "/bkt/k", Some("bkt"), Some("k")),
            ("localhost:8300", "/bkt/k", Some("bkt"), Some("k")),
            ("other.example.org", "/bkt/k", Some("bkt"), Some("k")),
            ("[::1]:8300", "/bkt/k", Some("bkt"), Some("k")),
            ("s3.example.com", "/", None, None),
        ];
        for (host, target, bucket, key) in cases {
            let route = route_host("GET", target, host, false).unwrap();
            assert_eq!(route.bucket.as_deref(), *bucket, "{host}{target}");
            assert_eq!(route.key.as_deref(), *key, "{host}{target}");
        }
    }

    #[test]
    fn virtual_hosted_bucket_operations() {
        let put = route_host("PUT", "/", "bkt.s3.example.com", false).unwrap();
        assert_eq!(put.operation, Operation::CreateBucket);
        let list = route_host("GET", "/?list-type=2", "bkt.s3.example.com", false).unwrap();
        assert_eq!(list.operation, Operation::ListObjectsV2);
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(
            route("GET", "/Bad_Bucket").unwrap_err().code,
            S3ErrorCode::InvalidBucketName
        );
        assert_eq!(
            route("GET", "/ab/k").unwrap_err().code,
            S3ErrorCode::InvalidBucketName
        );
        let long = format!("/bkt/{}", "k".repeat(1025));
        assert_eq!(
            route("PUT", &long).unwrap_err().code,
            S3ErrorCode::KeyTooLongError
        );
        assert!(route("PUT", &format!("/bkt/{}", "k".repeat(1024))).is_ok());
        assert_eq!(
            route("GET", "/bkt/%FF").unwrap_err().code,
            S3ErrorCode::InvalidURI
        );
    }

    #[test]
    fn query_is_decoded() {
        let route = route(
            "GET",
            "/bkt?list-type=2&prefix=a%2Fb+c&delimiter=%2F&fetch-owner",
        )
        .unwrap();
        assert_eq!(route.query.get("prefix"), Some("a/b c"));
        assert_eq!(route.query.get("delimiter"), Some("/"));
        assert_eq!(route.query.get("fetch-owner"), Some(""));
        assert!(route.query.has("fetch-owner"));
        assert!(!route.query.has("marker"));
    }

    #[test]
    fn method_not_allowed_names_the_resource_type() {
        let err = route("PATCH", "/bkt/key").unwrap_err();
        assert!(err.extra.contains(&("Method", "PATCH".into())));
        assert!(err.extra.contains(&("ResourceType", "OBJECT".into())));
        let err = route("PUT", "/").unwrap_err();
        assert!(err.extra.contains(&("ResourceType", "SERVICE".into())));
    }

    #[test]
    fn resource_names() {
        assert_eq!(route("GET", "/").unwrap().resource(), "/");
        assert_eq!(route("GET", "/bkt").unwrap().resource(), "/bkt");
        assert_eq!(route("GET", "/bkt/a%20b").unwrap().resource(), "/bkt/a b");
    }

    proptest::proptest! {
        #[test]
        fn any_key_round_trips(key in "\\PC{1,200}") {
            let encoded = percent_encoding::utf8_percent_encode(
                &key,
                percent_encoding::NON_ALPHANUMERIC,
            );
            let route = route("GET", &format!("/bkt/{encoded}")).unwrap();
            proptest::prop_assert_eq!(route.key.as_deref(), Some(key.as_str()));
        }

        #[test]
        fn any_path_routes_or_errs(path in "/[ -~]{0,60}") {
            if let Ok(uri) = path.parse::<Uri>() {
                let router = Router::new(["s3.example.com"]);
                let _ = router.route(&Method::GET, &uri, &HeaderMap::new());
            }
        }
    }

    #[test]
    fn part_numbers_are_checked() {
        let part = |n: &str| route("PUT", &format!("/bkt/k?uploadId=u&partNumber={n}")).unwrap();
        assert_eq!(part("1").part_number().unwrap(), Some(1));
        assert_eq!(part("10000").part_number().unwrap(), Some(10000));
        for bad in ["0", "10001", "-1", "x", ""] {
            let err = part(bad).part_number().unwrap_err();
            assert_eq!(err.code, S3ErrorCode::InvalidArgument, "{bad}");
        }
        assert_eq!(part("5").upload_id(), Some("u"));
    }
}
