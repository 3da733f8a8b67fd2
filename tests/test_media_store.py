"""The media store on every backend (disk, real Redis, a real S3-compatible server), and the HTTP routes that serve
it with byte ranges: what one replica writes, another reads; TTLs, size caps, chunks, outages."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from types import SimpleNamespace

import httpx
import pytest
from fastapi import FastAPI

from gateway.api import routes_speak
from gateway.media.disk import DiskMediaStore
from gateway.media.factory import build_media_store, media_backend
from gateway.media.ranges import ByteRange, RangeNotSatisfiable, parse_range
from gateway.media.redis_store import RedisMediaStore
from gateway.media.s3 import S3MediaStore
from gateway.media.store import MediaKind, MediaTooLarge, MediaUnavailable, Retention
from gateway.settings import Settings
from tests.redis_fixture import closed_port_url
from tests.s3_fixture import s3_endpoint  # noqa: F401 - fixture

AUDIO, VIDEO = MediaKind.AUDIO, MediaKind.VIDEO
BACKENDS = ["disk", "redis", "s3"]


def rid() -> str:
    return uuid.uuid4().hex


def payload(n: int) -> bytes:
    return os.urandom(n)


@pytest.fixture
def make_store(request, tmp_path, redis_url, redis_prefix):
    """``make_store(backend, ttl_s=60, **kw)``: a new store instance on shared storage (one per "replica");
    each test closes the stores it made."""
    bucket = f"media-{uuid.uuid4().hex[:12]}"

    def make(backend: str, ttl_s: int = 60, **kw):
        keep = {AUDIO: Retention(ttl_s), VIDEO: Retention(ttl_s, kw.pop("video_max_bytes", None))}
        if backend == "disk":
            store = DiskMediaStore({AUDIO: tmp_path / "audio", VIDEO: tmp_path / "video"}, keep)
        elif backend == "redis":
            store = RedisMediaStore(kw.pop("url", redis_url), keep, prefix=redis_prefix, **kw)
        else:
            endpoint = request.getfixturevalue("s3_endpoint")
            store = S3MediaStore(bucket, keep, endpoint_url=endpoint, access_key_id="test", secret_access_key="test",
                                 create_bucket=True, **kw)
        return store

    return make


async def opened(store):
    await store.start()
    return store


@pytest.mark.parametrize("backend", BACKENDS)
async def test_any_replica_reads_what_another_wrote(backend, make_store):
    a, b = await opened(make_store(backend)), await opened(make_store(backend))
    try:
        audio, video, request_id = payload(40_000), payload(1_300_000), rid()
        info = await a.put(AUDIO, request_id, audio, "audio/wav", "wav")
        await a.put(VIDEO, request_id, video, "video/mp4", "mp4")
        seen = await b.info(AUDIO, request_id)
        assert seen is not None and (seen.size, seen.media_type, seen.extension) == (40_000, "audio/wav", "wav")
        assert seen.etag == info.etag
        assert await b.read_all(seen) == audio
        assert await b.read_all(await b.info(VIDEO, request_id)) == video
        assert await b.info(AUDIO, rid()) is None
        assert await b.info(AUDIO, "../../etc/passwd") is None and await b.info(AUDIO, request_id.upper()) is None
        with pytest.raises(ValueError):
            await a.put(AUDIO, "not-an-id", b"x", "audio/wav", "wav")
    finally:
        await a.close()
        await b.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_ranges_across_chunk_boundaries(backend, make_store):
    store = await opened(make_store(backend, **({"chunk_bytes": 1000} if backend == "redis" else {})))
    try:
        data, request_id = payload(3500), rid()
        await store.put(VIDEO, request_id, data, "video/mp4", "mp4")
        info = await store.info(VIDEO, request_id)
        for start, stop in [(0, 1), (999, 1001), (0, 3500), (1000, 2000), (2500, 3500), (3499, 3500), (10, 10)]:
            got = b"".join([p async for p in store.read(info, start, stop)])
            assert got == data[start:stop], (start, stop)
    finally:
        await store.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_items_expire_with_their_ttl(backend, make_store):
    store = await opened(make_store(backend, ttl_s=1))
    try:
        request_id = rid()
        await store.put(AUDIO, request_id, b"RIFF" + payload(100), "audio/wav", "wav")
        assert await store.info(AUDIO, request_id) is not None
        await asyncio.sleep(1.3)
        assert await store.info(AUDIO, request_id) is None
        await store.cleanup()
        assert await store.info(AUDIO, request_id) is None
    finally:
        await store.close()


async def test_redis_caps_item_size_and_total_bytes(make_store, redis_url, redis_prefix):
    import redis

    store = await opened(make_store("redis", chunk_bytes=400, max_item_bytes=1500, max_total_bytes=2500))
    try:
        with pytest.raises(MediaTooLarge):
            await store.put(VIDEO, rid(), payload(1501), "video/mp4", "mp4")
        ids = [rid() for _ in range(3)]
        for request_id in ids:
            await store.put(VIDEO, request_id, payload(1000), "video/mp4", "mp4")
        assert await store.info(VIDEO, ids[0]) is None  # closest to expiry: evicted for the third
        assert await store.info(VIDEO, ids[1]) is not None and await store.info(VIDEO, ids[2]) is not None
        assert (await store.health())["total_bytes"] == 2000
        client = redis.Redis.from_url(redis_url)
        try:
            assert not client.keys(f"{redis_prefix}video:{ids[0]}*")  # its chunks went too
            assert len(client.keys(f"{redis_prefix}video:{ids[1]}:*")) == 3  # 1000 bytes in 400-byte chunks
            ttl = client.pttl(f"{redis_prefix}video:{ids[1]}:2")
            assert 0 < ttl <= 60_000
            client.delete(f"{redis_prefix}video:{ids[1]}:1")  # Redis evicted one chunk (maxmemory)
        finally:
            client.close()
        assert await store.info(VIDEO, ids[1]) is None  # never a file with a hole
    finally:
        await store.close()


async def test_redis_down_reads_are_unavailable_not_missing(make_store):
    store = make_store("redis", url=closed_port_url(), timeout_s=0.3)
    try:
        with pytest.raises(MediaUnavailable):
            await store.info(AUDIO, rid())
        with pytest.raises(Exception):
            await store.put(AUDIO, rid(), b"x", "audio/wav", "wav")
        assert (await store.health())["ok"] is False
    finally:
        await store.close()


async def test_disk_cleanup_by_ttl_and_video_size_cap(make_store, tmp_path):
    store = await opened(make_store("disk", video_max_bytes=2500))
    ids = [rid() for _ in range(3)]
    for n, request_id in enumerate(ids):
        info = await store.put(VIDEO, request_id, payload(1000), "video/mp4", "mp4")
        past = time.time() - 30 + n
        for path in (store.path(info), tmp_path / "video" / f"{request_id}.type"):
            os.utime(path, (past, past))
    result = await store.cleanup()
    assert result["video"]["removed"] == 1 and result["video"]["kept_bytes"] == 2000
    assert await store.info(VIDEO, ids[0]) is None and not list((tmp_path / "video").glob(ids[0] + "*"))
    assert await store.info(VIDEO, ids[2]) is not None


def test_factory_picks_the_backend_from_settings(tmp_path):
    base = {"data_dir": tmp_path}
    assert media_backend(Settings(**base)) == "disk"
    assert isinstance(build_media_store(Settings(**base)), DiskMediaStore)
    assert media_backend(Settings(**base, redis_url="redis://127.0.0.1:6379/0")) == "redis"
    assert media_backend(Settings(**base, redis_url="redis://x", media_s3_bucket="b")) == "s3"
    assert media_backend(Settings(**base, redis_url="redis://x", media_backend="disk")) == "disk"
    with pytest.raises(ValueError, match="REDIS_URL"):
        build_media_store(Settings(**base, media_backend="redis"))
    with pytest.raises(ValueError, match="S3_BUCKET"):
        build_media_store(Settings(**base, media_backend="s3"))


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_MEDIA_S3_BUCKET", "lines")
    monkeypatch.setenv("GATEWAY_MEDIA_S3_SECRET_ACCESS_KEY", "hunter2")
    monkeypatch.setenv("GATEWAY_MEDIA_REDIS_CHUNK_BYTES", "4096")
    s = Settings()
    assert s.media.s3_bucket == "lines" and s.media.redis_chunk_bytes == 4096
    assert "hunter2" not in repr(s.media)


@pytest.mark.parametrize(("header", "size", "expected"), [
    (None, 10, None), ("bytes=0-", 10, ByteRange(0, 10)), ("bytes=2-4", 10, ByteRange(2, 5)),
    ("bytes=5-100", 10, ByteRange(5, 10)), ("bytes=-3", 10, ByteRange(7, 10)), ("bytes=-30", 10, ByteRange(0, 10)),
    ("bytes=0-1,4-5", 10, None), ("items=0-1", 10, None), ("bytes=4-2", 10, None), ("bytes=x-", 10, None),
    ("bytes=-", 10, None), ("bytes=9-9", 10, ByteRange(9, 10))])
def test_parse_range(header, size, expected):
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-0", 10), ("bytes=0-", 0)])
def test_unsatisfiable_ranges(header, size):
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_http_routes_serve_ranges_from_every_backend(backend, make_store, tmp_path):
    """The real audio/video routes over each backend: 200, 206 + Content-Range, 416, If-Range, 404."""
    store = await opened(make_store(backend, **({"chunk_bytes": 4096} if backend == "redis" else {})))
    app = FastAPI()
    app.include_router(routes_speak.router)
    app.state.mouthpiece = SimpleNamespace(media=store, settings=Settings(data_dir=tmp_path))
    audio, video, request_id = payload(10_000), payload(20_000), rid()
    await store.put(AUDIO, request_id, audio, "audio/wav", "wav")
    await store.put(VIDEO, request_id, video, "video/mp4", "mp4")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            for kind, data, media_type in (("audio", audio, "audio/wav"), ("video", video, "video/mp4")):
                url = f"/api/avatar/{kind}/{request_id}"
                whole = await client.get(url)
                assert whole.status_code == 200 and whole.content == data
                assert whole.headers["content-type"].startswith(media_type)
                assert whole.headers["accept-ranges"] == "bytes" and int(whole.headers["content-length"]) == len(data)
                part = await client.get(url, headers={"Range": "bytes=4000-8191"})
                assert part.status_code == 206 and part.content == data[4000:8192]
                assert part.headers["content-range"] == f"bytes 4000-8191/{len(data)}"
                tail = await client.get(url, headers={"Range": "bytes=-100"})
                assert tail.status_code == 206 and tail.content == data[-100:]
                past = await client.get(url, headers={"Range": f"bytes={len(data)}-"})
                assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"
                stale = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
                assert stale.status_code == 200 and stale.content == data
                fresh = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["etag"]})
                assert fresh.status_code == 206 and fresh.content == data[:10]
                assert (await client.get(f"/api/avatar/{kind}/{rid()}")).status_code == 404
            assert (await client.get("/api/avatar/audio/..%2F..%2Fetc%2Fpasswd")).status_code == 404
    finally:
        await store.close()


async def test_http_route_answers_503_while_redis_is_down(make_store, tmp_path):
    store = make_store("redis", url=closed_port_url(), timeout_s=0.3)
    app = FastAPI()
    app.include_router(routes_speak.router)
    app.state.mouthpiece = SimpleNamespace(media=store, settings=Settings(data_dir=tmp_path))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            r = await client.get(f"/api/avatar/audio/{rid()}")
        assert r.status_code == 503 and r.headers["retry-after"] and r.json()["error"] == "media_unavailable"
    finally:
        await store.close()


async def test_shared_store_outage_falls_back_to_this_replicas_disk(make_store, tmp_path):
    """Redis down: the audio is kept on local disk and served from there; what neither has is 503 (ask another
    replica), not 404."""
    from gateway.media.fallback import WithLocalFallback
    from gateway.observability.metrics import MEDIA_WRITES

    local = make_store("disk")
    store = WithLocalFallback(make_store("redis", url=closed_port_url(), timeout_s=0.3), local)
    await store.start()
    try:
        before = MEDIA_WRITES.labels("audio", "redis", "fallback")._value.get()
        data, request_id = payload(5000), rid()
        info = await store.put(AUDIO, request_id, data, "audio/wav", "wav")
        assert info.source == "disk" and await local.info(AUDIO, request_id) is not None
        assert MEDIA_WRITES.labels("audio", "redis", "fallback")._value.get() == before + 1
        found = await store.info(AUDIO, request_id)
        assert found.source == "disk" and await store.read_all(found) == data
        with pytest.raises(MediaUnavailable):
            await store.info(AUDIO, rid())
        with pytest.raises(ValueError):
            await store.put(AUDIO, "../x", b"x", "audio/wav", "wav")
        assert (await store.health())["fallback"] == "disk"
    finally:
        await store.close()


async def test_shared_store_keeps_what_fits_and_falls_back_for_the_rest(make_store):
    from gateway.media.fallback import WithLocalFallback

    shared, local = make_store("redis", max_item_bytes=4000), make_store("disk")
    store = WithLocalFallback(shared, local)
    await store.start()
    try:
        small, big = rid(), rid()
        assert (await store.put(VIDEO, small, payload(3000), "video/mp4", "mp4")).source == "redis"
        assert (await store.put(VIDEO, big, payload(5000), "video/mp4", "mp4")).source == "disk"
        assert (await store.info(VIDEO, small)).source == "redis"
        info = await store.info(VIDEO, big)
        assert info.source == "disk" and len(await store.read_all(info)) == 5000
        assert await store.info(VIDEO, rid()) is None  # Redis answered "no" and the disk has none: 404
    finally:
        await store.close()


def test_factory_puts_the_disk_behind_a_shared_store(tmp_path):
    from gateway.media.fallback import WithLocalFallback

    store = build_media_store(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(store, WithLocalFallback) and store.backend == "redis"
    assert isinstance(store.local, DiskMediaStore) and isinstance(store.shared, RedisMediaStore)
