"""Media in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, R2, ...), through boto3.

Objects are ``<prefix><kind>/<request id>`` with the media type as ``Content-Type`` and the write time and
extension as user metadata. An object older than its kind's TTL is not served; :meth:`S3MediaStore.cleanup` deletes
expired objects (listing under the prefix, bounded per pass), and a bucket lifecycle rule that expires the prefix
after a day is the backstop (docs/deploy.md). The bucket's total size is the bucket's business; one item is capped
by ``max_item_bytes``. boto3 is synchronous: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from gateway.media.store import (
    MediaInfo,
    MediaKind,
    MediaStore,
    MediaTooLarge,
    MediaUnavailable,
    Retention,
    check_id,
    now_ms,
    read_in_thread,
    valid_request_id,
)

_MISSING = {"404", "NoSuchKey", "NotFound"}
CLEANUP_MAX_KEYS = 1000  #: objects looked at per kind per cleanup pass
HEALTH_EVERY_S = 15.0  #: the bucket is probed at most this often (the health report runs every second)


class S3MediaStore(MediaStore):
    backend = "s3"

    def __init__(self, bucket: str, retention: dict[MediaKind, Retention], *, prefix: str = "mouthpiece/",
                 endpoint_url: str | None = None, region: str = "us-east-1", access_key_id: str | None = None,
                 secret_access_key: str | None = None, addressing_style: str = "path", create_bucket: bool = False,
                 max_item_bytes: int = 64 * 1024 * 1024, timeout_s: float = 5.0) -> None:
        self.bucket = bucket
        self.retention = retention
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.create_bucket = create_bucket
        self.max_item_bytes = max_item_bytes
        config = Config(connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 2},
                        s3={"addressing_style": addressing_style}, max_pool_connections=32)
        self._health: tuple[float, dict] | None = None
        self._s3 = boto3.session.Session().client(
            "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key, config=config)

    def _key(self, kind: MediaKind, request_id: str) -> str:
        return f"{self.prefix}{kind.value}/{request_id}"

    async def start(self) -> None:
        if not self.create_bucket:
            return
        try:
            await asyncio.to_thread(self._s3.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            if _code(exc) not in _MISSING:
                raise
            await asyncio.to_thread(self._s3.create_bucket, Bucket=self.bucket)

    # -- write ---------------------------------------------------------------------------------------------------
    async def put(self, kind: MediaKind, request_id: str, data: bytes, media_type: str, extension: str) -> MediaInfo:
        check_id(request_id)
        if len(data) > self.max_item_bytes:
            raise MediaTooLarge(f"{kind} of {len(data)} bytes > max_item_bytes {self.max_item_bytes}")
        created = now_ms()
        await asyncio.to_thread(self._s3.put_object, Bucket=self.bucket, Key=self._key(kind, request_id), Body=data,
                                ContentType=media_type, Metadata={"created-ms": str(created), "extension": extension})
        return MediaInfo(kind, request_id, len(data), media_type, extension, created, source=self.backend)

    # -- read ----------------------------------------------------------------------------------------------------
    async def info(self, kind: MediaKind, request_id: str) -> MediaInfo | None:
        if not valid_request_id(request_id) or kind not in self.retention:
            return None
        try:
            head = await asyncio.to_thread(self._s3.head_object, Bucket=self.bucket, Key=self._key(kind, request_id))
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise MediaUnavailable(f"s3: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise MediaUnavailable(f"s3: {type(exc).__name__}") from exc
        meta = head.get("Metadata") or {}
        created = int(meta.get("created-ms") or head["LastModified"].timestamp() * 1000)
        if now_ms() - created > self.retention[kind].ttl_s * 1000:
            return None
        media_type = head.get("ContentType") or "application/octet-stream"
        return MediaInfo(kind, request_id, int(head["ContentLength"]), media_type, meta.get("extension") or "bin",
                         created, source=self.backend)

    async def read(self, info: MediaInfo, start: int, stop: int) -> AsyncIterator[bytes]:
        if stop <= start:
            return
        try:
            got = await asyncio.to_thread(self._s3.get_object, Bucket=self.bucket,
                                          Key=self._key(info.kind, info.request_id), Range=f"bytes={start}-{stop - 1}")
        except (ClientError, BotoCoreError) as exc:
            raise MediaUnavailable(f"s3: {type(exc).__name__}") from exc
        body = got["Body"]
        try:
            async for piece in read_in_thread(body.read, stop - start, f"{info.kind} {info.request_id}"):
                yield piece
        finally:
            body.close()

    # -- housekeeping --------------------------------------------------------------------------------------------
    async def cleanup(self) -> dict:
        try:
            return await asyncio.to_thread(self._cleanup)
        except (ClientError, BotoCoreError) as exc:
            return {"ok": False, "error": type(exc).__name__}

    def _cleanup(self) -> dict:
        removed = 0
        now = time.time()
        for kind, keep in self.retention.items():
            listing = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}{kind.value}/",
                                               MaxKeys=CLEANUP_MAX_KEYS)
            old = [{"Key": o["Key"]} for o in listing.get("Contents", [])
                   if now - o["LastModified"].timestamp() > keep.ttl_s]
            if old:
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": old, "Quiet": True})
                removed += len(old)
        return {"ok": True, "removed": removed}

    async def health(self) -> dict:
        if self._health is not None and time.monotonic() - self._health[0] < HEALTH_EVERY_S:
            return self._health[1]
        try:
            await asyncio.to_thread(self._s3.head_bucket, Bucket=self.bucket)
            report = {"backend": self.backend, "ok": True, "error": None, "bucket": self.bucket}
        except (ClientError, BotoCoreError) as exc:
            report = {"backend": self.backend, "ok": False, "error": f"{type(exc).__name__}: {_code(exc)}"}
        self._health = (time.monotonic(), report)
        return report

    async def close(self) -> None:
        self._s3.close()


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "error"))
    return type(exc).__name__
