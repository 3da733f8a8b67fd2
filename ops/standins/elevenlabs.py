"""ElevenLabs stand-in: the REST and WebSocket TTS API, spoken by the local Piper voice.

    python -m ops.standins.elevenlabs --port 8701 [--api-key KEY ...] [--character-limit 100000]

Implements, as the official SDK and our providers use them (``docs/standins.md``):

* ``POST /v1/text-to-speech/{voice_id}`` (+ ``/stream``, ``/with-timestamps``,
  ``/stream/with-timestamps``) with ``output_format`` (``mp3_*``, ``pcm_*``, ``wav_*``,
  ``ulaw_8000``, ``alaw_8000``, ``opus_48000_*`` when PyAV has libopus), the JSON body
  (``text`` required; ``model_id``, ``voice_settings``, ``previous_text``, ``next_text``, ...),
  ``xi-api-key`` auth and the vendor's error bodies;
* ``GET /v1/voices``, ``GET /v1/voices/{id}``, ``GET /v1/user/subscription`` (characters used are
  counted), ``GET /v1/models``;
* ``WS /v1/text-to-speech/{voice_id}/stream-input`` and ``/multi-stream-input``: initial ``" "``
  message (key in the handshake header or the first message), ``chunk_length_schedule``
  buffering, ``try_trigger_generation``, ``flush``, keep-alive, ``{"text": ""}`` to end,
  ``inactivity_timeout`` (close 1008 ``input_timeout_exceeded``), per-chunk alignment in ms
  relative to the chunk, ``{"isFinal": true}``; contexts (``context_id``, ``close_context``,
  ``close_socket``; more than 5 open contexts close the socket 1008).

Speech is real: Piper synthesizes each sentence, every input character gets a start/end time
from Piper's word timings (see :mod:`ops.standins.speech`). Faults are set through
``/__control/faults``; account state through ``/__control/account``; recent requests (never
keys) are listed at ``/__control/requests``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ops.standins.audio import AudioFormat, StreamEncoder, encode_whole
from ops.standins.control import account_router, answered
from ops.standins.faults import Disconnect, Faults, Pace
from ops.standins.server import StandinState, api_keys, base_arg_parser, serve, standin_app
from ops.standins.speech import Chunk, LocalSpeech, SpokenPiece
from ops.standins.streaming import DroppableStreamingResponse, encoded_chunks, paced_chunks

DEFAULT_PORT = 8701
DEFAULT_FORMAT = "mp3_44100_128"
DEFAULT_MODEL = "eleven_multilingual_v2"
DEFAULT_SCHEDULE = [120, 160, 250, 290]
MAX_CONTEXTS = 5
#: Characters per request by model family (models.mdx); others get 10,000.
MODEL_CHAR_LIMITS = {"eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000, "eleven_flash_v2": 30000,
                     "eleven_turbo_v2": 30000, "eleven_multilingual_v2": 10000, "eleven_v3": 3000}
MODELS = ["eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_flash_v2", "eleven_turbo_v2",
          "eleven_v3", "eleven_monolingual_v1"]


def max_chars(model: str) -> int:
    """Characters one request may have with ``model``."""
    return MODEL_CHAR_LIMITS.get(model, 10000)


#: Stand-in voices (real premade voice ids). All speak with the local Piper voice at their own pace.
VOICES: list[dict[str, Any]] = [
    {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "speed": 1.0,
     "labels": {"accent": "american", "description": "calm", "age": "young", "gender": "female",
                "use_case": "narration"}},
    {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "speed": 0.95,
     "labels": {"accent": "american", "description": "deep", "age": "middle_aged", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "JBFqnCBsd6RMkjVDRZzb", "name": "George", "speed": 1.05,
     "labels": {"accent": "british", "description": "warm", "age": "middle_aged", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "EXAVITQu4vr4xnSDxMaL", "name": "Sarah", "speed": 1.0,
     "labels": {"accent": "american", "description": "soft", "age": "young", "gender": "female",
                "use_case": "news"}},
    {"voice_id": "TxGEqnHWrfWFTfGW9XjX", "name": "Josh", "speed": 1.05,
     "labels": {"accent": "american", "description": "deep", "age": "young", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "XB0fDUnXU5powFXDhCwa", "name": "Charlotte", "speed": 0.95,
     "labels": {"accent": "swedish", "description": "seductive", "age": "young", "gender": "female",
                "use_case": "characters"}},
    {"voice_id": "onwK4e9ZLuTAKqWW03F9", "name": "Daniel", "speed": 1.0,
     "labels": {"accent": "british", "description": "deep", "age": "middle_aged", "gender": "male",
                "use_case": "news presenter"}},
    {"voice_id": "ThT5KcBeYPX3keUQqHPh", "name": "Dorothy", "speed": 0.9,
     "labels": {"accent": "british", "description": "pleasant", "age": "young", "gender": "female",
                "use_case": "children's stories"}},
]
VOICE_BY_ID = {v["voice_id"]: v for v in VOICES}


# -- errors ------------------------------------------------------------------------------------------

#: Fault/error name -> (HTTP status, WebSocket close code, message).
ERRORS: dict[str, tuple[int, int, str]] = {
    "invalid_api_key": (401, 1008, "Invalid API key"),
    "quota_exceeded": (401, 1008, "This request exceeds your quota of {limit}. You have {remaining} credits "
                                  "remaining, while {required} credits are required for this request."),
    "too_many_concurrent_requests": (429, 1013, "Too many concurrent requests. Your current subscription is "
                                                "associated with a maximum of {concurrency} concurrent requests "
                                                "running in parallel. Please try again later."),
    "system_busy": (429, 1013, "We are currently experiencing heavy traffic. Please try again later or "
                               "upgrade your subscription for higher priority."),
    "max_character_limit_exceeded": (400, 1008, "You are sending {required} characters in a single request, "
                                                "which exceeds the maximum of {max_chars} characters for {model}."),
    "voice_not_found": (400, 1008, "A voice with the voice_id {voice_id} was not found."),
    "validation_error": (422, 1008, "Field required"),
    "internal_server_error": (500, 1011, "An internal server error occurred. Please try again."),
    "service_unavailable": (503, 1011, "The service is temporarily unavailable."),
}


def _message(name: str, **values: Any) -> str:
    template = ERRORS[name][2]
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template.split(".")[0] + "."


def error_response(name: str, retry_after_s: float | None = None, **values: Any) -> JSONResponse:
    status = ERRORS[name][0]
    if status == 422:
        body: dict = {"detail": [{"loc": values.get("loc", ["body", "text"]),
                                  "msg": values.get("msg", "Field required"), "type": values.get("type", "missing")}]}
    else:
        body = {"detail": {"status": name, "message": _message(name, **values)}}
    headers = {}
    if status == 429 and retry_after_s is not None:
        headers["retry-after"] = str(max(0, math.ceil(retry_after_s)))
    return JSONResponse(body, status_code=status, headers=headers)


def validation_error(loc: list, msg: str, type_: str) -> JSONResponse:
    return error_response("validation_error", loc=loc, msg=msg, type=type_)


class ElevenLabsFaults(Faults):
    #: WebSocket alignment spelling of the durations key (SDK types: charDurationsMs; docs: charsDurationsMs).
    ws_duration_key: Literal["charDurationsMs", "charsDurationsMs"] = "charDurationsMs"


@dataclass
class Account:
    keys: set[str] | None = None  #: None: any non-empty key is valid
    tier: str = "creator"
    character_limit: int = 100_000
    character_count: int = 0
    concurrency_limit: int = 5
    active: int = 0
    reset_unix: int = field(default_factory=lambda: int(time.time()) + 30 * 86400)

    def key_ok(self, key: str | None) -> bool:
        if not key:
            return False
        return key in self.keys if self.keys else True

    def to_dict(self) -> dict:
        return {"tier": self.tier, "character_limit": self.character_limit, "character_count": self.character_count,
                "concurrency_limit": self.concurrency_limit, "active": self.active}


class StandIn(StandinState):
    def __init__(self, keys: set[str] | None = None, character_limit: int = 100_000, concurrency_limit: int = 5,
                 speech: LocalSpeech | None = None) -> None:
        super().__init__(Account(keys=keys or None, character_limit=character_limit,
                                 concurrency_limit=concurrency_limit), ERRORS, ElevenLabsFaults, speech)

    @property
    def f(self) -> ElevenLabsFaults:
        return self.faults.faults  # type: ignore[return-value]

    def quota_error(self, required: int, target: str) -> dict | None:
        remaining = max(0, self.account.character_limit - self.account.character_count)
        exhausted = self.f.quota_exhausted and self.faults.hits(target)
        if exhausted or required > remaining:
            return {"limit": self.account.character_limit, "remaining": 0 if exhausted else remaining,
                    "required": required}
        return None

    def error_values(self, voice_id: str, required: int, model: str) -> dict:
        """What the error messages may name: quota, concurrency, the voice, the model's limit."""
        a = self.account
        return {"limit": a.character_limit, "remaining": max(0, a.character_limit - a.character_count),
                "required": required, "concurrency": a.concurrency_limit, "voice_id": voice_id,
                "max_chars": max_chars(model), "model": model}


