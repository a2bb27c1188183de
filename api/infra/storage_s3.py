"""The photo store in an S3-compatible object store (AWS S3, MinIO, Ceph...), for many machines.

Same contract as the local folder (`storage.py`): originals content-addressed and hash-checked,
derived images by name, `check()` for readiness; botocore's errors become the store's typed ones.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sipantau.api.infra.storage import (
    PhotoDamaged,
    PhotoMissing,
    StoreUnavailable,
    check_name,
    check_sha,
    sha256_of,
)

log = logging.getLogger("sipantau.storage")
_MISSING = {"404", "NoSuchKey", "NotFound"}
_DAMAGED = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"}


@contextmanager
def _s3_errors(what: str) -> Iterator[None]:
    """Botocore's errors as the store's typed ones, logged once with what was being done."""
    try:
        yield
    except ClientError as e:
        code = str(e.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            raise PhotoMissing(f"{what}: no such object") from None
        if code in _DAMAGED:
            raise PhotoDamaged(f"{what}: the store refused a damaged upload ({code})") from None
        log.warning("photo store: %s failed: %s", what, e)
        raise StoreUnavailable(f"{what}: {e}") from None
    except BotoCoreError as e:  # connection refused, timeouts, no credentials
        log.warning("photo store: %s failed: %s", what, e)
        raise StoreUnavailable(f"{what}: {e}") from None


def _md5_etag(resp: dict[str, Any]) -> str | None:
    """The object's MD5 from its ETag, when the ETag is one (not multipart, not KMS/SSE-C)."""
    etag = str(resp.get("ETag", "")).strip('"')
    kms = str(resp.get("ServerSideEncryption", "")).startswith("aws:kms")
    if kms or resp.get("SSECustomerAlgorithm") or len(etag) != 32 or "-" in etag:
        return None
    return etag.lower()


class S3PhotoStore:
    """`<prefix>photos/ab/cd/<sha256>` and `<prefix>derived/<name>` in one bucket.

    Puts carry Content-MD5 (a server that checks it refuses a damaged body) and are checked
    against the ETag answered; gets are checked against the hash. Timeouts and retries are
    bounded, so a store that is down gives StoreUnavailable in seconds, never a hang.
    """

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        prefix: str = "",
        connect_timeout: float = 3.0,
        read_timeout: float = 15.0,
        max_attempts: int = 3,
    ) -> None:
        self.bucket, self.prefix, self.region = bucket, prefix, region
        self._client_args: dict[str, Any] = {
            "endpoint_url": endpoint_url,
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "config": Config(
                region_name=region,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                retries={"max_attempts": max_attempts, "mode": "standard"},
                s3={"addressing_style": "path" if endpoint_url else "auto"},
                request_checksum_calculation="when_required",  # Content-MD5: understood by all
                response_checksum_validation="when_required",  # we check sha256 ourselves
                max_pool_connections=64,
            ),
        }
        self._client_pid = -1
        self._client_obj: Any = None
        self._bucket_ready = False
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client of this process (made again after a fork: pools are per process)."""
        if self._client_pid != os.getpid():
            with self._lock:
                if self._client_pid != os.getpid():
                    session = boto3.session.Session()
                    self._client_obj = session.client("s3", **self._client_args)
                    self._client_pid = os.getpid()
        return self._client_obj

    def key(self, sha256: str) -> str:
        sha = check_sha(sha256)
        return f"{self.prefix}photos/{sha[:2]}/{sha[2:4]}/{sha}"

    def derived_key(self, name: str) -> str:
        return f"{self.prefix}derived/{check_name(name)}"

    def put(self, data: bytes) -> str:
        digest = sha256_of(data)
        key = self.key(digest)
        md5 = hashlib.md5(data).hexdigest()
        with _s3_errors(f"put s3://{self.bucket}/{key}"):
            self._ensure_bucket()
            if not self._holds(key, len(data), md5):
                self._put_object(key, data, md5, digest)
        return digest

    def get(self, sha256: str) -> bytes:
        key = self.key(sha256)
        with _s3_errors(f"get s3://{self.bucket}/{key}"):
            data = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        if sha256_of(data) != sha256:
            raise PhotoDamaged(f"s3://{self.bucket}/{key} does not match its sha256")
        return data

    def exists(self, sha256: str) -> bool:
        key = self.key(sha256)
        try:
            with _s3_errors(f"head s3://{self.bucket}/{key}"):
                self.client.head_object(Bucket=self.bucket, Key=key)
        except PhotoMissing:
            return False
        return True

    def put_derived(self, name: str, data: bytes) -> None:
        key = self.derived_key(name)
        with _s3_errors(f"put s3://{self.bucket}/{key}"):
            self._ensure_bucket()
            self._put_object(key, data, hashlib.md5(data).hexdigest(), sha256_of(data))

    def get_derived(self, name: str) -> bytes:
        key = self.derived_key(name)
        with _s3_errors(f"get s3://{self.bucket}/{key}"):
            resp = self.client.get_object(Bucket=self.bucket, Key=key)
            data = resp["Body"].read()
        expected = resp.get("Metadata", {}).get("sha256")
        if expected and sha256_of(data) != expected:
            raise PhotoDamaged(f"s3://{self.bucket}/{key} does not match its sha256")
        return data

    def check(self) -> None:
        """The bucket exists (made if missing) and takes a small object from this host."""
        key = f"{self.prefix}_ready/{socket.gethostname()}"
        with _s3_errors(f"readiness probe s3://{self.bucket}/{key}"):
            self._ensure_bucket()
            self.client.put_object(Bucket=self.bucket, Key=key, Body=b"ok")

    def _holds(self, key: str, size: int, md5: str) -> bool:
        """The object is there with this size (and this MD5 where its ETag tells it)."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            if str(e.response.get("Error", {}).get("Code", "")) in _MISSING:
                return False
            raise
        etag = _md5_etag(head)
        return head.get("ContentLength") == size and etag in (None, md5)

    def _put_object(self, key: str, data: bytes, md5: str, sha: str) -> None:
        resp = self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode(),
            Metadata={"sha256": sha},
        )
        etag = _md5_etag(resp)
        if etag is not None and etag != md5:
            raise PhotoDamaged(f"s3://{self.bucket}/{key}: stored MD5 {etag} is not {md5}")

    def _ensure_bucket(self) -> None:
        """Create the bucket on first use if it is missing (once per process)."""
        if self._bucket_ready:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in _MISSING | {"NoSuchBucket"}:
                self._create_bucket()
            elif code != "403":  # 403: it exists, not listable with these keys; use it
                raise
        self._bucket_ready = True

    def _create_bucket(self) -> None:
        where = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
        extra = {"CreateBucketConfiguration": where} if where else {}
        try:
            self.client.create_bucket(Bucket=self.bucket, **extra)
            log.info("photo store: created bucket %s", self.bucket)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou",):
                raise
