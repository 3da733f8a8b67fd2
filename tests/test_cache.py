"""Line cache: keys, entry format, disk (SQLite) and Redis backends, crash atomicity, the cache provider."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gateway.cache import (
    CachedLine,
    CorruptEntryError,
    DiskLineCache,
    NullCache,
    RedisLineCache,
    build_cache,
    line_key,
    normalize_text,
)
from gateway.cache.base import HEADER_SIZE
from gateway.core.errors import ErrorKind, ProviderError
from gateway.core.events import AlignmentEvent, AudioEvent, FinalEvent, SegmentEndEvent
from gateway.core.timeline import PhonemeSpan, Timeline, WordSpan
from gateway.core.voices import HealthState, VoiceSettings
from gateway.providers.base import SynthesisRequest
from gateway.providers.cache import CacheProvider, store_line
from gateway.settings import Settings
from gateway.text.clean import split_sentences

try:
    from tests.redis_fixture import closed_port_url, free_port, redis_pings, redis_prefix, redis_url  # noqa: F401
except ImportError:  # tests/ is not a package: pytest put tests/ itself on sys.path
    from redis_fixture import closed_port_url, free_port, redis_pings, redis_prefix, redis_url  # noqa: F401

REPO_ROOT = Path(__file__).resolve().parent.parent


def make_line(seed: int = 0, n_samples: int = 4410, sample_rate: int = 22050, provider: str = "piper") -> CachedLine:
    pcm = bytes((seed * 31 + i * 7) % 256 for i in range(n_samples * 2))
    timeline = Timeline(
        phonemes=[PhonemeSpan("h", 0, 40), PhonemeSpan("ɛ", 40, 90), PhonemeSpan("l", 90, 130),
                  PhonemeSpan("oʊ", 130, 200)],
        words=[WordSpan("Hello", 0, 200, 0, 5), WordSpan(f"w{seed}", 200, 200, 6, 8)],
        duration_ms=200,
    )
    return CachedLine(pcm=pcm, sample_rate=sample_rate, timeline=timeline, provider=provider,
                      created_at=1_700_000_000.0 + seed, meta={"voice": "joe"})


def assert_same_line(a: CachedLine | None, b: CachedLine) -> None:
    assert a is not None
    assert a.pcm == b.pcm
    assert a.sample_rate == b.sample_rate
    assert a.timeline.to_dict() == b.timeline.to_dict()
    assert a.provider == b.provider
    assert a.created_at == b.created_at
    assert a.meta == b.meta


# -- keys ------------------------------------------------------------------------------------------

BASE = dict(text="Hello there, traveller.", family="piper", voice="joe", settings=VoiceSettings(),
            output_format="wav")


def test_key_is_stable() -> None:
    # Pinned: if this changes, every stored entry is orphaned -> bump KEY_SCHEMA_VERSION on purpose.
    assert line_key(**BASE) == "327e4a78d7216810b55c5126cc0d1d6612fb709c2266e0c9d07d138385375320"
    assert line_key(**BASE) == line_key(**BASE)
    assert line_key(**{**BASE, "settings": VoiceSettings().key()}) == line_key(**BASE)
    assert line_key(**{**BASE, "settings": None}) == line_key(**BASE)


def test_key_folds_whitespace_keeps_case() -> None:
    k = line_key(**BASE)
    for text in ("  Hello there, traveller. ", "Hello\tthere,\n traveller.", "Hello   there,  traveller."):
        assert line_key(**{**BASE, "text": text}) == k
    assert normalize_text(" a \n\t b ") == "a b"
    assert line_key(**{**BASE, "text": "hello there, traveller."}) != k
    assert line_key(**{**BASE, "text": "Hello there, traveller!"}) != k
    assert line_key(**{**BASE, "text": "Hellothere, traveller."}) != k


@pytest.mark.parametrize("field,value", [
    ("text", "Goodbye, traveller."),
    ("family", "kokoro"),
    ("voice", "amy"),
    ("voice", "Joe"),
    ("settings", VoiceSettings(speed=1.1)),
    ("settings", VoiceSettings(stability=0.5)),
    ("settings", VoiceSettings(style=0.2)),
    ("output_format", "mp3"),
])
def test_key_changes_with_each_field(field: str, value: object) -> None:
    assert line_key(**{**BASE, field: value}) != line_key(**BASE)


def test_key_includes_schema_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import gateway.cache.key as key_mod

    before = line_key(**BASE)
    monkeypatch.setattr(key_mod, "KEY_SCHEMA_VERSION", key_mod.KEY_SCHEMA_VERSION + 1)
    assert key_mod.line_key(**BASE) != before


# -- entry format ----------------------------------------------------------------------------------

def test_entry_round_trip() -> None:
    line = make_line(3)
    blob = line.to_bytes()
    assert blob[:4] == b"MPLC"
    assert_same_line(CachedLine.from_bytes(blob), line)
    assert line.duration_ms == 200


def _damaged(blob: bytes) -> list[bytes]:
    return [
        b"",
        blob[:10],
        blob[:HEADER_SIZE],
        blob[:-1],  # truncated PCM
        blob[: len(blob) // 2],
        blob + b"\x00\x00",
        blob[:-1] + bytes([blob[-1] ^ 0x01]),  # flipped PCM bit
        blob[:HEADER_SIZE + 3] + bytes([blob[HEADER_SIZE + 3] ^ 0x20]) + blob[HEADER_SIZE + 4:],  # metadata
        b"XXXX" + blob[4:],  # magic
        blob[:4] + b"\x00\x63" + blob[6:],  # version
        blob[:20] + bytes([blob[20] ^ 0xFF]) + blob[21:],  # checksum
    ]


def test_corrupt_entries_are_rejected() -> None:
    for bad in _damaged(make_line(1).to_bytes()):
        with pytest.raises(CorruptEntryError):
            CachedLine.from_bytes(bad)


# -- disk backend ----------------------------------------------------------------------------------

@pytest.fixture
async def disk(tmp_path: Path):
    cache = DiskLineCache(tmp_path / "cache" / "lines.sqlite3")
    yield cache
    await cache.close()


async def test_disk_round_trip(disk: DiskLineCache, tmp_path: Path) -> None:
    line = make_line(1)
    key = line_key(**BASE)
    assert await disk.get(key) is None
    assert await disk.put(key, line)
    assert_same_line(await disk.get(key), line)
    # replace
    line2 = make_line(2)
    assert await disk.put(key, line2)
    assert_same_line(await disk.get(key), line2)
    stats = await disk.stats()
    assert stats["entries"] == 1 and stats["bytes"] == len(line2.to_bytes())
    assert stats["hits"] == 2 and stats["misses"] == 1
    health = await disk.health()
    assert health.ok and health.backend == "disk"
    # persisted, readable by another instance (as another process would)
    other = DiskLineCache(tmp_path / "cache" / "lines.sqlite3")
    try:
        assert_same_line(await other.get(key), line2)
        await other.delete(key)
    finally:
        await other.close()
    assert await disk.get(key) is None
    assert (await disk.stats())["entries"] == 0
    with sqlite3.connect(tmp_path / "cache" / "lines.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_disk_corrupt_or_truncated_entry_is_a_miss(disk: DiskLineCache) -> None:
    good = make_line(5).to_bytes()
    keys = [f"k{i}" for i in range(len(_damaged(good)))]
    for key in keys:
        assert await disk.put(key, make_line(5))
    with sqlite3.connect(disk.path) as conn:
        for key, bad in zip(keys, _damaged(good)):
            conn.execute("UPDATE lines SET entry = ?, size = ? WHERE key = ?", (bad, len(bad), key))
    for key in keys:
        assert await disk.get(key) is None
    stats = await disk.stats()
    assert stats["corrupt"] == len(keys)
    assert stats["entries"] == 0  # dropped, and the totals stayed consistent


async def test_disk_eviction_keeps_size_bound(tmp_path: Path) -> None:
    one = len(make_line(0).to_bytes())
    cache = DiskLineCache(tmp_path / "c.sqlite3", max_bytes=one * 5 + 10, touch_interval_s=0)
    try:
        for i in range(5):
            assert await cache.put(f"k{i}", make_line(i))
            await asyncio.sleep(0.01)
        assert await cache.get("k0") is not None  # touch k0: now recently used
        await asyncio.sleep(0.05)
        for i in range(5, 8):
            assert await cache.put(f"k{i}", make_line(i))
        stats = await cache.stats()
        assert stats["bytes"] <= cache.max_bytes
        assert stats["evicted"] >= 3
        assert await cache.get("k0") is not None  # recently used survived
        assert await cache.get("k1") is None  # least recently used went first
        assert await cache.get("k7") is not None
        # an entry larger than the whole bound is refused, nothing else is evicted for it
        assert not await cache.put("huge", make_line(9, n_samples=one * 4))
        assert (await cache.stats())["too_large"] == 1
    finally:
        await cache.close()


async def test_disk_concurrent_puts_and_gets(tmp_path: Path) -> None:
    path = tmp_path / "lines.sqlite3"
    a, b = DiskLineCache(path), DiskLineCache(path)  # two instances = two independent connections sets
    try:
        lines = {f"k{i}": make_line(i, n_samples=2000 + i) for i in range(24)}

        async def writer(cache: DiskLineCache, key: str) -> None:
            assert await cache.put(key, lines[key])

        async def reader(cache: DiskLineCache, key: str) -> None:
            got = await cache.get(key)
            if got is not None:
                assert_same_line(got, lines[key])

        ops = []
        for i, key in enumerate(lines):
            ops.append(writer(a if i % 2 else b, key))
            ops.append(reader(b if i % 2 else a, key))
            ops.append(writer(a if i % 3 else b, "shared"))  # many writers, one key
        lines["shared"] = make_line(99)
        await asyncio.gather(*ops)
        for key in lines:
            if key != "shared":
                assert_same_line(await a.get(key), lines[key])
        assert_same_line(await b.get("shared"), lines["shared"])
        stats = await a.stats()
        assert stats["entries"] == len(lines)
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT SUM(size), COUNT(*) FROM lines").fetchone() == (stats["bytes"], stats["entries"])
    finally:
        await a.close()
        await b.close()


_CRASH_WRITER = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {root!r})
    from gateway.cache.base import CachedLine
    from gateway.cache.disk import DiskLineCache
    from gateway.core.timeline import PhonemeSpan, Timeline

    SIZE = {size}

    async def main():
        cache = DiskLineCache({path!r}, max_bytes=SIZE * 6)
        i = {start}
        while True:
            pcm = bytes([i % 251]) * SIZE
            tl = Timeline(phonemes=[PhonemeSpan("a", 0, i)], words=[], duration_ms=i)
            ok = await cache.put(f"crash-{{i}}", CachedLine(pcm, 16000, tl, "piper", float(i)))
            assert ok
            print(i, flush=True)
            i += 1

    asyncio.run(main())
""")


