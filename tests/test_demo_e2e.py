"""End to end: the /avatar_demo page in Debian's chromium (playwright-core) against real gateway processes.

Starts the gateway (the session's ``gateway_proc``: every provider up, no video workers), plus real gateways in
degraded set-ups: one whose first provider is down (no models; chain piper -> espeak; one speak request per
minute per client), one where every provider is down (chain piper -> kokoro, no models), and one with a CPU render
worker as its video pool and an admin key. Then runs ``web/e2e/demo.e2e.mjs``, which:

* picks a character and an emotion and speaks a line with the keyboard only; checks that the audio clock advances
  and never runs backwards, mouth shapes change (>= 4 visemes), the mouth opens and closes, subtitles appear word by
  word, the provider and level badges, stage progress, timings and history; the timeline inspector (the viseme track
  drawn is the one streamed, words, waveform, playhead on the audio clock, the 15-viseme legend, latency per sentence,
  copy JSON / curl); Escape and Stop stop a line without a failure and the mouth closes; a video asked of a gateway
  without workers is audio-only (degraded-1) with the reason shown; the level badge's contrast;
* the emotion select's text fits; the empty / too-long (live count) / 429 (Retry-After countdown) / 400-with-limit
  states;
* at 390 x 844: a face stays in view while a line spoken from the form plays, a long line keeps a small subtitle box,
  Stop;
* a line at phone width (390 px, no horizontal scroll) on the fallback gateway: the badge and a notice name espeak;
  then a real 429 from its rate limit;
* a text-only line (every provider down): the estimated mouth track still moves, subtitles still appear;
* a line with video: the rendering stage, the MP4 from the pool plays in chromium;
* the outage switch (admin key on the video gateway): a picked voice, the first provider broken from the page
  (degraded-2), all of them (degraded-3), restored.

Screenshots and report.json go to ``$TEST_ARTIFACTS/demo_e2e`` (default ``tests/artifacts/demo_e2e``).
Skips only when chromium, node or the web build (``scripts/build_web.sh``) is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, GatewayProcess, RenderWorkerProcess

WEB = ROOT / "web"
BUILD = WEB / "out"
SCRIPT = WEB / "e2e" / "demo.e2e.mjs"
ADMIN_KEY = "e2e-admin-7c1d"


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _artifacts() -> Path:
    base = Path(os.environ["TEST_ARTIFACTS"]) if os.environ.get("TEST_ARTIFACTS") else ROOT / "tests" / "artifacts"
    out = base / "demo_e2e"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    if not os.environ.get("TEST_ARTIFACTS"):
        (base / ".gitignore").write_text("*\n")  # the folder ignores itself
    return out


def _missing() -> str | None:
    """Why the browser test cannot run here (None: it can)."""
    if _chromium() is None:
        return "chromium is not installed (Debian: apt-get install -y chromium; or set CHROMIUM=/path)"
    if shutil.which("node") is None:
        return "node is not installed (Node >= 20.9 is needed for the web build and the Playwright script)"
    if not (BUILD / "index.html").is_file():
        return "the web demo is not built: run scripts/build_web.sh"
    if not (WEB / "node_modules" / "playwright-core" / "package.json").is_file():
        return "web/node_modules is missing playwright-core: run scripts/build_web.sh (npm ci)"
    return None


def _requirements() -> tuple[str, str]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    return _chromium(), shutil.which("node")


@pytest.fixture(scope="module")
def demo_gateways(tmp_path_factory):
    """Real gateways in degraded set-ups (see the module docstring), started side by side."""
    if _missing():
        yield None  # the test skips with the reason; start nothing
        return
    no_models = tmp_path_factory.mktemp("no-models")
    procs: dict[str, GatewayProcess] = {}
    worker = RenderWorkerProcess(tmp_path_factory.mktemp("render-worker") / "worker.log")
    try:
        setups = {
            "fallback": {"GATEWAY_MODELS_DIR": str(no_models), "GATEWAY_CHAIN": '["piper","espeak"]',
                         "GATEWAY_RATE_LIMIT_PER_CLIENT_PER_MIN": "1"},
            "textonly": {"GATEWAY_MODELS_DIR": str(no_models), "GATEWAY_CHAIN": '["piper","kokoro"]'},
            # Chromium, the render worker and three gateways share the cores: the capacity rule would send Kokoro's
            # lines to Piper (degraded-2, rightly); this page's checks are about video and levels, so it is off here.
            "video": {"GATEWAY_VIDEO_WORKERS": worker.url, "GATEWAY_ADMIN_KEY": ADMIN_KEY,
                      "GATEWAY_CAPACITY_ENABLED": "false", "GATEWAY_DELIVERY_RTF_CRITICAL": "0"},
        }
        for name, env in setups.items():
            data = tmp_path_factory.mktemp(f"gateway-{name}")
            procs[name] = GatewayProcess({"GATEWAY_DATA_DIR": str(data), **env}, data / "gateway.log")
        worker.wait_ready()
        for proc in procs.values():
            proc.wait_ready()
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
        worker.stop()


def _wait_video_pool(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    video: dict = {}
    while time.monotonic() < deadline:
        video = httpx.get(url + "/api/health", timeout=5).json().get("video") or {}
        if video.get("healthy"):
            return
        time.sleep(0.5)
    pytest.fail(f"the video gateway's pool never became healthy: {video}")


def _serves_demo(url: str) -> None:
    r = httpx.get(url + "/avatar_demo/", timeout=10)
    if r.status_code == 404:
        pytest.fail("the gateway does not serve /avatar_demo: create_app must call "
                    "gateway.api.routes_demo.mount_demo(app) after including the API routers")
    assert r.status_code == 200, f"/avatar_demo/ answered {r.status_code}: {r.text[:300]}"
    assert "/avatar_demo/_next/" in r.text, "the page's assets are not under /avatar_demo (basePath)"


def test_demo_page_end_to_end(gateway_proc, demo_gateways):
    chromium, node = _requirements()
    artifacts = _artifacts()
    urls = {"BASE_URL": gateway_proc.url}
    for proc in (gateway_proc, *demo_gateways.values()):
        _serves_demo(proc.url)
    # the fallback scenario needs espeak (Debian espeak-ng); without it that gateway is text-only too
    fallback = demo_gateways["fallback"]
    espeak = httpx.get(fallback.url + "/api/health", timeout=10).json()["providers"].get("espeak", {})
    if espeak.get("state") == "up":
        urls["FALLBACK_URL"] = fallback.url
        urls["RATE_LIMITED"] = "1"
    urls["TEXTONLY_URL"] = demo_gateways["textonly"].url
    _wait_video_pool(demo_gateways["video"].url)
    urls["VIDEO_URL"] = demo_gateways["video"].url
    urls["ADMIN_URL"], urls["ADMIN_KEY"] = demo_gateways["video"].url, ADMIN_KEY

    env = {**os.environ, **urls, "CHROMIUM": chromium, "ARTIFACTS": str(artifacts), "NEXT_TELEMETRY_DISABLED": "1"}
    proc = subprocess.run([node, str(SCRIPT)], cwd=WEB, env=env, capture_output=True, text=True, timeout=420)
    output = proc.stdout + proc.stderr
    (artifacts / "e2e.log").write_text(output)
    report_path = artifacts / "report.json"
    report = json.loads(report_path.read_text()) if report_path.is_file() else {}
    failed = [c for c in report.get("checks", []) if not c["ok"]]
    assert proc.returncode == 0 and report.get("passed"), (
        f"e2e failed (exit {proc.returncode}); {len(failed)} failed checks: "
        + "; ".join(f"{c['name']}: {c['detail']}" for c in failed)
        + f"\nartifacts: {artifacts}\n{output[-4000:]}")

    names = {c["name"] for c in report["checks"]}
    for must in ("speak: the audio clock advances", "speak: mouth shapes change (>= 4 visemes)",
                 "speak: subtitles appear as the words are spoken", "speak: the provider badge shows who spoke",
                 "text-only: the page says it is text only", "video: the browser plays the MP4",
                 "inspector: the viseme track matches the response", "inspector: the playhead moves with the audio clock",
                 "inspector: the 15-viseme legend highlights the current viseme", "inspector: latency per sentence",
                 "inspector: copy JSON gives the line's data", "phone: a face stays in view while speaking",
                 "stop-button: a stop is not shown as a failure", "stop-button: the mouth closes after a stop",
                 "outage: with the first provider broken the next one answers (degraded-2)",
                 "outage: with every provider broken the line is text only (degraded-3)"):
        assert must in names, f"check {must!r} did not run"
    if "FALLBACK_URL" in urls:
        assert "fallback-phone: the badge shows the fallback that answered" in names
        assert "rate-limit: the gateway's 429 shows the rate-limited state" in names
    shots = sorted(p.name for p in artifacts.glob("*.png"))
    assert {"01-idle.png", "02-speaking.png", "03-done.png"} <= set(shots), shots


def test_mount_demo_serves_the_export_and_503_without_it(tmp_path):
    """No browser needed: the mount's redirect, files, cache headers, and the 503 page/JSON when unbuilt."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from gateway.api.routes_demo import mount_demo

    build = tmp_path / "out"
    (build / "_next" / "static").mkdir(parents=True)
    app = FastAPI()

    @app.get("/api/health")
    async def health() -> dict:
        return {"status": "ok"}

    mount_demo(app, build)
    client = TestClient(app)
    # not built yet: a page that says how to build it, or JSON for API clients
    r = client.get("/avatar_demo/", headers={"accept": "text/html"})
    assert r.status_code == 503 and "scripts/build_web.sh" in r.text and r.headers["retry-after"]
    r = client.get("/avatar_demo/", headers={"accept": "application/json"})
    assert r.status_code == 503 and r.json()["error"] == "demo_not_built"
    assert client.get("/api/health").status_code == 200
    # built while the gateway runs: served at once
    (build / "index.html").write_text("<!doctype html><title>demo</title>")
    (build / "_next" / "static" / "app.js").write_text("console.log(1)")
    r = client.get("/avatar_demo", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == "/avatar_demo/"
    r = client.get("/avatar_demo/")
    assert r.status_code == 200 and "<title>demo</title>" in r.text and r.headers["cache-control"] == "no-cache"
    r = client.get("/avatar_demo/_next/static/app.js")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    assert client.get("/avatar_demo/nope.js").status_code == 404
