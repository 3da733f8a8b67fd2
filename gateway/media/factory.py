"""Pick the media store from settings (``GATEWAY_MEDIA_BACKEND``, default ``auto``).

``auto``: S3 when ``GATEWAY_MEDIA_S3_BUCKET`` is set, else Redis when a Redis URL is set, else disk. A shared store
(Redis, S3) has the replica's disk behind it (:class:`~gateway.media.fallback.WithLocalFallback`), so its outage
never costs a line its ``audio_url``. The S3 client (boto3) is imported only when S3 is asked for, so the embedded
default never loads it.
"""

from __future__ import annotations

from gateway.media.disk import DiskMediaStore
from gateway.media.fallback import WithLocalFallback
from gateway.media.redis_store import RedisMediaStore
from gateway.media.store import MediaKind, MediaStore, Retention
from gateway.settings import Settings


def retention(settings: Settings) -> dict[MediaKind, Retention]:
    """Audio: ``audio_ttl_s``, no size cap of its own; video: ``video.media_max_age_s`` and ``media_max_bytes``."""
    return {MediaKind.AUDIO: Retention(settings.audio_ttl_s),
            MediaKind.VIDEO: Retention(settings.video.media_max_age_s, settings.video.media_max_bytes)}


def media_backend(settings: Settings) -> str:
    m = settings.media
    if m.backend != "auto":
        return m.backend
    if m.s3_bucket:
        return "s3"
    return "redis" if (m.redis_url or settings.redis_url) else "disk"


def disk_store(settings: Settings) -> DiskMediaStore:
    """Audio in ``<data_dir>/audio``, video in ``video.media_dir`` (``<data_dir>/video``)."""
    return DiskMediaStore({MediaKind.AUDIO: settings.data_dir / "audio", MediaKind.VIDEO: settings.video.media_dir},
                          retention(settings))


def build_media_store(settings: Settings) -> MediaStore:
    m, backend = settings.media, media_backend(settings)
    if backend == "disk":
        return disk_store(settings)
    if backend == "redis":
        url = m.redis_url or settings.redis_url
        if not url:
            raise ValueError("GATEWAY_MEDIA_BACKEND=redis needs GATEWAY_MEDIA_REDIS_URL or GATEWAY_REDIS_URL")
        return WithLocalFallback(
            RedisMediaStore(url, retention(settings), prefix=m.redis_prefix, chunk_bytes=m.redis_chunk_bytes,
                            max_item_bytes=m.max_item_bytes, max_total_bytes=m.redis_max_bytes), disk_store(settings))
    if not m.s3_bucket:
        raise ValueError("GATEWAY_MEDIA_BACKEND=s3 needs GATEWAY_MEDIA_S3_BUCKET")
    from gateway.media.s3 import S3MediaStore  # boto3 loads only when S3 is configured

    s3 = S3MediaStore(m.s3_bucket, retention(settings), prefix=m.s3_prefix, endpoint_url=m.s3_endpoint_url,
                      region=m.s3_region,
                      access_key_id=m.s3_access_key_id.get_secret_value() if m.s3_access_key_id else None,
                      secret_access_key=m.s3_secret_access_key.get_secret_value() if m.s3_secret_access_key else None,
                      addressing_style=m.s3_addressing_style, create_bucket=m.s3_create_bucket,
                      max_item_bytes=m.max_item_bytes)
    return WithLocalFallback(s3, disk_store(settings))