@pytest.mark.slow
async def test_disk_crash_mid_write_leaves_only_complete_entries(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    size = 4 * 1024 * 1024
    acked: list[int] = []
    start = 0
    for round_ in range(3):
        script = _CRASH_WRITER.format(root=str(REPO_ROOT), size=size, path=str(path), start=start)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            for _ in range(3 + round_):
                line = proc.stdout.readline()
                assert line, "writer died early"
                acked.append(int(line))
            time.sleep((0.005, 0.015, 0.03)[round_])  # land inside the next put (each takes ~20-50 ms)
            os.kill(proc.pid, signal.SIGKILL)
            rest, _ = proc.communicate(timeout=10)
            acked.extend(int(x) for x in rest.split())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        start = acked[-1] + 1

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        keys = [k for (k,) in conn.execute("SELECT key FROM lines")]
        total, entries = conn.execute("SELECT bytes, entries FROM totals").fetchone()
        assert conn.execute("SELECT SUM(size), COUNT(*) FROM lines").fetchone() == (total, entries)
    assert keys, "nothing survived"
    assert f"crash-{acked[-1]}" in keys  # the last acknowledged put is durable
    cache = DiskLineCache(path)
    try:
        for key in keys:
            i = int(key.split("-")[1])
            got = await cache.get(key)
            assert got is not None, key
            assert got.pcm == bytes([i % 251]) * size
            assert got.timeline.duration_ms == i and got.created_at == float(i)
        assert (await cache.stats())["corrupt"] == 0
        assert total <= size * 6 + 4096 * len(keys)
    finally:
        await cache.close()


# -- redis backend ---------------------------------------------------------------------------------

@pytest.fixture
async def rcache(redis_url: str, redis_prefix: str):
    cache = RedisLineCache(redis_url, prefix=redis_prefix)
    yield cache
    await cache.close()


async def test_redis_round_trip(rcache: RedisLineCache, redis_url: str, redis_prefix: str) -> None:
    import redis

    key = line_key(**BASE)
    line = make_line(4)
    assert await rcache.get(key) is None
    assert await rcache.put(key, line)
    assert_same_line(await rcache.get(key), line)
    assert (await rcache.health()).ok
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.get(redis_prefix + key) == line.to_bytes()  # one key, the whole blob
        assert client.ttl(redis_prefix + key) == -1
        await rcache.delete(key)
        assert client.exists(redis_prefix + key) == 0
        ttl_cache = RedisLineCache(redis_url, prefix=redis_prefix, ttl_s=120)
        try:
            assert await ttl_cache.put(key, line)
            assert 0 < client.ttl(redis_prefix + key) <= 120
        finally:
            await ttl_cache.close()
    finally:
        client.close()
    stats = await rcache.stats()
    assert stats["hits"] == 1 and stats["puts"] == 1


async def test_redis_default_prefix() -> None:
    cache = RedisLineCache("redis://127.0.0.1:1/0")
    assert cache.prefix == "mouthpiece:line:"
    await cache.close()


async def test_redis_corrupt_or_truncated_entry_is_a_miss(rcache: RedisLineCache, redis_url: str,
                                                          redis_prefix: str) -> None:
    import redis

    good = make_line(6).to_bytes()
    client = redis.Redis.from_url(redis_url)
    try:
        for i, bad in enumerate(_damaged(good)):
            client.set(f"{redis_prefix}bad{i}", bad)
        for i in range(len(_damaged(good))):
            assert await rcache.get(f"bad{i}") is None
            assert client.exists(f"{redis_prefix}bad{i}") == 0  # dropped
    finally:
        client.close()
    assert (await rcache.stats())["corrupt"] == len(_damaged(good))


async def test_redis_concurrent_puts_and_gets(rcache: RedisLineCache) -> None:
    lines = {f"k{i}": make_line(i, n_samples=3000 + i) for i in range(30)}

    async def reader(key: str) -> None:
        got = await rcache.get(key)
        if got is not None:
            assert_same_line(got, lines[key])

    await asyncio.gather(*[rcache.put(k, v) for k, v in lines.items()], *[reader(k) for k in lines])
    results = await asyncio.gather(*[rcache.get(k) for k in lines])
    for (key, line), got in zip(lines.items(), results):
        assert_same_line(got, line)


async def test_redis_down_is_a_miss_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.cache.redis_cache")
    cache = RedisLineCache(closed_port_url(), retry_interval_s=0.0)
    try:
        t0 = time.monotonic()
        for i in range(3):
            assert await cache.get(f"k{i}") is None
            assert await cache.put(f"k{i}", make_line(i)) is False
            await cache.delete(f"k{i}")
        assert time.monotonic() - t0 < 3.0
        health = await cache.health()
        assert not health.ok and "unreachable" in health.reason
        stats = await cache.stats()
        assert stats["down"] and stats["errors"] >= 6 and stats["put_dropped"] == 3
    finally:
        await cache.close()
    outage_logs = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage_logs) == 1


