"""boto3 against an S3 endpoint: a multipart upload sent in parallel and in reverse, then read back.

Usage: boto3_multipart.py BUCKET [--no-part-number]
  1. CreateMultipartUpload, then every part at once from its own thread, last part first
     (the threads start together at a barrier; boto3 adds a CRC32 checksum to each part);
  2. ListMultipartUploads and ListParts name the upload and its parts;
  3. CompleteMultipartUpload with the parts in order; the ETag is S3's MD5-of-MD5s;
  4. GET of the whole object, of each part (partNumber), and of ranges across part boundaries
     and 64 KiB segment boundaries, each compared with the bytes sent; --no-part-number
     skips the partNumber reads (moto ignores partNumber on GET and answers the whole object).
The endpoint is $SEALGATE_ENDPOINT; credentials and region come from the usual AWS_* variables.
Exits non-zero with a message on the first mismatch.
"""

import hashlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

MIB = 1024 * 1024
SEGMENT = 65536
# S3's smallest part but the last is 5 MiB: two parts not a whole number of segments, one
# that is, and a short last part.
PART_SIZES = [5 * MIB + 3, 5 * MIB + SEGMENT + 1, 5 * MIB, SEGMENT + 17]
KEY = "multipart/parallel reversed.bin"


def client():
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": "path"},
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
        retries={"max_attempts": 1, "mode": "standard"},
        max_pool_connections=len(PART_SIZES),
    )
    return boto3.client("s3", endpoint_url=os.environ["SEALGATE_ENDPOINT"], config=config)


def check(condition, message):
    if not condition:
        sys.exit(f"FAILED: {message}")


def quoted_md5(data):
    return f'"{hashlib.md5(data).hexdigest()}"'


def multipart_etag(parts):
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def upload_reversed_in_parallel(s3, bucket, upload_id, parts):
    """Sends every part from its own thread, submitted last first; returns {number: ETag}."""
    start = threading.Barrier(len(parts), timeout=60)

    def send(number):
        start.wait()
        sent = s3.upload_part(
            Bucket=bucket, Key=KEY, UploadId=upload_id, PartNumber=number, Body=parts[number - 1]
        )
        return number, sent["ETag"]

    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        futures = [pool.submit(send, n) for n in range(len(parts), 0, -1)]
        etags = dict(f.result() for f in futures)
    for number, etag in etags.items():
        check(etag == quoted_md5(parts[number - 1]), f"part {number}: ETag {etag}")
    return etags


def check_listings(s3, bucket, upload_id, parts):
    uploads = s3.list_multipart_uploads(Bucket=bucket, Prefix="multipart/").get("Uploads", [])
    check([(u["Key"], u["UploadId"]) for u in uploads] == [(KEY, upload_id)], f"uploads {uploads}")

    listed = s3.list_parts(Bucket=bucket, Key=KEY, UploadId=upload_id).get("Parts", [])
    got = [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed]
    want = [(n, len(p), quoted_md5(p)) for n, p in enumerate(parts, start=1)]
    check(got == want, f"ListParts {got}, expected {want}")


def ranges(parts):
    """(first, last) byte ranges across every part boundary and some segment boundaries, each
    ending inside the object."""
    total = sum(len(p) for p in parts)
    found = [(0, 0), (SEGMENT - 1, SEGMENT), (total - 1, total - 1), (0, total - 1)]
    boundary = 0
    for part in parts[:-1]:
        boundary += len(part)
        found += [
            (boundary - 1, boundary),
            (boundary - 3 * SEGMENT - 5, boundary + 2 * SEGMENT + 7),
            (boundary, boundary + len(part) // 2),
        ]
    second = len(parts[0])
    found.append((second - 10, second + len(parts[1]) + 10))
    found.append((7, total - 8))
    return [(first, min(last, total - 1)) for first, last in found]


def check_reads(s3, bucket, parts, part_numbers):
    whole = b"".join(parts)
    total = len(whole)
    head = s3.head_object(Bucket=bucket, Key=KEY)
    check(head["ContentLength"] == total, f"HEAD length {head['ContentLength']}")
    check(head["ETag"] == multipart_etag(parts), f"HEAD ETag {head['ETag']}")
    check(s3.get_object(Bucket=bucket, Key=KEY)["Body"].read() == whole, "GET of the whole object")

    for first, last in ranges(parts):
        got = s3.get_object(Bucket=bucket, Key=KEY, Range=f"bytes={first}-{last}")
        body = got["Body"].read()
        check(body == whole[first : last + 1], f"bytes={first}-{last}: other bytes")
        want = f"bytes {first}-{last}/{total}"
        check(got["ContentRange"] == want, f"bytes={first}-{last}: {got['ContentRange']}")

    suffix = len(parts[-1]) + 100
    got = s3.get_object(Bucket=bucket, Key=KEY, Range=f"bytes=-{suffix}")["Body"].read()
    check(got == whole[-suffix:], f"bytes=-{suffix}: other bytes")
    start = len(parts[0]) - 5
    got = s3.get_object(Bucket=bucket, Key=KEY, Range=f"bytes={start}-")["Body"].read()
    check(got == whole[start:], f"bytes={start}-: other bytes")

    if not part_numbers:
        return
    for number, part in enumerate(parts, start=1):
        got = s3.get_object(Bucket=bucket, Key=KEY, PartNumber=number)
        check(got["Body"].read() == part, f"partNumber={number}: other bytes")
        check(got["PartsCount"] == len(parts), f"partNumber={number}: {got['PartsCount']} parts")


def main():
    bucket = sys.argv[1]
    part_numbers = "--no-part-number" not in sys.argv[2:]
    s3 = client()
    parts = [os.urandom(size) for size in PART_SIZES]

    created = s3.create_multipart_upload(Bucket=bucket, Key=KEY, ContentType="application/x-test")
    upload_id = created["UploadId"]
    etags = upload_reversed_in_parallel(s3, bucket, upload_id, parts)
    check_listings(s3, bucket, upload_id, parts)

    listed = [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key=KEY, UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    check(done["ETag"] == multipart_etag(parts), f"CompleteMultipartUpload ETag {done['ETag']}")
    left = s3.list_multipart_uploads(Bucket=bucket, Prefix="multipart/").get("Uploads", [])
    check(left == [], f"uploads left after completion: {left}")

    check_reads(s3, bucket, parts, part_numbers)
    print(f"boto3 {boto3.__version__} multipart: ok")


if __name__ == "__main__":
    main()