# -- output formats ----------------------------------------------------------------------------------

def _formats() -> dict[str, AudioFormat]:
    from gateway.audio.formats import opus_available

    out: dict[str, AudioFormat] = {}
    for rate, kbps in ((22050, 32), (24000, 48), (44100, 32), (44100, 64), (44100, 96), (44100, 128), (44100, 192)):
        out[f"mp3_{rate}_{kbps}"] = AudioFormat(f"mp3_{rate}_{kbps}", "mp3", rate, kbps)
    for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000):
        out[f"pcm_{rate}"] = AudioFormat(f"pcm_{rate}", "pcm", rate)
        out[f"wav_{rate}"] = AudioFormat(f"wav_{rate}", "wav", rate)
    out["ulaw_8000"] = AudioFormat("ulaw_8000", "ulaw", 8000)
    out["alaw_8000"] = AudioFormat("alaw_8000", "alaw", 8000)
    if opus_available():
        for kbps in (32, 64, 96, 128, 192):
            out[f"opus_48000_{kbps}"] = AudioFormat(f"opus_48000_{kbps}", "opus", 48000, kbps)
    return out


FORMATS = _formats()


# -- app ---------------------------------------------------------------------------------------------

#: What ``POST /__control/account`` may set.
ACCOUNT_FIELDS = {"tier": str, "character_limit": int, "character_count": int, "concurrency_limit": int}
#: ``/v1/text-to-speech/{voice_id}`` + suffix: (stream, timestamps).
REST_ROUTES = [("", False, False), ("/stream", True, False), ("/with-timestamps", False, True),
               ("/stream/with-timestamps", True, True)]