async def test_redis_down_skips_calls_then_recovers(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import shutil

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed")
    caplog.set_level(logging.WARNING, logger="gateway.cache.redis_cache")
    port = free_port()
    cache = RedisLineCache(f"redis://127.0.0.1:{port}/0", prefix="mouthpiece:test:recover:", retry_interval_s=0.2)
    proc = None
    try:
        assert await cache.get("k") is None  # down: real attempt
        assert await cache.get("k") is None  # within retry interval: skipped
        assert (await cache.stats())["skipped_while_down"] == 1
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        deadline = time.monotonic() + 10
        while not redis_pings("127.0.0.1", port):
            assert time.monotonic() < deadline, "redis-server did not start"
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.25)
        assert await cache.put("k", make_line(1))
        assert_same_line(await cache.get("k"), make_line(1))
        assert (await cache.health()).ok
    finally:
        await cache.close()
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=5)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("unavailable" in m for m in messages) == 1
    assert sum("recovered" in m for m in messages) == 1


# -- factory ---------------------------------------------------------------------------------------

async def test_build_cache_picks_backend(tmp_path: Path) -> None:
    null = build_cache(Settings(data_dir=tmp_path, cache_enabled=False, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(null, NullCache)
    assert await null.put("k", make_line()) is False and await null.get("k") is None
    assert (await null.health()).ok

    disk = build_cache(Settings(data_dir=tmp_path, redis_url=None))
    assert isinstance(disk, DiskLineCache)
    assert await disk.put("k", make_line())
    assert (tmp_path / "cache" / "lines.sqlite3").exists()
    await disk.close()

    red = build_cache(Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(red, RedisLineCache)
    await red.close()


# -- cache provider --------------------------------------------------------------------------------

def make_request(text: str, candidates: tuple, *, skip: int = 0, **kw: object) -> SynthesisRequest:
    segments = tuple(split_sentences(text))[skip:]
    return SynthesisRequest(segments=segments, voice="joe", text=text, cache_candidates=candidates, **kw)


LINE_TEXT = "Halt! Who goes there? Show yourself."


@pytest.fixture(params=["disk", "redis"])
async def any_cache(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "disk":
        cache = DiskLineCache(tmp_path / "lines.sqlite3")
    else:
        url = request.getfixturevalue("redis_url")
        cache = RedisLineCache(url, prefix=request.getfixturevalue("redis_prefix"))
    yield cache
    await cache.close()


async def collect(provider: CacheProvider, request: SynthesisRequest) -> list:
    return [event async for event in provider.stream(request)]


async def test_cache_provider_hit_replays_stored_line(any_cache) -> None:
    line = make_line(7, n_samples=22050 + 123)  # just over 1 s
    key = await store_line(any_cache, text=LINE_TEXT, family="kokoro", voice="af_heart", settings=VoiceSettings(),
                           output_format="wav", pcm=line.pcm, sample_rate=line.sample_rate,
                           timeline=line.timeline, provider="kokoro")
    assert key == line_key(text=LINE_TEXT, family="kokoro", voice="af_heart")
    provider = CacheProvider(any_cache)
    request = make_request("Halt!  Who goes there?\nShow yourself.", (("piper", "joe"), ("kokoro", "af_heart")))
    request = dataclasses.replace(request, text=LINE_TEXT)
    events = await collect(provider, request)

    audio = [e for e in events if isinstance(e, AudioEvent)]
    assert b"".join(e.pcm for e in audio) == line.pcm
    assert len(audio) == 11 and all(e.sample_rate == 22050 for e in audio)
    assert [e.start_ms for e in audio] == [i * 100 for i in range(11)]
    alignment = [e for e in events if isinstance(e, AlignmentEvent)]
    assert len(alignment) == 1
    assert list(alignment[0].phonemes) == line.timeline.phonemes and list(alignment[0].words) == line.timeline.words
    last = request.segments[-1].index
    assert last == 2
    ends = [e for e in events if isinstance(e, SegmentEndEvent)]
    assert ends == [SegmentEndEvent(segment=last, end_ms=line.duration_ms)]
    assert isinstance(events[-1], FinalEvent)
    assert events[-1].stats["provider"] == "cache" and events[-1].stats["source_provider"] == "kokoro"
    assert events[-1].stats["source_family"] == "kokoro"
    assert [type(e) for e in events[-3:]] == [AlignmentEvent, SegmentEndEvent, FinalEvent]


async def test_cache_provider_prefers_chain_order(disk: DiskLineCache) -> None:
    for family, voice, seed in (("piper", "joe", 1), ("kokoro", "af_heart", 2)):
        line = make_line(seed)
        await store_line(disk, text=LINE_TEXT, family=family, voice=voice, settings=None, output_format="wav",
                         pcm=line.pcm, sample_rate=line.sample_rate, timeline=line.timeline, provider=family)
    provider = CacheProvider(disk)
    events = await collect(provider, make_request(LINE_TEXT, (("kokoro", "af_heart"), ("piper", "joe"))))
    assert events[-1].stats["source_family"] == "kokoro"
    assert b"".join(e.pcm for e in events if isinstance(e, AudioEvent)) == make_line(2).pcm
    events = await collect(provider, make_request(LINE_TEXT, (("piper", "joe"), ("kokoro", "af_heart"))))
    assert events[-1].stats["source_family"] == "piper"


async def test_cache_provider_miss_and_partial_are_unavailable(disk: DiskLineCache) -> None:
    line = make_line(1)
    await store_line(disk, text=LINE_TEXT, family="piper", voice="joe", settings=None, output_format="wav",
                     pcm=line.pcm, sample_rate=line.sample_rate, timeline=line.timeline, provider="piper")
    provider = CacheProvider(disk)
    cases = [
        make_request(LINE_TEXT, (("piper", "amy"),)),  # other voice
        make_request(LINE_TEXT, (("piper", "joe"),), output_format="mp3"),  # other format
        make_request(LINE_TEXT, (("piper", "joe"),), settings=VoiceSettings(speed=1.2)),  # other settings
        make_request(LINE_TEXT.lower(), (("piper", "joe"),)),  # other text
        make_request(LINE_TEXT, ()),  # no candidates
        make_request(LINE_TEXT, (("piper", "joe"),), skip=1),  # line partly spoken already
    ]
    for request in cases:
        with pytest.raises(ProviderError) as info:
            await collect(provider, request)
        assert info.value.kind is ErrorKind.UNAVAILABLE
    assert len(await collect(provider, make_request(LINE_TEXT, (("piper", "joe"),)))) > 0
    assert provider.voices() == []
    health = await provider.health()
    assert health.state is HealthState.UP


async def test_cache_provider_health_follows_backend() -> None:
    cache = RedisLineCache(closed_port_url())
    try:
        provider = CacheProvider(cache)
        health = await provider.health()
        assert health.state is HealthState.DOWN and "unreachable" in health.reason
        with pytest.raises(ProviderError) as info:  # down backend: just a miss
            await collect(provider, make_request(LINE_TEXT, (("piper", "joe"),)))
        assert info.value.kind is ErrorKind.UNAVAILABLE
    finally:
        await cache.close()


async def test_store_line_skips_what_it_should_not_store(disk: DiskLineCache) -> None:
    line = make_line(1)
    common = dict(text=LINE_TEXT, voice="joe", settings=None, output_format="wav", sample_rate=22050,
                  timeline=line.timeline)
    assert await store_line(disk, family="cache", pcm=line.pcm, provider="cache", **common) is None
    assert await store_line(disk, family="canned", pcm=line.pcm, provider="canned", **common) is None
    assert await store_line(disk, family="piper", pcm=b"", provider="piper", **common) is None
    assert await store_line(NullCache(), family="piper", pcm=line.pcm, provider="piper", **common) is None
    assert (await disk.stats())["entries"] == 0


def test_delivery_changes_the_key_only_when_present():
    from gateway.cache.key import delivery_key
    from gateway.core.segments import Prosody, Segment

    plain = [Segment(0, "Wait.", 0), Segment(1, "Now go.", 6)]
    paused = [Segment(0, "Wait.", 0), Segment(1, "Now go.", 6, break_before_ms=800)]
    slow = [Segment(0, "Wait.", 0, Prosody(rate=0.6)), Segment(1, "Now go.", 6)]
    assert delivery_key(plain) == ""
    keys = {line_key(text="Wait. Now go.", family="piper", voice="joe", delivery=delivery_key(s))
            for s in (plain, paused, slow)}
    assert len(keys) == 3
    assert line_key(text="Wait. Now go.", family="piper", voice="joe") == \
        line_key(text="Wait. Now go.", family="piper", voice="joe", delivery=delivery_key(plain))
