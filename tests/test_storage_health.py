"""The media store and the line cache as health sees them (real files; no root needed: a directory replaced by a
file cannot be written by anyone). The whole path under load, with a full disk: tests/chaos/test_faults.py."""

from __future__ import annotations

import asyncio
import shutil

from gateway.cache.disk import DiskLineCache
from gateway.media.disk import DiskMediaStore
from gateway.media.monitored import MonitoredStore
from gateway.media.store import MediaKind, Retention
from gateway.service.storage import StorageWatch

RID = "0123456789abcdef0123456789abcdef"


def _store(tmp_path) -> tuple[MonitoredStore, object]:
    audio = tmp_path / "audio"
    disk = DiskMediaStore({MediaKind.AUDIO: audio}, {MediaKind.AUDIO: Retention(60)})
    return MonitoredStore(disk), audio


def test_a_failed_write_shows_at_once_and_the_probe_brings_it_back(tmp_path):
    async def run() -> None:
        store, audio = _store(tmp_path)
        await store.start()
        await store.put(MediaKind.AUDIO, RID, b"x" * 100, "audio/wav", "wav")
        assert (await store.health())["status"] == "up"
        shutil.rmtree(audio)
        audio.write_bytes(b"not a directory")  # unwritable for root too
        try:
            await store.put(MediaKind.AUDIO, RID, b"x" * 100, "audio/wav", "wav")
        except OSError:
            pass
        else:
            raise AssertionError("the write should fail")
        health = await store.health()
        assert health["status"] == "down" and not health["ok"] and "Error" in health["error"]
        await store.probe()
        assert not store.state.up  # still broken
        audio.unlink()
        await store.probe()
        health = await store.health()
        assert health["status"] == "up" and health["error"] is None and health["last_error"]  # kept for the operator

    asyncio.run(run())


def test_the_watch_probes_without_traffic_and_reports_both(tmp_path):
    async def run() -> None:
        store, audio = _store(tmp_path)
        cache = DiskLineCache(tmp_path / "cache" / "lines.sqlite3")
        watch = StorageWatch(store, cache, probe_interval_s=60.0)
        await watch.probe()
        report = await watch.report()
        assert report.media_up and report.cache_up and not report.warnings
        audio.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(audio)
        audio.write_bytes(b"")  # the media directory is gone: nothing written by a request yet
        await watch.probe()  # what the health loop starts in the background every GATEWAY_STORAGE_PROBE_INTERVAL_S
        report = await watch.report()
        assert not report.media_up and report.warnings[0].startswith("media_unwritable:")
        audio.unlink()
        await watch.probe()
        report = await watch.report()
        assert report.media_up and report.cache["status"] == "up"
        await cache.close()

    asyncio.run(run())