#: WebSocket ``/v1/text-to-speech/{voice_id}/`` + suffix: multi (contexts).
WS_ROUTES = [("stream-input", False), ("multi-stream-input", True)]


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()
    app = standin_app("ElevenLabs stand-in", si, DEFAULT_PORT)
    app.include_router(account_router(si, ACCOUNT_FIELDS, f"fields: {sorted(ACCOUNT_FIELDS)}"))

    # -- metadata ---------------------------------------------------------------------------------

    async def meta_guard(request: Request) -> Response | None:
        if not si.account.key_ok(request.headers.get("xi-api-key")):
            return error_response("invalid_api_key")
        error = await si.faults.meta_error()
        if error:
            return error_response(error, si.f.retry_after_s, **si.error_values("", 0, DEFAULT_MODEL))
        return None

    @app.get("/v1/voices")
    async def list_voices(request: Request) -> Response:
        si.requests.add(endpoint="voices", method="GET")
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse({"voices": [voice_json(v) for v in VOICES]})

    @app.get("/v1/voices/{voice_id}")
    async def get_voice(voice_id: str, request: Request) -> Response:
        if (denied := await meta_guard(request)) is not None:
            return denied
        voice = VOICE_BY_ID.get(voice_id)
        if voice is None:
            return JSONResponse({"detail": {"status": "voice_not_found", "message": _message(
                "voice_not_found", voice_id=voice_id)}}, status_code=404)
        return JSONResponse(voice_json(voice))

    @app.get("/v1/models")
    async def list_models(request: Request) -> Response:
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse([{"model_id": m, "name": m, "can_do_text_to_speech": True,
                              "max_characters_request_subscribed_user": max_chars(m)}
                             for m in MODELS])

    @app.get("/v1/user/subscription")
    async def subscription(request: Request) -> Response:
        si.requests.add(endpoint="subscription", method="GET")
        if (denied := await meta_guard(request)) is not None:
            return denied
        return JSONResponse(_subscription_json(si))

    # -- REST text-to-speech and WebSocket --------------------------------------------------------

    def rest_endpoint(stream: bool, timestamps: bool):  # noqa: ANN202
        async def endpoint(voice_id: str, request: Request) -> Response:
            return await rest(si, request, voice_id, stream=stream, timestamps=timestamps)
        return endpoint

    def ws_endpoint(multi: bool):  # noqa: ANN202
        async def endpoint(websocket: WebSocket, voice_id: str) -> None:
            await stream_input(si, websocket, voice_id, multi=multi)
        return endpoint

    for suffix, stream, timestamps in REST_ROUTES:
        app.post(f"/v1/text-to-speech/{{voice_id}}{suffix}")(rest_endpoint(stream, timestamps))
    for suffix, multi in WS_ROUTES:
        app.websocket(f"/v1/text-to-speech/{{voice_id}}/{suffix}")(ws_endpoint(multi))

    return app


