"""boto3 against Sealgate: allowed and denied S3, KMS and IAM calls to find in the audit trail.

Usage: boto3_audit.py BUCKET USER_KEY_ID USER_SECRET MARKER
The user is expected to be allowed s3:GetObject on BUCKET's objects, s3:ListBucket on BUCKET and
kms:Decrypt, and nothing else. Root (the AWS_* credentials) puts MARKER as the object `secret`
and encrypts it with KMS; the user reads it, lists, and tries what it may not do. Prints one JSON
line per call: {"who", "action", "request_id", "status", "error_code"}, with the request id from
the response's x-amz-request-id header (on errors too). The endpoint is $SEALGATE_ENDPOINT.
Exits non-zero with a message if a call ends otherwise than planned.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"})


def clients(creds):
    endpoint = os.environ["SEALGATE_ENDPOINT"]
    return {name: boto3.client(name, endpoint_url=endpoint, config=CONFIG, **creds)
            for name in ("s3", "kms", "iam")}


def call(who, action, want_code, fn):
    """Runs fn, checks it ends with want_code (None: success), prints what it saw."""
    try:
        meta = fn()["ResponseMetadata"]
        code = None
    except ClientError as e:
        meta, code = e.response["ResponseMetadata"], e.response["Error"]["Code"]
    if code != want_code:
        sys.exit(f"{who} {action}: got error {code!r}, want {want_code!r}")
    print(json.dumps({
        "who": who,
        "action": action,
        "request_id": meta["HTTPHeaders"].get("x-amz-request-id"),
        "status": meta["HTTPStatusCode"],
        "error_code": code,
    }))


def read(response, want):
    """Reads a GetObject body to the end and checks it."""
    if response["Body"].read() != want:
        sys.exit("GetObject: the body differs")
    return response


def main():
    bucket, key_id, secret, marker = sys.argv[1:5]
    root = clients({})
    user = clients({"aws_access_key_id": key_id, "aws_secret_access_key": secret})
    s3, kms, iam = user["s3"], user["kms"], user["iam"]

    call("root", "s3:PutObject", None,
         lambda: root["s3"].put_object(Bucket=bucket, Key="secret", Body=marker.encode()))
    call("root", "kms:Encrypt", None,
         lambda: root["kms"].encrypt(KeyId="alias/sealgate-default", Plaintext=marker.encode()))
    call("root", "iam:ListUsers", None, lambda: root["iam"].list_users())

    call("user", "s3:GetObject", None,
         lambda: read(s3.get_object(Bucket=bucket, Key="secret"), marker.encode()))
    call("user", "s3:GetObject", "NoSuchKey", lambda: s3.get_object(Bucket=bucket, Key="nope"))
    call("user", "s3:ListBucket", None, lambda: s3.list_objects_v2(Bucket=bucket))
    call("user", "s3:PutObject", "AccessDenied",
         lambda: s3.put_object(Bucket=bucket, Key="mine", Body=b"no"))
    call("user", "s3:DeleteObject", "AccessDenied",
         lambda: s3.delete_object(Bucket=bucket, Key="secret"))
    call("user", "kms:Encrypt", "AccessDeniedException",
         lambda: kms.encrypt(KeyId="alias/sealgate-default", Plaintext=b"no"))
    call("user", "iam:ListUsers", "AccessDenied", lambda: iam.list_users())
    call("user", "iam:CreateUser", "AccessDenied", lambda: iam.create_user(UserName="mallory"))


if __name__ == "__main__":
    main()
