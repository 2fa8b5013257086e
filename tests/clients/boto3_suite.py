"""boto3 against an S3 endpoint: uploads with CRC32 checksums, reads, listings, presigned URLs.

Usage: boto3_suite.py MODE BUCKET, with MODE one of
  plain    the checksum travels in an x-amz-checksum-crc32 header beside a signed body
           (what boto3 does on http:// endpoints)
  chunked  the body is aws-chunked with the checksum in a trailer, STREAMING-UNSIGNED-PAYLOAD-TRAILER
           (what boto3 does on https:// endpoints; forced here on http)
  presign  presigned PUT and GET with signature_version='s3v4'
The endpoint is $SEALGATE_ENDPOINT; credentials and region come from the usual AWS_* variables.
Exits non-zero with a message on the first mismatch.
"""

import hashlib
import os
import sys
import urllib.request
from urllib.parse import urlparse

import boto3
import botocore.httpchecksum
from botocore.config import Config

SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536 + 5, 1_000_000]


def client():
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=os.environ["SEALGATE_ENDPOINT"], config=config)


def force_trailer_checksums():
    """Makes botocore choose trailer checksums as it does for https URLs."""

    def as_https(url, *args, **kwargs):
        return urlparse(url, *args, **kwargs)._replace(scheme="https")

    botocore.httpchecksum.urlparse = as_https


class SentHeaders:
    """Records the headers of every PutObject request sent."""

    def __init__(self, s3):
        self.sent = []
        s3.meta.events.register("before-send.s3.PutObject", self.record)

    def record(self, request, **_):
        self.sent.append({k.lower(): v for k, v in request.headers.items()})


def check(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")


def check_put_headers(mode, headers):
    def value(name):
        raw = headers.get(name, b"")
        return raw.decode() if isinstance(raw, bytes) else raw

    sha = value("x-amz-content-sha256")
    if mode == "chunked":
        check(sha == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", f"payload declared as {sha!r}")
        check("aws-chunked" in value("content-encoding"), f"not aws-chunked: {headers}")
        check(value("x-amz-trailer") == "x-amz-checksum-crc32", f"no CRC32 trailer: {headers}")
    else:
        check(len(sha) == 64, f"payload not signed: {sha!r}")
        check(value("x-amz-checksum-crc32") != "", f"no CRC32 header: {headers}")


def round_trips(s3, bucket, mode):
    recorder = SentHeaders(s3)
    for size in SIZES:
        body = os.urandom(size)
        key = f"{mode}/size-{size}"
        put = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-test",
                            Metadata={"mode": mode})
        check_put_headers(mode, recorder.sent[-1])
        check(put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', f"{key}: ETag {put['ETag']}")

        got = s3.get_object(Bucket=bucket, Key=key)
        check(got["Body"].read() == body, f"{key}: GET returned other bytes")
        check(got["ContentType"] == "application/x-test", f"{key}: {got['ContentType']}")
        check(got["Metadata"] == {"mode": mode}, f"{key}: metadata {got['Metadata']}")

        head = s3.head_object(Bucket=bucket, Key=key)
        check(head["ContentLength"] == size, f"{key}: HEAD length {head['ContentLength']}")
        if size > 10:
            part = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=3-{size - 2}")
            check(part["Body"].read() == body[3 : size - 1], f"{key}: ranged GET")


def listing_and_delete(s3, bucket, mode):
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"{mode}/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    check(keys == sorted(f"{mode}/size-{s}" for s in SIZES), f"listing {keys}")

    objects = [{"Key": k} for k in keys]
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    check(len(deleted.get("Deleted", [])) == len(keys), f"DeleteObjects {deleted}")
    check(s3.list_objects_v2(Bucket=bucket, Prefix=f"{mode}/")["KeyCount"] == 0, "not deleted")


def presigned(s3, bucket):
    body = os.urandom(70_000)
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "presigned obj"}, ExpiresIn=600
    )
    check("X-Amz-Signature=" in put_url, f"not a SigV4 URL: {put_url}")
    # An explicit type: werkzeug (moto) waits for more form data after urllib's default one.
    headers = {"Content-Type": "application/octet-stream"}
    request = urllib.request.Request(put_url, data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        check(response.status == 200, f"presigned PUT answered {response.status}")

    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "presigned obj"}, ExpiresIn=600
    )
    with urllib.request.urlopen(get_url, timeout=120) as response:
        check(response.read() == body, "presigned GET returned other bytes")


def main():
    mode, bucket = sys.argv[1], sys.argv[2]
    if mode == "chunked":
        force_trailer_checksums()
    s3 = client()
    if mode == "presign":
        presigned(s3, bucket)
    else:
        round_trips(s3, bucket, mode)
        listing_and_delete(s3, bucket, mode)
    print(f"boto3 {boto3.__version__} {mode}: ok")


if __name__ == "__main__":
    main()