def _subscription_json(si: StandIn) -> dict:
    a = si.account
    count = a.character_limit if si.f.quota_exhausted else a.character_count
    return {
        "tier": a.tier, "character_count": count, "character_limit": a.character_limit,
        "max_character_limit_extension": None, "max_credit_limit_extension": 0,
        "can_extend_character_limit": False, "allowed_to_extend_character_limit": False,
        "next_character_count_reset_unix": a.reset_unix, "voice_slots_used": 0,
        "professional_voice_slots_used": 0, "professional_voice_slots_used_in_workspace": 0, "voice_limit": 30,
        "max_voice_add_edits": 95, "voice_add_edit_counter": 0, "professional_voice_limit": 1,
        "can_extend_voice_limit": False, "can_use_instant_voice_cloning": True,
        "can_use_professional_voice_cloning": True, "currency": "usd",
        "current_overage": {"amount": "0", "currency": "usd"}, "status": "active",
        "billing_period": "monthly_period", "character_refresh_period": "monthly_period",
    }


def voice_json(v: dict) -> dict:
    return {"voice_id": v["voice_id"], "name": v["name"], "samples": None, "category": "premade",
            "fine_tuning": None, "labels": dict(v["labels"]),
            "description": f"{v['name']} (stand-in; spoken by the local Piper voice)", "preview_url": None,
            "available_for_tiers": [], "settings": None, "sharing": None,
            "high_quality_base_model_ids": ["eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2"],
            "verified_languages": [{"language": "en", "model_id": "eleven_flash_v2_5",
                                    "accent": v["labels"]["accent"], "locale": "en-US", "preview_url": None}],
            "is_owner": False, "is_legacy": False, "is_mixed": False}


def voice_speed(voice: dict, settings: dict | None) -> float:
    speed = float((settings or {}).get("speed") or 1.0)
    return voice["speed"] * speed


_SETTING_RANGES = {"stability": (0.0, 1.0), "similarity_boost": (0.0, 1.0), "style": (0.0, 1.0),
                   "speed": (0.7, 1.2), "clone_strength": (0.0, 1.0)}


def check_voice_settings(vs: Any, loc_prefix: list) -> JSONResponse | None:
    if vs is None:
        return None
    if not isinstance(vs, dict):
        return validation_error(loc_prefix, "Input should be a valid dictionary", "dict_type")
    for key, (lo, hi) in _SETTING_RANGES.items():
        value = vs.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return validation_error(loc_prefix + [key], "Input should be a valid number", "float_type")
        if not lo <= value <= hi:
            return validation_error(loc_prefix + [key], f"Input should be between {lo} and {hi}",
                                    "less_than_equal" if value > hi else "greater_than_equal")
    return None


# -- REST --------------------------------------------------------------------------------------------

@dataclass
class _Job:
    text: str
    voice: dict
    fmt: AudioFormat
    speed: float
    headers: dict


async def rest(si: StandIn, request: Request, voice_id: str, *, stream: bool, timestamps: bool) -> Response:
    endpoint = ("stream" if stream else "convert") + ("_with_timestamps" if timestamps else "")
    job = await _prepare(si, request, voice_id, endpoint)
    if isinstance(job, Response):
        return job
    if stream:
        body = _stream_body(si, job, timestamps)
        media = "application/x-ndjson" if timestamps else job.fmt.media_type
    else:
        body = _whole_body(si, job, timestamps)
        media = "application/json" if timestamps else job.fmt.media_type
    return DroppableStreamingResponse(body, media, job.headers,  # type: ignore[return-value]
                                      on_close=si.slot_releaser())


async def _prepare(si: StandIn, request: Request, voice_id: str, endpoint: str) -> _Job | Response:
    record = si.record_request(si.account.key_ok(request.headers.get("xi-api-key")), endpoint=endpoint,
                               method="POST", voice_id=voice_id, query=dict(request.query_params))
    done = partial(answered, record)
    try:
        raw = await request.body()
    except ClientDisconnect:
        return done(Response(status_code=499))
    if not record["key_ok"]:
        return done(error_response("invalid_api_key"))
    if await si.faults.hang_on_connect("rest") and await request.is_disconnected():
        return done(Response(status_code=499))
    fmt_name = request.query_params.get("output_format", DEFAULT_FORMAT)
    fmt = FORMATS.get(fmt_name)
    if fmt is None:
        return done(validation_error(["query", "output_format"], f"Input should be one of {sorted(FORMATS)}", "enum"))
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return done(validation_error(["body"], "JSON decode error", "json_invalid"))
    if not isinstance(body, dict):
        return done(validation_error(["body"], "Input should be a valid dictionary", "dict_type"))
    record.update({k: body.get(k) for k in ("text", "model_id", "voice_settings", "previous_text", "next_text",
                                             "language_code", "seed", "previous_request_ids", "next_request_ids",
                                             "apply_text_normalization")})
    text = body.get("text")
    if "text" not in body:
        return done(validation_error(["body", "text"], "Field required", "missing"))
    if not isinstance(text, str):
        return done(validation_error(["body", "text"], "Input should be a valid string", "string_type"))
    for opt in ("model_id", "previous_text", "next_text", "language_code"):
        if body.get(opt) is not None and not isinstance(body[opt], str):
            return done(validation_error(["body", opt], "Input should be a valid string", "string_type"))
    if (bad := check_voice_settings(body.get("voice_settings"), ["body", "voice_settings"])) is not None:
        return done(bad)
    model = body.get("model_id") or DEFAULT_MODEL
    error = si.faults.take_error("rest")
    if error:
        return done(error_response(error, si.f.retry_after_s, **si.error_values(voice_id, len(text), model)))
    voice = VOICE_BY_ID.get(voice_id)
    if voice is None:
        return done(error_response("voice_not_found", voice_id=voice_id))
    if not text.strip():
        return done(validation_error(["body", "text"], "Text must contain at least one character", "string_too_short"))
    limit = max_chars(model)
    if len(text) > limit:
        return done(error_response("max_character_limit_exceeded", required=len(text), max_chars=limit, model=model))
    if (quota := si.quota_error(len(text), "rest")) is not None:
        return done(error_response("quota_exceeded", **quota))
    if si.account.active >= si.account.concurrency_limit:
        return done(error_response("too_many_concurrent_requests", si.f.retry_after_s,
                                   concurrency=si.account.concurrency_limit))
    si.account.character_count += len(text)
    si.account.active += 1
    record["status"] = 200
    request_id = uuid.uuid4().hex
    headers = {"request-id": request_id, "x-character-count": str(len(text)), "character-cost": str(len(text)),
               "current-concurrent-requests": str(si.account.active),
               "maximum-concurrent-requests": str(si.account.concurrency_limit)}
    return _Job(text, voice, fmt, voice_speed(voice, body.get("voice_settings")), headers)


