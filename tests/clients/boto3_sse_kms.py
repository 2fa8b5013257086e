"""boto3 against Sealgate: SSE-KMS uploads under two master keys made through the KMS API.

Usage: boto3_sse_kms.py BUCKET
  1. CreateKey twice (kms client), an alias for the second;
  2. PutObject under the first key, and under the alias with an encryption context;
  3. a multipart upload (upload_fileobj, 5 MiB parts) under the second key;
  4. HeadObject and GetObject report aws:kms and the right key ARN, and give the bytes back.
The endpoint is $SEALGATE_ENDPOINT; credentials and region come from the usual AWS_* variables.
Exits non-zero with a message on the first mismatch.
"""

import io
import os
import sys

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

MIB = 1024 * 1024


def clients():
    endpoint = os.environ["SEALGATE_ENDPOINT"]
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                    retries={"max_attempts": 1, "mode": "standard"})
    return (boto3.client("s3", endpoint_url=endpoint, config=config),
            boto3.client("kms", endpoint_url=endpoint, config=config))


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def main():
    bucket = sys.argv[1]
    s3, kms = clients()
    first = kms.create_key(Description="boto3 first")["KeyMetadata"]
    second = kms.create_key(Description="boto3 second")["KeyMetadata"]
    kms.create_alias(AliasName="alias/boto3-second", TargetKeyId=second["KeyId"])

    small = os.urandom(300_000)
    s3.put_object(Bucket=bucket, Key="first", Body=small, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=first["KeyId"])
    s3.put_object(Bucket=bucket, Key="second", Body=small, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId="alias/boto3-second",
                  SSEKMSEncryptionContext="eyJ0ZWFtIjoicmVkIn0=")  # {"team":"red"}
    big = os.urandom(11 * MIB + 7)
    transfer = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_fileobj(io.BytesIO(big), bucket, "multipart", Config=transfer,
                      ExtraArgs={"ServerSideEncryption": "aws:kms",
                                 "SSEKMSKeyId": second["Arn"]})

    for key, body, meta in [("first", small, first), ("second", small, second),
                            ("multipart", big, second)]:
        head = s3.head_object(Bucket=bucket, Key=key)
        check(f"{key} encryption", head.get("ServerSideEncryption"), "aws:kms")
        check(f"{key} key", head.get("SSEKMSKeyId"), meta["Arn"])
        got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        check(f"{key} bytes", got == body, True)
    print("ok")


if __name__ == "__main__":
    main()
