"""The worker HTTP contract (v1), served by the CPU renderer. See docs/workers.md.

``GET /healthz`` process up; ``GET /readyz`` avatars prepared and warmed up; ``GET /v1/worker``
device, memory, queue, fps; ``GET /v1/avatars``; ``PUT``/``GET /v1/avatars/{id}``;
``POST /v1/avatars/{id}/render`` (multipart: ``audio`` file + ``params`` JSON) -> ``video/mp4``
or ``multipart/x-mixed-replace`` JPEG frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from render_worker.avatars import DEFAULT_AVATAR
from render_worker.avatars.spec import SpecError
from render_worker.config import CONTRACT, VERSION, WorkerSettings
from render_worker.drain import install_sigterm_drain
from render_worker.face import EMOTIONS, TrackError, parse_track
from render_worker.renderer import AudioError, DeadlineExceeded, RenderJob, load_audio, render_jpegs, render_mp4
from render_worker.store import AvatarStore

log = logging.getLogger("render_worker")
BOUNDARY = "frame"
EWMA = 0.3
#: How often an idle worker measured below its target frame rate measures again.
REMEASURE_S = 5.0
REMEASURE_MAX_S = 60.0


def error(status: int, code: str, message: str, headers: dict | None = None, **extra) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=headers)


class WorkerState:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.worker_id = settings.resolved_id()
        self.store = AvatarStore(settings.size)
        self.slots = asyncio.Semaphore(settings.slots)
        self.started = time.time()
        self.ready = False
        self.reason = "preparing avatars"
        self.draining = False  #: SIGTERM came: no new renders, readiness 503, the ones in flight finish
        self.requests = 0  #: render requests being handled (the drain waits for them, and for streams of frames)
        self.active = 0
        self.waiting = 0
        self.fps: float | None = None
        self.queue_wait_ms = 0.0
        self.renders = 0
        self.failures = 0

    def idle(self) -> bool:
        return not self.requests and not self.active and not self.waiting

    def record(self, frames: int, seconds: float) -> None:
        if seconds > 0:
            fps = frames / seconds
            self.fps = fps if self.fps is None else (1 - EWMA) * self.fps + EWMA * fps

    def info(self) -> dict:
        return {
            "worker_id": self.worker_id, "version": VERSION, "contract": CONTRACT, "device": "cpu",
            "device_name": _cpu_name(), "memory": _memory(), "slots": self.settings.slots, "active": self.active,
            "queue_depth": self.waiting, "queue_max": self.settings.queue_max,
            "queue_wait_ms": round(self.queue_wait_ms, 1), "fps": round(self.fps, 1) if self.fps else None,
            "fps_target": self.settings.fps,
            "realtime_factor": round(self.fps / self.settings.fps, 2) if self.fps else None,
            "avatars_ready": self.store.ready_ids(), "avatars": self.store.ids(), "default_avatar": DEFAULT_AVATAR,
            "outputs": ["mp4", "frames"],
            "emotions": sorted(EMOTIONS), "ready": self.ready, "renders": self.renders, "failures": self.failures,
            "preparations": self.store.preparations, "uptime_s": round(time.time() - self.started, 1),
            "draining": self.draining,
        }


def _proc_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.readlines()
    except OSError:
        return []


def _cpu_name() -> str:
    for line in _proc_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "cpu"


def _memory() -> dict:
    out: dict = {"rss_mb": None, "total_mb": None}
    with contextlib.suppress(ValueError, IndexError):
        for line in _proc_lines("/proc/self/status"):
            if line.startswith("VmRSS:"):
                out["rss_mb"] = round(int(line.split()[1]) / 1024, 1)
        for line in _proc_lines("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                out["total_mb"] = round(int(line.split()[1]) / 1024)
    return out


async def _start(state: WorkerState) -> AsyncIterator[None]:
    s = state.settings
    tasks: list[asyncio.Task] = []

    async def measure() -> None:
        """One short render of silence: the real frame rate, before the first request and while idle."""
        entry = state.store.get(min(state.store.ready_ids()))
        job = RenderJob(np.zeros(16000, dtype=np.int16), 16000, [], fps=s.fps,
                        frame_delay_s=s.test_frame_delay_ms / 1000)
        started = time.perf_counter()
        await asyncio.to_thread(render_mp4, entry.prepared, job, threads=s.threads, crf=s.crf, preset=s.preset)
        state.record(job.frames, time.perf_counter() - started)

    async def remeasure() -> None:
        """A measurement below the target frame rate (a busy CPU while the gateway loaded its models, or a run of
        very short lines) is taken again while the worker is idle, so a pool that left it out of rotation for
        being slow sees it recover without sending it work. While it stays slow, the pauses double (up to a
        minute): a CPU that is really too busy is not made busier."""
        pause = REMEASURE_S
        while True:
            await asyncio.sleep(pause)
            if state.fps is None or state.fps >= s.fps:
                pause = REMEASURE_S
                continue
            if state.active or state.waiting or state.slots.locked():
                continue
            async with state.slots:
                await measure()
            pause = REMEASURE_S if state.fps >= s.fps else min(REMEASURE_MAX_S, pause * 2)

    async def boot() -> None:
        await state.store.prepare_builtins()
        await measure()
        state.ready, state.reason = True, "ready"
        tasks.append(asyncio.create_task(remeasure()))
        if s.redis_url:
            from render_worker.registry import heartbeat

            info = {"worker_id": state.worker_id, "url": s.resolved_url(), "slots": s.slots, "device": "cpu",
                    "version": VERSION, "contract": CONTRACT}
            tasks.append(asyncio.create_task(heartbeat(s.redis_url, s.redis_prefix, info, s.heartbeat_ttl_s)))

    async def stop_tasks() -> None:
        for task in reversed(tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def begin_drain() -> None:
        """No new work: readiness 503, the Redis registration (heartbeat) and the idle re-measure stop."""
        state.draining, state.ready, state.reason = True, False, "draining"
        log.warning("draining: %d rendering, %d queued", state.active, state.waiting)
        asyncio.get_running_loop().create_task(stop_tasks())

    tasks.append(asyncio.create_task(boot()))
    uninstall = install_sigterm_drain(begin_drain, state.idle, s.drain_timeout_s)
    try:
        yield
    finally:
        uninstall()
        state.ready, state.reason = False, "shutting down"
        await stop_tasks()


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or WorkerSettings()
    state = WorkerState(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        async for _ in _start(state):
            yield

    app = FastAPI(title="Mouthpiece render worker", version=VERSION, lifespan=lifespan)
    app.state.worker = state

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok", "worker_id": state.worker_id}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        body = {"ready": state.ready, "reason": state.reason, "worker_id": state.worker_id}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    @app.get("/v1/worker")
    async def worker() -> dict:
        return state.info()

    @app.get("/v1/avatars")
    async def avatars() -> dict:
        return {"avatars": [state.store.entries[k].describe() for k in state.store.ids()]}

    def unknown(avatar_id: str) -> JSONResponse:
        valid = state.store.ids()
        return error(404, "unknown_avatar", f"unknown avatar {avatar_id!r}; valid: {', '.join(valid)}", valid=valid)

    @app.get("/v1/avatars/{avatar_id}")
    async def get_avatar(avatar_id: str) -> JSONResponse:
        entry = state.store.get(avatar_id)
        return unknown(avatar_id) if entry is None else JSONResponse(entry.describe())

    @app.put("/v1/avatars/{avatar_id}")
    async def put_avatar(avatar_id: str, request: Request) -> JSONResponse:
        ctype = request.headers.get("content-type", "")
        raw = await request.body()
        if raw and not ctype.startswith("application/json"):
            return error(415, "unsupported_media_type", "this worker draws vector avatars: send application/json "
                         "{base, size, palette, geometry} (a video/image upload is for GPU workers)")
        try:
            body = json.loads(raw) if raw else {}
            entry, started = state.store.put(avatar_id, body)
        except json.JSONDecodeError:
            return error(400, "bad_json", "body is not valid JSON")
        except SpecError as exc:
            return error(422, "bad_avatar_spec", exc.message, valid_bases=sorted(state.store.bases()))
        status = 202 if entry.state == "preparing" else 200
        return JSONResponse({**entry.describe(), "changed": started}, status_code=status)

    @app.post("/v1/avatars/{avatar_id}/render")
    async def render(avatar_id: str, request: Request) -> Response:
        if state.draining:
            return error(503, "draining", "this worker is shutting down: send the render to another worker",
                         {"Retry-After": "1"})
        state.requests += 1  # from here on the drain waits for it (body upload, queue, render)
        try:
            return await _render(avatar_id, request)
        finally:
            state.requests -= 1

    async def _render(avatar_id: str, request: Request) -> Response:
        entry = state.store.get(avatar_id)
        if entry is None:
            return unknown(avatar_id)
        if entry.state != "ready" or entry.prepared is None:
            return error(409, "avatar_not_ready", f"avatar {avatar_id!r} is {entry.state}", {"Retry-After": "1"},
                         state=entry.state, detail=entry.error)
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_upload_bytes:
            return error(413, "too_large", f"request larger than {settings.max_upload_bytes} bytes")
        parsed = await _read_request(request)
        if isinstance(parsed, Response):
            return parsed
        audio, params = parsed
        try:
            track = parse_track(params.get("visemes"))
        except TrackError as exc:
            return error(422, "bad_visemes", exc.message)
        fps = params.get("fps", settings.fps)
        if not isinstance(fps, int) or isinstance(fps, bool) or not 1 <= fps <= 60:
            return error(422, "bad_params", "fps must be an integer within 1..60")
        output = params.get("output", "mp4")
        if output not in ("mp4", "frames"):
            return error(422, "bad_params", "output must be 'mp4' or 'frames'")
        emotion = params.get("emotion")
        if emotion is not None and not isinstance(emotion, str):
            return error(422, "bad_params", "emotion must be a string")
        deadline_ms = params.get("deadline_ms")
        if deadline_ms is not None and (not isinstance(deadline_ms, (int, float)) or deadline_ms <= 0):
            return error(422, "bad_params", "deadline_ms must be a positive number")
        request_id = str(params.get("request_id") or "")[:64]
        try:
            samples, rate = await asyncio.to_thread(load_audio, audio, settings.max_audio_s)
        except AudioError as exc:
            return error(422, "bad_audio", f"bad audio: {exc.message}")
        arrived = time.monotonic()
        deadline = arrived + deadline_ms / 1000 if deadline_ms else None
        if state.waiting >= settings.queue_max and state.slots.locked():
            return error(503, "queue_full", "worker queue is full", {"Retry-After": "1"},
                         queue_depth=state.waiting)
        state.waiting += 1
        try:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            await asyncio.wait_for(state.slots.acquire(), remaining)
        except TimeoutError:
            return error(504, "deadline_exceeded", "deadline passed while queued")
        finally:
            state.waiting -= 1
        queue_ms = (time.monotonic() - arrived) * 1000
        state.queue_wait_ms = (1 - EWMA) * state.queue_wait_ms + EWMA * queue_ms
        job = RenderJob(samples, rate, track, emotion=emotion, fps=fps, seed=RenderJob.seed_for(request_id),
                        deadline=deadline, frame_delay_s=settings.test_frame_delay_ms / 1000)
        state.active += 1
        if output == "frames":
            return _stream_frames(state, entry.prepared, job, queue_ms)
        try:
            started = time.perf_counter()
            data = await _finish_in_thread(render_mp4, entry.prepared, job, threads=settings.threads,
                                           crf=settings.crf, preset=settings.preset)
            state.record(job.frames, time.perf_counter() - started)
            state.renders += 1
        except DeadlineExceeded:
            state.failures += 1
            return error(504, "deadline_exceeded", "deadline passed while rendering")
        finally:
            state.active -= 1
            state.slots.release()
        st = job.stats
        return Response(data, media_type="video/mp4", headers={
            "X-Worker-Id": state.worker_id, "X-Request-Id": request_id, "X-Contract-Version": CONTRACT,
            "X-Render-Ms": str(st["render_ms"]), "X-Queue-Ms": f"{queue_ms:.1f}", "X-Frames": str(st["frames"]),
            "X-Fps": str(job.fps), "X-Render-Fps": str(st["fps"]), "X-Audio-Ms": str(st["audio_ms"]),
            "X-Emotion": st.get("emotion", "neutral"), "X-Avatar-Revision": str(entry.revision)})

    return app


async def _finish_in_thread(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """Run ``fn`` in a thread; if the request is cancelled meanwhile, still wait for the thread, so
    the slot is released only when the CPU is actually free (the deadline bounds the wait)."""
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await task
        raise


async def _read_request(request: Request) -> tuple[bytes, dict] | Response:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return error(415, "unsupported_media_type",
                     "send multipart/form-data with an 'audio' file part and an optional 'params' JSON part")
    try:
        form = await request.form(max_files=2, max_fields=8, max_part_size=8 * 1024 * 1024)
    except Exception as exc:  # noqa: BLE001 - malformed multipart
        return error(400, "bad_multipart", f"could not read the multipart body ({type(exc).__name__})")
    part = form.get("audio")
    if part is None or isinstance(part, str):
        return error(422, "bad_audio", "missing audio: send it as a file part named 'audio'")
    audio = await part.read()
    raw = form.get("params")
    if raw is None:
        params: dict = {}
    else:
        if not isinstance(raw, str):
            raw = (await raw.read()).decode("utf-8", "replace")
        try:
            params = json.loads(raw)
        except json.JSONDecodeError:
            return error(422, "bad_params", "params is not valid JSON")
        if not isinstance(params, dict):
            return error(422, "bad_params", "params must be a JSON object")
    return audio, params


def _stream_frames(state: WorkerState, prepared, job: RenderJob, queue_ms: float) -> StreamingResponse:  # noqa: ANN001
    frames = render_jpegs(prepared, job)

    async def body() -> AsyncIterator[bytes]:
        started, count = time.perf_counter(), 0
        try:
            while True:
                try:
                    item = await asyncio.to_thread(next, frames, None)
                except DeadlineExceeded:
                    break
                if item is None:
                    break
                index, pts_ms, jpeg = item
                count += 1
                yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n"
                       f"X-Frame-Index: {index}\r\nX-Frame-Pts-Ms: {pts_ms}\r\n\r\n").encode() + jpeg + b"\r\n"
            yield f"--{BOUNDARY}--\r\n".encode()
        finally:
            state.record(count, time.perf_counter() - started)
            state.renders += 1
            state.active -= 1
            state.slots.release()

    return StreamingResponse(body(), media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}", headers={
        "X-Worker-Id": state.worker_id, "X-Frames": str(job.frames), "X-Fps": str(job.fps),
        "X-Queue-Ms": f"{queue_ms:.1f}", "X-Contract-Version": CONTRACT})