async def _stream_body(si: StandIn, job: _Job, timestamps: bool):
    pending: list = []
    async for chunk, data in encoded_chunks(si.speech, si.faults, job.text, job.speed, job.fmt):
        if not timestamps:
            if data:
                yield data
            continue
        if chunk is not None:
            pending.extend(chunk.chars)
        if data or (chunk is None and pending):
            yield _ndjson_line(data, pending)
            pending = []


def rest_alignment(chars: list, offset_ms: float = 0.0) -> dict:
    return {"characters": [c.char for c in chars],
            "character_start_times_seconds": [round((c.start_ms - offset_ms) / 1000, 3) for c in chars],
            "character_end_times_seconds": [round((c.end_ms - offset_ms) / 1000, 3) for c in chars]}


def _timestamped(audio: bytes, alignment: dict | None) -> str:
    return json.dumps({"audio_base64": base64.b64encode(audio).decode(), "alignment": alignment,
                       "normalized_alignment": alignment})


def _ndjson_line(audio: bytes, chars: list) -> bytes:
    return (_timestamped(audio, rest_alignment(chars) if chars else None) + "\n").encode()


async def _whole_body(si: StandIn, job: _Job, timestamps: bool):
    from gateway.audio.resample import resample_pcm

    faults = si.faults
    pieces: list[SpokenPiece] = [p async for p in si.speech.sentences(job.text, job.speed)]
    pcm = b"".join(resample_pcm(p.pcm, p.sample_rate, job.fmt.rate) for p in pieces)
    audio = encode_whole(pcm, job.fmt)
    if timestamps:
        payload = _timestamped(audio, rest_alignment([c for p in pieces for c in p.chars])).encode()
    else:
        payload = audio
    await faults.first_byte("rest")
    step = 8192
    total_ms = pieces[-1].end_ms if pieces else 1.0
    first_sentence_bytes = int(len(payload) * (pieces[0].end_ms / total_ms)) if pieces and total_ms else 0
    for n, offset in enumerate(range(0, len(payload), step)):
        faults.cut("rest", n, 1 if offset >= first_sentence_bytes else 0)
        if n:
            await faults.between_chunks("rest")
        yield payload[offset:offset + step]


# -- WebSocket ---------------------------------------------------------------------------------------

class Closed(Exception):
    """The connection is closing (error sent, fault, or the client left)."""


