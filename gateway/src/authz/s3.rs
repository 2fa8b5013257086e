//! What each S3 operation asks of the authorizer: its action name, the ARN of what it acts on,
//! and the condition keys the request fills (`s3:prefix`, `s3:x-amz-server-side-encryption`,
//! ...). Pure functions of the routed request, so the table can be read and tested as one.

use http::HeaderMap;
use policy::Context;

use crate::s3::route::{Operation, Route};

/// The IAM action of an operation. CopyObject and UploadPartCopy also read their source
/// (`s3:GetObject`, asked by their handlers); DeleteObjects asks `s3:DeleteObject` per key.
pub fn action(operation: Operation) -> &'static str {
    use Operation::*;
    match operation {
        ListBuckets => "s3:ListAllMyBuckets",
        CreateBucket => "s3:CreateBucket",
        DeleteBucket => "s3:DeleteBucket",
        HeadBucket | ListObjects | ListObjectsV2 => "s3:ListBucket",
        GetBucketLocation => "s3:GetBucketLocation",
        GetBucketVersioning => "s3:GetBucketVersioning",
        GetBucketEncryption => "s3:GetEncryptionConfiguration",
        PutBucketEncryption | DeleteBucketEncryption => "s3:PutEncryptionConfiguration",
        GetBucketPolicy => "s3:GetBucketPolicy",
        PutBucketPolicy => "s3:PutBucketPolicy",
        DeleteBucketPolicy => "s3:DeleteBucketPolicy",
        PutObject
        | CopyObject
        | CreateMultipartUpload
        | UploadPart
        | UploadPartCopy
        | CompleteMultipartUpload => "s3:PutObject",
        GetObject | HeadObject => "s3:GetObject",
        GetObjectTagging => "s3:GetObjectTagging",
        DeleteObject | DeleteObjects => "s3:DeleteObject",
        AbortMultipartUpload => "s3:AbortMultipartUpload",
        ListParts => "s3:ListMultipartUploadParts",
        ListMultipartUploads => "s3:ListBucketMultipartUploads",
        Unsupported { .. } => "s3:Unsupported",
    }
}

/// Whether the operation's handler asks for itself (per key, as DeleteObjects does).
pub fn checked_by_handler(operation: Operation) -> bool {
    operation == Operation::DeleteObjects
}

/// The ARN of a bucket.
pub fn bucket_arn(bucket: &str) -> String {
    format!("arn:aws:s3:::{bucket}")
}

/// The ARN of an object.
pub fn object_arn(bucket: &str, key: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{key}")
}

/// The ARN the routed operation acts on: an object, a bucket, or every bucket (ListBuckets).
pub fn resource(route: &Route) -> String {
    match (&route.bucket, &route.key) {
        (Some(bucket), Some(key)) => object_arn(bucket, key),
        (Some(bucket), None) => bucket_arn(bucket),
        _ => "arn:aws:s3:::*".to_owned(),
    }
}

/// Adds the S3 condition keys the request fills to `context`.
pub fn fill_context(context: &mut Context, route: &Route, headers: &HeaderMap) {
    use Operation::*;
    if matches!(
        route.operation,
        ListObjects | ListObjectsV2 | ListMultipartUploads
    ) {
        for (parameter, key) in [
            ("prefix", "s3:prefix"),
            ("delimiter", "s3:delimiter"),
            ("max-keys", "s3:max-keys"),
        ] {
            if let Some(value) = route.query.get(parameter) {
                context.set(key, value);
            }
        }
    }
    if matches!(
        route.operation,
        PutObject | CopyObject | CreateMultipartUpload
    ) {
        for name in [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
        ] {
            if let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) {
                context.set(&format!("s3:{name}"), value);
            }
        }
    }
    let signed_in_query = route.query.has("X-Amz-Signature");
    context.set("s3:signatureversion", "AWS4-HMAC-SHA256").set(
        "s3:authType",
        if signed_in_query {
            "REST-QUERY-STRING"
        } else {
            "REST-HEADER"
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::route::Router;

    fn route(method: &str, uri: &str, headers: &[(&str, &str)]) -> (Route, HeaderMap) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let method = http::Method::from_bytes(method.as_bytes()).unwrap();
        let route = Router::default()
            .route(&method, &uri.parse().unwrap(), &map)
            .unwrap();
        (route, map)
    }

    #[test]
    fn operations_name_their_action_and_resource() {
        let cases = [
            ("GET", "/", "s3:ListAllMyBuckets", "arn:aws:s3:::*"),
            (
                "GET",
                "/bkt?list-type=2",
                "s3:ListBucket",
                "arn:aws:s3:::bkt",
            ),
            ("HEAD", "/bkt", "s3:ListBucket", "arn:aws:s3:::bkt"),
            ("PUT", "/bkt/k/x", "s3:PutObject", "arn:aws:s3:::bkt/k/x"),
            ("HEAD", "/bkt/k", "s3:GetObject", "arn:aws:s3:::bkt/k"),
            (
                "DELETE",
                "/bkt/k?uploadId=u",
                "s3:AbortMultipartUpload",
                "arn:aws:s3:::bkt/k",
            ),
            (
                "GET",
                "/bkt?uploads",
                "s3:ListBucketMultipartUploads",
                "arn:aws:s3:::bkt",
            ),
            (
                "PUT",
                "/bkt?policy",
                "s3:PutBucketPolicy",
                "arn:aws:s3:::bkt",
            ),
            (
                "DELETE",
                "/bkt?encryption",
                "s3:PutEncryptionConfiguration",
                "arn:aws:s3:::bkt",
            ),
        ];
        for (method, uri, expected_action, expected_resource) in cases {
            let (route, _) = route(method, uri, &[]);
            assert_eq!(action(route.operation), expected_action, "{method} {uri}");
            assert_eq!(resource(&route), expected_resource, "{method} {uri}");
        }
    }

    #[test]
    fn listing_and_encryption_keys_are_filled() {
        let (list, headers) = route("GET", "/bkt?list-type=2&prefix=home%2Fa%2F&max-keys=5", &[]);
        let mut context = Context::new();
        fill_context(&mut context, &list, &headers);
        assert_eq!(context.get("s3:prefix"), Some(&["home/a/".to_owned()][..]));
        assert_eq!(context.get("s3:max-keys"), Some(&["5".to_owned()][..]));
        assert_eq!(context.get("s3:delimiter"), None);

        let sse = [("x-amz-server-side-encryption", "aws:kms")];
        let (put, headers) = route("PUT", "/bkt/k", &sse);
        let mut context = Context::new();
        fill_context(&mut context, &put, &headers);
        let expected = ["aws:kms".to_owned()];
        assert_eq!(
            context.get("s3:x-amz-server-side-encryption"),
            Some(&expected[..])
        );
        assert_eq!(context.get("s3:prefix"), None);
    }
}
