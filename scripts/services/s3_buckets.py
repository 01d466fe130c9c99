"""Creates the lab's buckets on an S3 endpoint (MinIO) if they are missing; versioning on bronze.

Used by scripts/services/minio.sh (native stack) and by the minio-init job of docker/compose.yml,
so both stacks get the same buckets. Reads the standard variables: AWS_ENDPOINT_URL_S3 (or
AWS_ENDPOINT_URL), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. Safe to run again.
"""

import os
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

BUCKETS = ["bronze", "silver", "gold", "mlflow"]
# Bronze keeps every version of a landed file: raw data is never lost to an overwrite.
VERSIONED = {"bronze"}


def main() -> int:
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        print("s3_buckets: set AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL)", file=sys.stderr)
        return 2
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        # Path-style: buckets are not DNS names on 127.0.0.1 or on a compose network.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    # The server may answer its liveness probe a moment before it serves S3 calls.
    deadline = time.monotonic() + 60
    while True:
        try:
            existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
            break
        except (BotoCoreError, ClientError) as exc:
            if time.monotonic() > deadline:
                print(f"s3_buckets: {endpoint} does not answer S3 calls: {exc}", file=sys.stderr)
                return 1
            time.sleep(1)
    for name in BUCKETS:
        if name not in existing:
            s3.create_bucket(Bucket=name)
            print(f"s3_buckets: created bucket {name}")
        if name in VERSIONED:
            status = s3.get_bucket_versioning(Bucket=name).get("Status")
            if status != "Enabled":
                s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
                print(f"s3_buckets: versioning enabled on {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