class Context:
    """One context of a connection (the only one on ``/stream-input``): its text buffer, cut into
    generations by the ``chunk_length_schedule`` (or sentence ends in ``auto_mode``, or a flush),
    spoken one after another by its worker with its own encoder."""

    def __init__(self, conn: WsConnection, context_id: str | None, speed: float, schedule: list[int]) -> None:
        self.conn = conn
        self.id = context_id
        self.speed = speed
        self.schedule = schedule
        self.generation = 0
        self.buffer = ""
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.encoder = StreamEncoder(conn.fmt)
        self.pending: list[tuple[Chunk, float]] = []
        self.task = asyncio.create_task(self._worker())
        self.ended = False

    def add_text(self, text: str, flush: bool, trigger: bool, auto_mode: bool) -> None:
        self.buffer += text
        if flush:
            self._cut(len(self.buffer))
            return
        if auto_mode:
            ends = [i + 1 for i, ch in enumerate(self.buffer) if ch in ".!?…" and
                    (i + 1 == len(self.buffer) or self.buffer[i + 1].isspace())]
            if ends:
                self._cut(ends[-1])
            return
        threshold = self.schedule[min(self.generation, len(self.schedule) - 1)]
        if trigger:
            threshold = min(threshold, 50)
        if len(self.buffer.strip()) >= threshold:
            cut = max(self.buffer.rfind(" "), self.buffer.rfind("\n"))
            if cut > 0:
                self._cut(cut + 1)

    def _cut(self, n: int) -> None:
        piece, self.buffer = self.buffer[:n], self.buffer[n:]
        if piece.strip():
            self.generation += 1
            self.queue.put_nowait(piece)

    def end(self, discard: bool = False) -> None:
        """No more text: generate the rest (unless discarded), then the final message."""
        if self.ended:
            return
        self.ended = True
        if discard:
            self.buffer = ""
        else:
            self._cut(len(self.buffer))
        self.queue.put_nowait(None)

    async def _worker(self) -> None:
        try:
            while True:
                piece = await self.queue.get()
                if piece is None:
                    tail = self.encoder.finish()
                    if tail or self.pending:
                        await self.conn.send_audio(self, tail)
                    await self.conn.send_final(self)
                    return
                await self.conn.generate(self, piece)
        except Closed:
            return
        except Exception:  # noqa: BLE001 - synthesis failed: tell the client like the vendor would
            await self.conn.fail("internal_server_error")


