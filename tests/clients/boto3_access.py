"""boto3 against Sealgate's IAM API and its policies.

Usage: boto3_access.py BUCKET USER
  1. as root (the AWS_* credentials): CreateUser USER, CreateAccessKey, PutUserPolicy allowing
     Get/Put on BUCKET's objects and the master-key calls they need; ListUsers names USER and
     GetUserPolicy gives the document back, decoded, as it was put;
  2. as USER (the new key): PutObject and GetObject succeed, DeleteObject fails with the
     ClientError code AccessDenied (HTTP 403), and so does ListObjectsV2;
  3. as root: the object is still there.
The endpoint is $SEALGATE_ENDPOINT; the region comes from the usual AWS_* variables.
Exits non-zero with a message on the first mismatch.
"""

import json
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

CONFIG = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"})


def client(service, key=None):
    endpoint = os.environ["SEALGATE_ENDPOINT"]
    creds = {}
    if key is not None:
        creds = {"aws_access_key_id": key["AccessKeyId"],
                 "aws_secret_access_key": key["SecretAccessKey"]}
    return boto3.client(service, endpoint_url=endpoint, config=CONFIG, **creds)


def check(what, got, want):
    if got != want:
        sys.exit(f"{what}: got {got!r}, want {want!r}")


def refused(what, call, code, status):
    try:
        call()
    except ClientError as e:
        check(f"{what} error code", e.response["Error"]["Code"], code)
        check(f"{what} status", e.response["ResponseMetadata"]["HTTPStatusCode"], status)
        return
    sys.exit(f"{what}: succeeded, want {code}")


def make_user(iam, bucket, user):
    created = iam.create_user(UserName=user)["User"]
    check("user arn", created["Arn"], f"arn:aws:iam::000000000000:user/{user}")
    key = iam.create_access_key(UserName=user)["AccessKey"]
    check("key status", key["Status"], "Active")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Objects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
             "Resource": f"arn:aws:s3:::{bucket}/*"},
            {"Sid": "Keys", "Effect": "Allow",
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"},
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="ReadWrite",
                        PolicyDocument=json.dumps(document))

    names = [u["UserName"] for u in iam.list_users()["Users"]]
    check("user listed", user in names, True)
    got = iam.get_user_policy(UserName=user, PolicyName="ReadWrite")
    check("policy name", got["PolicyName"], "ReadWrite")
    check("policy document", got["PolicyDocument"], document)
    policies = iam.list_user_policies(UserName=user)["PolicyNames"]
    check("policy names", policies, ["ReadWrite"])
    return key


def main():
    bucket, user = sys.argv[1], sys.argv[2]
    key = make_user(client("iam"), bucket, user)

    s3 = client("s3", key)
    body = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key="boto3/object", Body=body)
    got = s3.get_object(Bucket=bucket, Key="boto3/object")["Body"].read()
    check("bytes read back", got == body, True)
    refused("DeleteObject", lambda: s3.delete_object(Bucket=bucket, Key="boto3/object"),
            "AccessDenied", 403)
    refused("ListObjectsV2", lambda: s3.list_objects_v2(Bucket=bucket), "AccessDenied", 403)

    head = client("s3").head_object(Bucket=bucket, Key="boto3/object")
    check("size after the denied delete", head["ContentLength"], len(body))
    print("ok")


if __name__ == "__main__":
    main()
