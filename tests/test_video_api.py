"""The speak path with the video pool: video_url when a worker delivers, audio-only (degraded-1) when not."""

from __future__ import annotations

import io

import av
import httpx
import pytest

from tests.conftest import GatewayProcess, RenderWorkerProcess

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    proc = RenderWorkerProcess(tmp_path_factory.mktemp("worker") / "worker.log")
    proc.wait_ready()
    yield proc.url
    proc.stop()


@pytest.fixture(scope="module")
def gateway(worker, tmp_path_factory):
    data = tmp_path_factory.mktemp("video-gw")
    proc = GatewayProcess({"GATEWAY_DATA_DIR": str(data), "GATEWAY_VIDEO_WORKERS": worker,
                           "GATEWAY_CHAIN": '["piper","espeak","cache","canned"]'}, data / "gw.log")
    proc.wait_ready()
    yield proc
    proc.stop()


def test_speak_with_avatar_returns_a_playable_video(gateway):
    r = httpx.post(gateway.url + "/api/avatar/speak", json={"text": "Welcome to my forge!", "avatar_id": "blacksmith",
                                                            "character": "blacksmith"}, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["video_url"], body.get("video")
    assert body["degradation_level"] == "normal"
    video = httpx.get(gateway.url + body["video_url"], timeout=30)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        v = container.streams.video[0]
        a = container.streams.audio[0]
        assert v.frames > 0 or v.duration
        seconds = float(container.duration / av.time_base)
    assert abs(seconds - body["duration"]) < 0.15
    del a


def test_stream_reports_rendering_then_video(gateway):
    lines = httpx.post(gateway.url + "/api/avatar/speak/stream", json={"text": "Aye.", "avatar_id": "rogue"},
                       timeout=60).text.splitlines()
    import json
    events = [json.loads(line) for line in lines if line]
    assert any(e["type"] == "status" and e["code"] == "rendering" for e in events)
    assert events[-1]["type"] == "final" and events[-1]["video_url"]


def test_unknown_avatar_degrades_to_audio_only(gateway):
    body = httpx.post(gateway.url + "/api/avatar/speak", json={"text": "Who am I?", "avatar_id": "dragon"},
                      timeout=60).json()
    assert body["video_url"] is None and body["audio_url"]
    assert body["degradation_level"] == "degraded-1" and body["degradation_reasons"]


def test_no_pool_is_audio_only_with_reason(gateway_proc):
    body = httpx.post(gateway_proc.url + "/api/avatar/speak", json={"text": "No video here.", "avatar_id": "rogue"},
                      timeout=60).json()
    assert body["video_url"] is None and body["degradation_level"] == "degraded-1"
    assert any("no video workers" in r for r in body["degradation_reasons"])
    plain = httpx.post(gateway_proc.url + "/api/avatar/speak", json={"text": "No avatar asked."}, timeout=60).json()
    assert plain["degradation_level"] == "normal"