class WsConnection:
    """One ``/stream-input`` or ``/multi-stream-input`` connection: the first message (key, voice
    settings, schedule), then text into contexts, audio and alignment out, the final messages, close."""

    def __init__(self, si: StandIn, ws: WebSocket, voice: dict, fmt: AudioFormat, inactivity: float, multi: bool,
                 auto_mode: bool, header_key: str | None) -> None:
        self.si = si
        self.ws = ws
        self.voice = voice
        self.fmt = fmt
        self.inactivity = inactivity
        self.multi = multi
        self.auto_mode = auto_mode
        self.header_key = header_key
        self.contexts: dict[str | None, Context] = {}
        self.closing: list[Context] = []  #: closed with close_context, still finishing their audio
        self.send_lock = asyncio.Lock()
        self.closed = asyncio.Event()
        self.pace = Pace(si.faults, "ws")  #: chunks: audio messages sent, over all contexts
        self.initialized = False
        self.counted = False
        self.speed = voice["speed"]
        self.schedule = list(DEFAULT_SCHEDULE)
        self.duration_key = si.f.ws_duration_key

    # -- sending --

    async def _send(self, payload: dict) -> None:
        if self.closed.is_set():
            raise Closed
        async with self.send_lock:
            try:
                await self.ws.send_text(json.dumps(payload))
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.closed.set()
                raise Closed from None

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        reason_bytes = reason.encode()[:123]
        try:
            await self.ws.close(code, reason_bytes.decode("utf-8", "ignore"))
        except Exception:  # noqa: BLE001 - already gone
            pass

    async def fail(self, error: str, message: str | None = None, code: int | None = None, **values: Any) -> None:
        code = code or ERRORS.get(error, (0, 1008, ""))[1]
        message = message or _message(error, **values)
        try:
            await self._send({"message": message, "error": error, "code": code})
        except Closed:
            pass
        await self.close(code, message)

    async def send_audio(self, ctx: Context, audio: bytes) -> None:
        chars: list = []
        start = ctx.pending[0][1] if ctx.pending else 0.0
        for chunk, _ in ctx.pending:
            chars.extend(chunk.chars)
        ctx.pending = []
        alignment = None
        if chars:
            starts = [max(0, round(c.start_ms - start)) for c in chars]
            ends = [max(s, round(c.end_ms - start)) for c, s in zip(chars, starts)]
            alignment = {"chars": [c.char for c in chars], "charStartTimesMs": starts,
                         self.duration_key: [e - s for s, e in zip(starts, ends)]}
        await self._send_for(ctx, {"audio": base64.b64encode(audio).decode() if audio else None, "isFinal": None,
                                   "normalizedAlignment": alignment, "alignment": alignment})

    async def send_final(self, ctx: Context) -> None:
        await self._send_for(ctx, {"isFinal": True})

    async def _send_for(self, ctx: Context, message: dict[str, Any]) -> None:
        if self.multi:
            message["contextId"] = ctx.id
        await self._send(message)

    async def generate(self, ctx: Context, piece: str) -> None:
        if (quota := self.si.quota_error(len(piece), "ws")) is not None:
            await self.fail("quota_exceeded", **quota)
            raise Closed
        self.si.account.character_count += len(piece)
        try:
            async for chunk in paced_chunks(self.si.speech, self.pace, piece, ctx.speed, self.fmt.rate):
                data = ctx.encoder.feed(chunk.pcm)
                ctx.pending.append((chunk, chunk.start_ms))
                if data:
                    await self.send_audio(ctx, data)
                    self.pace.chunks += 1
        except Disconnect:
            await self.close(self.si.f.disconnect_close_code, "stand-in fault: disconnect")
            raise Closed from None

    # -- receiving --

    async def _receive(self) -> dict | None:
        """Next JSON message; None when the client left or the connection is closing."""
        recv = asyncio.ensure_future(self.ws.receive_text())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({recv, closed}, timeout=self.inactivity,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if recv not in done:
            recv.cancel()
            if self.closed.is_set():
                return None
            seconds = int(self.inactivity) if float(self.inactivity).is_integer() else self.inactivity
            await self.fail("input_timeout_exceeded", code=1008, message=(
                f"Have not received a new text input within the timeout of {seconds} seconds. Streaming input "
                "terminated. Please make sure to either feed the input in the timely manner, or to send the end "
                'of input text (empty string "") when done.'))
            return None
        try:
            raw = recv.result()
        except (WebSocketDisconnect, RuntimeError):
            self.closed.set()
            return None
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            await self.fail("invalid_message", code=1008, message="Invalid message: expected a JSON object.")
            return None
        return message

    def _auth_key(self, message: dict) -> str | None:
        for name in ("xi-api-key", "xi_api_key"):
            if message.get(name):
                return str(message[name])
        auth = message.get("authorization")
        if isinstance(auth, str) and auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return self.header_key

    async def _initialize(self, message: dict) -> bool:
        si = self.si
        si.faults.counters["requests"] += 1
        key = self._auth_key(message)
        record = si.requests.add(endpoint="ws_multi" if self.multi else "ws", voice_id=self.voice["voice_id"],
                                 query=dict(self.ws.query_params), key_ok=si.account.key_ok(key),
                                 voice_settings=message.get("voice_settings"),
                                 generation_config=message.get("generation_config"), texts=[])
        self.record = record
        if not si.account.key_ok(key):
            await self.fail("invalid_api_key")
            return False
        error = si.faults.take_error("ws")
        if error:
            await self.fail(error, **si.error_values(self.voice["voice_id"], 0, DEFAULT_MODEL))
            return False
        if si.account.active >= si.account.concurrency_limit:
            await self.fail("too_many_concurrent_requests", concurrency=si.account.concurrency_limit)
            return False
        vs = message.get("voice_settings")
        if (bad := check_voice_settings(vs, ["voice_settings"])) is not None:
            detail = json.loads(bad.body)["detail"][0]
            where = ".".join(map(str, detail["loc"]))
            await self.fail("invalid_request", code=1008, message=f"{where}: {detail['msg']}")
            return False
        self.speed = voice_speed(self.voice, vs)
        schedule = (message.get("generation_config") or {}).get("chunk_length_schedule")
        if schedule is not None:
            if not isinstance(schedule, list) or not schedule or not all(
                    isinstance(x, int) and not isinstance(x, bool) and 50 <= x <= 500 for x in schedule):
                await self.fail("invalid_request", code=1008,
                                message="chunk_length_schedule: every item must be between 50 and 500")
                return False
            self.schedule = schedule
        si.account.active += 1
        self.counted = True
        self.initialized = True
        return True

    def _context(self, context_id: str | None) -> Context | None:
        ctx = self.contexts.get(context_id)
        if ctx is None:
            ctx = Context(self, context_id, self.speed, self.schedule)
            self.contexts[context_id] = ctx
        return ctx

    async def run(self) -> None:
        try:
            while not self.closed.is_set():
                message = await self._receive()
                if message is None:
                    return
                if not self.initialized:
                    if not await self._initialize(message):
                        return
                    context_id = (message.get("context_id") or "default") if self.multi else None
                    if not await self._open_context(context_id):
                        return
                    text = message.get("text") or ""
                    if text.strip() or message.get("flush"):
                        self._text(self.contexts[context_id], message)
                    continue
                if self.multi:
                    if not await self._multi_message(message):
                        break
                elif not await self._single_message(message):
                    break
            # End of input: every context generates the rest, sends its final message; then close 1000.
            await self._drain()
            await self.close(1000)
        except Closed:
            return
        finally:
            for ctx in [*self.contexts.values(), *self.closing]:
                ctx.task.cancel()
            if self.counted:
                self.si.account.active -= 1

    async def _drain(self) -> None:
        tasks = [ctx.task for ctx in [*self.contexts.values(), *self.closing]]
        for ctx in self.contexts.values():
            ctx.end()
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            if tasks:
                await asyncio.wait([*tasks, closed], return_when=asyncio.FIRST_COMPLETED)
                while not self.closed.is_set() and not all(t.done() for t in tasks):
                    await asyncio.wait([*[t for t in tasks if not t.done()], closed],
                                       return_when=asyncio.FIRST_COMPLETED)
        finally:
            closed.cancel()
        if self.closed.is_set():
            raise Closed

    def _text(self, ctx: Context, message: dict) -> None:
        text = message.get("text")
        if isinstance(text, str):
            self.record["texts"].append(text)
        ctx.add_text(text if isinstance(text, str) else "", bool(message.get("flush")),
                     bool(message.get("try_trigger_generation")), self.auto_mode)

    async def _single_message(self, message: dict) -> bool:
        """False when the input ended (``{"text": ""}``)."""
        ctx = self._context(None)
        text = message.get("text")
        if text == "" and not message.get("flush"):
            return False
        if text is not None and not isinstance(text, str):
            await self.fail("invalid_request", code=1008, message="text: Input should be a valid string")
            raise Closed
        self._text(ctx, message)
        return True

    async def _open_context(self, context_id: str | None) -> bool:
        if context_id not in self.contexts and len(self.contexts) >= MAX_CONTEXTS:
            await self.fail("max_active_conversations", code=1008, message=(
                f"Maximum number of active contexts ({MAX_CONTEXTS}) exceeded for this connection. "
                "Close unused contexts with close_context."))
            return False
        self._context(context_id)
        return True

    async def _multi_message(self, message: dict) -> bool:
        """False when the socket should end (``close_socket``)."""
        if message.get("close_socket"):
            return False
        context_id = message.get("context_id") or "default"
        if message.get("close_context"):
            ctx = self.contexts.pop(context_id, None)
            if ctx is not None:
                ctx.end(discard=True)
                self.closing = [c for c in self.closing if not c.task.done()] + [ctx]
            return True
        text = message.get("text")
        if context_id not in self.contexts:
            if not await self._open_context(context_id):
                raise Closed
        ctx = self.contexts[context_id]
        if text == "" and not message.get("flush"):
            return True  # keep-alive for this context
        self._text(ctx, message)
        return True


async def stream_input(si: StandIn, websocket: WebSocket, voice_id: str, multi: bool) -> None:
    """Accept (or refuse) a stream-input connection and run it to its close."""
    query = websocket.query_params
    if await si.faults.hang_on_connect("ws"):
        return  # never accepted
    model = query.get("model_id") or DEFAULT_MODEL
    if multi and model.startswith("eleven_v3"):
        await websocket.close(1008)  # before accept: HTTP 403 at the handshake
        return
    await websocket.accept()
    try:
        inactivity = float(query.get("inactivity_timeout", 20))
    except ValueError:
        inactivity = -1
    conn_fail = None
    fmt = FORMATS.get(query.get("output_format") or DEFAULT_FORMAT)
    voice = VOICE_BY_ID.get(voice_id)
    if fmt is None:
        conn_fail = ("invalid_request", f"output_format: must be one of {', '.join(sorted(FORMATS))}")
    elif not 1 <= inactivity <= 180:
        conn_fail = ("invalid_request", "inactivity_timeout: must be between 1 and 180 seconds")
    elif voice is None:
        conn_fail = ("voice_not_found", _message("voice_not_found", voice_id=voice_id))
    conn = WsConnection(si, websocket, voice or VOICES[0], fmt or FORMATS[DEFAULT_FORMAT], max(1.0, inactivity),
                        multi, query.get("auto_mode", "false").lower() == "true", websocket.headers.get("xi-api-key"))
    if conn_fail is not None:
        await conn.fail(conn_fail[0], conn_fail[1], code=1008)
        return
    await conn.run()
    if websocket.client_state == WebSocketState.CONNECTED and not conn.closed.is_set():
        await conn.close(1000)


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("ops.standins.elevenlabs",
                             "ElevenLabs stand-in (REST + WebSocket TTS spoken by local Piper)", DEFAULT_PORT,
                             "accepted xi-api-key (repeatable; env STANDIN_ELEVENLABS_API_KEYS, comma-separated); "
                             "none configured: any non-empty key is accepted")
    parser.add_argument("--character-limit", type=int, default=100_000, help="subscription character limit")
    parser.add_argument("--concurrency", type=int, default=5, help="concurrent requests before 429 (Creator: 5)")
    args = parser.parse_args(argv)
    app = create_app(StandIn(keys=api_keys(args.api_key, "STANDIN_ELEVENLABS_API_KEYS"),
                             character_limit=args.character_limit, concurrency_limit=args.concurrency))
    serve(app, args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
