"""Fish Audio stand-in: the HTTP and live WebSocket TTS API, spoken by the local Piper voice.

    python -m ops.standins.fish --port 8702 [--api-key KEY ...] [--credit 10] [--concurrency 5]

Implements, as the official SDKs (``fish_audio_sdk`` legacy and ``fishaudio``, both in
fish-audio-sdk 1.3.0) and our provider use them (``docs/standins.md``):

* ``POST /v1/tts``: ``Authorization: Bearer <key>``, ``model`` header (any value; recorded),
  body as msgpack (``application/msgpack``, explicit nils accepted) or JSON; the TTSRequest
  fields (``text``, ``chunk_length`` 100..300, ``format`` wav|pcm|mp3|opus, ``sample_rate``
  (nil: 44100, opus 48000), ``mp3_bitrate``, ``opus_bitrate``, ``references``, ``reference_id``,
  ``normalize``, ``latency``, ``prosody {speed, volume}``, ``top_p``, ``temperature``, and the
  newer ``max_new_tokens`` ... ``early_stop_threshold``). Answer: 200 with raw audio bytes,
  ``Transfer-Encoding: chunked``, no framing, no timestamps;
* errors as ``{"status": <int>, "message": <str>}`` (exactly those two keys: the legacy SDK does
  ``HttpCodeErr(**resp.json())``), except 422 which is an array of ``{loc, type, msg, ctx, in}``;
  429 carries no ``Retry-After``; 402 when credit runs out;
* ``GET /wallet/self/api-credit``, ``GET /wallet/self/package``, ``GET /model`` (paginated),
  ``GET /model/{id}``;
* ``WS /v1/tts/live``: binary msgpack frames; client ``start`` (request with ``text: ""``),
  ``text``*, ``flush``, ``stop``; server ``{"event": "audio", "audio": <bin>}``* then one
  ``{"event": "finish", "reason": "stop"|"error"}`` and close. Buffered text is spoken at
  ``flush``, at ``stop``, and whenever ``chunk_length`` characters ending a sentence are waiting.
  A bad key is refused at the handshake (HTTP 401, same body as HTTP).

Faults come from the shared model in :mod:`ops.standins.faults` (``/__control/faults``): error
names are the keys of :data:`~.errors.ERRORS`; ``stream_error`` on the WebSocket is a
``finish``/``error`` after ``start``. Account state: ``/__control/account`` (``credit``,
``package_balance``, ``concurrency_limit``); recent requests (never keys): ``/__control/requests``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import ormsgpack
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.websockets import WebSocketDisconnect, WebSocketState

from ops.standins.audio import AudioFormat, StreamEncoder
from ops.standins.control import account_router, answered
from ops.standins.faults import Disconnect, Pace
from ops.standins.server import StandinState, api_keys, base_arg_parser, serve, standin_app
from ops.standins.speech import LocalSpeech
from ops.standins.streaming import DroppableStreamingResponse, encoded_chunks, paced_chunks

DEFAULT_PORT = 8702
#: The service's default model; the ``model`` header is only recorded (any value is served).
DEFAULT_MODEL = "s2-pro"

#: Stand-in voices (reference ids of config/characters.yaml); all speak with Piper at their own pace.
VOICES: list[dict[str, Any]] = [
    {"_id": "7f92f8afb8ec43bf81429cc1c9199cb1", "title": "Narrator", "speed": 1.0, "tags": ["male", "calm"]},
    {"_id": "54a5170264694bfc8e9ad98df7bd89c3", "title": "Blacksmith", "speed": 0.95, "tags": ["male", "gruff"]},
    {"_id": "8ef4a238714b45718ce04243307c57a7", "title": "Innkeeper", "speed": 1.05, "tags": ["female", "cheerful"]},
    {"_id": "802e3bc2b27e49c2995d23ef70e6ac89", "title": "Rogue", "speed": 1.1, "tags": ["male", "whisper"]},
    {"_id": "e58b0d7efca34eb38d5c4985e378abcb", "title": "Queen", "speed": 0.95, "tags": ["female", "regal"]},
    {"_id": "728f6ff2240d49308e8137ffe66008e2", "title": "Guard", "speed": 1.0, "tags": ["male", "bored"]},
    {"_id": "0eb38bc974e1459facca38b359e13511", "title": "Oracle", "speed": 0.9, "tags": ["female", "ancient"]},
]
VOICE_BY_ID = {v["_id"]: v for v in VOICES}

#: Fish's price, USD per million UTF-8 bytes of text (the credit is in USD).
PRICE_PER_MILLION_BYTES = Decimal("15")
FORMATS = ("wav", "pcm", "mp3", "opus")
PCM_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


#: Fault/error name -> (HTTP status, message). Bodies are ``{"status", "message"}`` (422: an array).
ERRORS: dict[str, tuple[int, str]] = {
    "invalid_token": (401, "Invalid Token"),
    "insufficient_credits": (402, "Insufficient API credit balance"),
    "forbidden": (403, "Forbidden"),
    "reference_not_found": (400, "Reference model not found"),
    "bad_request": (400, "Bad Request"),
    "not_found": (404, "Not Found"),
    "validation_error": (422, "Field required"),
    "rate_limited": (429, "Too many requests, please slow down"),
    "internal_error": (500, "Internal Server Error"),
    "bad_gateway": (502, "Bad Gateway"),
    "service_unavailable": (503, "Service Unavailable"),
    "stream_error": (500, "Internal Server Error"),
}


def error_response(name: str, message: str | None = None, **values: Any) -> JSONResponse:
    status, default = ERRORS[name]
    if status == 422:
        body: Any = [{"loc": values.get("loc", ["body", "text"]), "type": values.get("type", "missing"),
                      "msg": message or default, "ctx": values.get("ctx", {}), "in": "body"}]
    else:
        body = {"status": status, "message": message or default}
    return JSONResponse(body, status_code=status)


def validation_error(field_name: str, msg: str, type_: str = "value_error", **ctx: Any) -> JSONResponse:
    return error_response("validation_error", msg, loc=["body", field_name], type=type_, ctx=ctx)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Account:
    keys: set[str] | None = None  #: None: any non-empty bearer token is valid
    credit: Decimal = Decimal("10")
    package_total: int = 1_000_000
    package_balance: int = 1_000_000
    concurrency_limit: int = 5
    active: int = 0
    user_id: str = "standin-user"
    created_at: str = field(default_factory=now)
    #: When the package ends (the legacy SDK requires a string here; the new one allows null).
    finished_at: str = "2099-12-31T00:00:00.000Z"

    def key_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Bearer "):
            return False
        key = authorization[len("Bearer "):].strip()
        if not key:
            return False
        return key in self.keys if self.keys else True

    def cost(self, text: str) -> Decimal:
        return PRICE_PER_MILLION_BYTES * len(text.encode("utf-8")) / Decimal(1_000_000)

    def to_dict(self) -> dict:
        return {"credit": str(self.credit), "package_total": self.package_total,
                "package_balance": self.package_balance, "concurrency_limit": self.concurrency_limit,
                "active": self.active}


class StandIn(StandinState):
    def __init__(self, keys: set[str] | None = None, credit: Decimal | float | str = Decimal("10"),
                 concurrency_limit: int = 5, speech: LocalSpeech | None = None) -> None:
        super().__init__(Account(keys=keys or None, credit=Decimal(str(credit)), concurrency_limit=concurrency_limit),
                         ERRORS, speech=speech)

    def voice_speed(self, reference_id: str | None) -> float:
        voice = VOICE_BY_ID.get(reference_id or "")
        return float(voice["speed"]) if voice else 1.0

    def job_speed(self, job: TTSJob) -> float:
        """The speech rate: the request's prosody at the voice's own pace."""
        return max(0.25, min(4.0, job.speed * self.voice_speed(job.reference_id)))

    def admit(self, job: TTSJob, target: str) -> JSONResponse | None:
        """Voice, quota and concurrency checks; charges the text on success."""
        if job.reference_id is not None and job.reference_id not in VOICE_BY_ID:
            return error_response("reference_not_found")
        if (self.f.quota_exhausted and self.faults.hits(target)) or self.account.credit <= 0:
            return error_response("insufficient_credits")
        if self.account.active >= self.account.concurrency_limit:
            return error_response("rate_limited")
        self.account.credit -= self.account.cost(job.text)
        self.account.package_balance = max(0, self.account.package_balance - len(job.text.encode("utf-8")))
        return None


@dataclass
class TTSJob:
    text: str
    fmt: str
    rate: int
    bitrate: int | None
    speed: float
    reference_id: str | None
    fields: dict

    @property
    def audio_format(self) -> AudioFormat:
        return AudioFormat(self.fmt, self.fmt, self.rate, self.bitrate)


_NUMBER = (int, float)


def parse_tts_request(body: Any, *, live: bool = False) -> TTSJob | JSONResponse:
    """Validate a TTSRequest dict (nils allowed where the SDKs send them)."""
    if not isinstance(body, dict):
        return validation_error("body", "Input should be a valid dictionary", "dict_type")
    text = body.get("text")
    if "text" not in body or text is None:
        if not live:
            return validation_error("text", "Field required", "missing")
        text = ""
    if not isinstance(text, str):
        return validation_error("text", "Input should be a valid string", "string_type")
    chunk_length = body.get("chunk_length", 200)
    if chunk_length is not None and (not isinstance(chunk_length, int) or isinstance(chunk_length, bool)
                                     or not 100 <= chunk_length <= 300):
        return validation_error("chunk_length", "Input should be an integer between 100 and 300", "int_range",
                                ge=100, le=300)
    fmt = body.get("format") or "mp3"
    if fmt not in FORMATS:
        return validation_error("format", f"Input should be one of {', '.join(FORMATS)}", "literal_error")
    rate = body.get("sample_rate")
    if rate is None:
        rate = 48000 if fmt == "opus" else 44100
    allowed = {"opus": OPUS_RATES, "mp3": MP3_RATES}.get(fmt, PCM_RATES)
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in allowed:
        return validation_error("sample_rate", f"sample_rate for {fmt} must be one of {list(allowed)}", "value_error")
    bitrate = None
    if fmt == "mp3":
        bitrate = body.get("mp3_bitrate") or 128
        if bitrate not in (64, 128, 192):
            return validation_error("mp3_bitrate", "Input should be 64, 128 or 192", "literal_error")
    elif fmt == "opus":
        ob = body.get("opus_bitrate")
        ob = 32 if ob is None else ob
        if ob not in (-1000, 24, 32, 48, 64, 24000, 32000, 48000, 64000):
            return validation_error("opus_bitrate", "Input should be -1000, 24, 32, 48 or 64", "literal_error")
        bitrate = 32 if ob == -1000 else (ob // 1000 if ob >= 1000 else ob)
    latency = body.get("latency")
    if latency is not None and latency not in ("normal", "balanced", "low"):
        return validation_error("latency", "Input should be 'normal', 'balanced' or 'low'", "literal_error")
    for name in ("normalize", "condition_on_previous_chunks"):
        if body.get(name) is not None and not isinstance(body[name], bool):
            return validation_error(name, "Input should be a valid boolean", "bool_type")
    for name, lo, hi in (("top_p", 0.0, 1.0), ("temperature", 0.0, 1.0), ("repetition_penalty", 0.0, 10.0),
                         ("early_stop_threshold", 0.0, 10.0)):
        value = body.get(name)
        if value is not None and (not isinstance(value, _NUMBER) or isinstance(value, bool) or not lo <= value <= hi):
            return validation_error(name, f"Input should be a number between {lo} and {hi}", "float_range")
    for name in ("max_new_tokens", "min_chunk_length"):
        value = body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return validation_error(name, "Input should be a valid integer", "int_type")
    references = body.get("references") or []
    if not isinstance(references, list) or any(
            not isinstance(r, dict) or not isinstance(r.get("audio"), (bytes, bytearray)) or
            not isinstance(r.get("text"), str) for r in references):
        return validation_error("references", "references must be [{audio: bytes, text: str}]", "list_type")
    reference_id = body.get("reference_id")
    if reference_id is not None and not isinstance(reference_id, str):
        return validation_error("reference_id", "Input should be a valid string", "string_type")
    speed = 1.0
    prosody = body.get("prosody")
    if prosody is not None:
        if not isinstance(prosody, dict):
            return validation_error("prosody", "Input should be a valid dictionary", "dict_type")
        s = prosody.get("speed", 1.0)
        v = prosody.get("volume", 0.0)
        if s is not None and (not isinstance(s, _NUMBER) or not 0.5 <= s <= 2.0):
            return validation_error("prosody", "prosody.speed must be between 0.5 and 2.0", "float_range")
        if v is not None and (not isinstance(v, _NUMBER) or not -20 <= v <= 20):
            return validation_error("prosody", "prosody.volume must be between -20 and 20", "float_range")
        speed = float(s if s is not None else 1.0)
    recorded = {k: body.get(k) for k in ("text", "chunk_length", "format", "sample_rate", "mp3_bitrate",
                                         "opus_bitrate", "reference_id", "normalize", "latency", "prosody",
                                         "top_p", "temperature", "max_new_tokens", "repetition_penalty",
                                         "min_chunk_length", "condition_on_previous_chunks",
                                         "early_stop_threshold")}
    recorded["references"] = len(references)
    recorded["nil_fields"] = sorted(k for k, v in body.items() if v is None)
    return TTSJob(text, fmt, rate, bitrate, speed, reference_id, recorded)


def decode_body(raw: bytes, content_type: str) -> Any:
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/json":
        return json.loads(raw or b"null")
    return ormsgpack.unpackb(raw)  # application/msgpack (and the SDKs' default)


#: What ``POST /__control/account`` may set.
ACCOUNT_FIELDS = {"credit": (int, float, str), "package_balance": int, "package_total": int, "concurrency_limit": int}


def _account_value(name: str, value: Any) -> Any:
    return Decimal(str(value)) if name == "credit" else value


def create_app(standin: StandIn | None = None) -> FastAPI:
    si = standin or StandIn()
    app = standin_app("Fish Audio stand-in", si, DEFAULT_PORT)
    app.include_router(account_router(si, ACCOUNT_FIELDS, f"JSON object with any of {sorted(ACCOUNT_FIELDS)}",
                                      _account_value))

    # -- metadata -------------------------------------------------------------------------------------

    async def meta_guard(request: Request, endpoint: str) -> Response | None:
        si.requests.add(endpoint=endpoint, method=request.method, model=request.headers.get("model"))
        if not si.account.key_ok(request.headers.get("authorization")):
            return error_response("invalid_token")
        error = await si.faults.meta_error()
        return error_response(error) if error else None

    @app.get("/wallet/self/api-credit")
    async def api_credit(request: Request) -> Response:
        if (denied := await meta_guard(request, "api_credit")) is not None:
            return denied
        a = si.account
        return JSONResponse({"_id": "credit-" + a.user_id, "user_id": a.user_id, "credit": str(a.credit),
                             "created_at": a.created_at, "updated_at": now(), "has_phone_sha256": False,
                             "has_free_credit": False})

    @app.get("/wallet/self/package")
    async def package(request: Request) -> Response:
        if (denied := await meta_guard(request, "package")) is not None:
            return denied
        a = si.account
        return JSONResponse({"_id": "package-" + a.user_id, "user_id": a.user_id, "type": "standard",
                             "total": a.package_total, "balance": a.package_balance, "created_at": a.created_at,
                             "updated_at": now(), "finished_at": a.finished_at})

    @app.get("/model")
    async def list_models(request: Request) -> Response:
        if (denied := await meta_guard(request, "models")) is not None:
            return denied
        q = request.query_params
        try:
            size = max(1, min(100, int(q.get("page_size", 10))))
            page = max(1, int(q.get("page_number", 1)))
        except ValueError:
            return validation_error("page_size", "Input should be a valid integer", "int_parsing")
        items = VOICES
        if q.get("title"):
            items = [v for v in items if q["title"].lower() in v["title"].lower()]
        chosen = items[(page - 1) * size: page * size]
        return JSONResponse({"total": len(items), "items": [model_json(v, si.account.user_id) for v in chosen]})

    @app.get("/model/{model_id}")
    async def get_model(model_id: str, request: Request) -> Response:
        if (denied := await meta_guard(request, "model")) is not None:
            return denied
        voice = VOICE_BY_ID.get(model_id)
        if voice is None:
            return error_response("not_found")
        return JSONResponse(model_json(voice, si.account.user_id))

    # -- synthesis ------------------------------------------------------------------------------------

    @app.post("/v1/tts")
    async def post_tts(request: Request) -> Response:
        return await tts(si, request)

    @app.websocket("/v1/tts/live")
    async def ws_live(websocket: WebSocket) -> None:
        await live(si, websocket)

    return app


def model_json(v: dict, user_id: str) -> dict:
    return {"_id": v["_id"], "type": "tts", "title": v["title"], "description": f"{v['title']} (stand-in, Piper)",
            "cover_image": "", "train_mode": "fast", "state": "trained", "tags": v["tags"], "samples": [],
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z", "languages": ["en"],
            "visibility": "public", "lock_visibility": False, "like_count": 0, "mark_count": 0, "shared_count": 0,
            "task_count": 0, "liked": False, "marked": False,
            "author": {"_id": user_id, "nickname": "stand-in", "avatar": ""}}


async def tts(si: StandIn, request: Request) -> Response:
    record = si.record_request(si.account.key_ok(request.headers.get("authorization")), endpoint="tts",
                               method="POST", model=request.headers.get("model"),
                               content_type=request.headers.get("content-type"))
    done = partial(answered, record)
    if not record["key_ok"]:
        return done(error_response("invalid_token"))
    await si.faults.hang_on_connect("rest")
    try:
        body = decode_body(await request.body(), request.headers.get("content-type", "application/msgpack"))
    except Exception:  # noqa: BLE001 - not msgpack/JSON
        return done(validation_error("body", "Body is not valid msgpack or JSON", "value_error"))
    job = parse_tts_request(body)
    if isinstance(job, Response):
        return done(job)
    record.update(job.fields)
    error = si.faults.take_error("rest")
    if error:
        return done(error_response(error))
    if not job.text.strip():
        return done(validation_error("text", "Text must not be empty", "string_too_short"))
    if (denied := si.admit(job, "rest")) is not None:
        return done(denied)
    si.account.active += 1
    record["status"] = 200
    headers = {"x-request-id": uuid.uuid4().hex}
    return DroppableStreamingResponse(_tts_body(si, job), job.audio_format.media_type, headers,  # type: ignore[return-value]
                                      on_close=si.slot_releaser())


async def _tts_body(si: StandIn, job: TTSJob):
    async for _chunk, data in encoded_chunks(si.speech, si.faults, job.text, si.job_speed(job), job.audio_format):
        if data:
            yield data


# -- live WebSocket -------------------------------------------------------------------------------------

class _Closed(Exception):
    """The session is over (closed by a fault, or the client left)."""


class _LiveSession:
    """One ``/v1/tts/live`` connection: start, text*, flush, stop -> audio*, finish."""

    def __init__(self, si: StandIn, ws: WebSocket, record: dict) -> None:
        self.si = si
        self.ws = ws
        self.record = record
        self.job: TTSJob | None = None
        self.encoder: StreamEncoder | None = None
        self.buffer = ""
        self.pace = Pace(si.faults, "ws")  #: chunks: every chunk spoken
        self.closed = False

    async def _send(self, payload: dict) -> None:
        if self.closed:
            raise _Closed
        try:
            await self.ws.send_bytes(ormsgpack.packb(payload))
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed = True
            raise _Closed from None

    async def close(self, code: int = 1000) -> None:
        if not self.closed:
            self.closed = True
            try:
                await self.ws.close(code)
            except (RuntimeError, OSError):
                pass

    async def finish(self, reason: str) -> None:
        self.record["finish"] = reason
        try:
            await self._send({"event": "finish", "reason": reason})
        except _Closed:
            return
        await self.close(1000)

    async def speak(self, text: str) -> None:
        if not text.strip() or self.job is None or self.encoder is None:
            return
        self.si.account.credit -= self.si.account.cost(text)  # live text is charged as it is spoken
        try:
            async for chunk in paced_chunks(self.si.speech, self.pace, text, self.si.job_speed(self.job),
                                            self.job.rate):
                data = self.encoder.feed(chunk.pcm)
                self.pace.chunks += 1
                if data:
                    await self._send({"event": "audio", "audio": data})
        except Disconnect:
            await self.close(self.si.f.disconnect_close_code)
            raise _Closed from None

    def _ready_text(self) -> str:
        """Complete sentences once ``chunk_length`` characters are waiting (what a flush would send)."""
        limit = (self.job.fields.get("chunk_length") if self.job else None) or 200
        if len(self.buffer) < limit:
            return ""
        cut = max(self.buffer.rfind(p) for p in (". ", "! ", "? ", "\n"))
        if cut < 0:
            return ""
        ready, self.buffer = self.buffer[:cut + 1], self.buffer[cut + 1:].lstrip()
        return ready

    async def run(self) -> None:
        while True:
            try:
                raw = await self.ws.receive_bytes()
            except (WebSocketDisconnect, RuntimeError, KeyError):
                self.closed = True
                return
            try:
                message = ormsgpack.unpackb(raw)
            except Exception:  # noqa: BLE001
                await self.finish("error")
                return
            event = message.get("event") if isinstance(message, dict) else None
            if event == "start":
                if not await self._start(message.get("request")):
                    return
            elif self.job is None:
                await self.finish("error")  # text before start
                return
            elif event == "text":
                text = message.get("text")
                if isinstance(text, str):
                    self.buffer += text
                    self.record["text"] = (self.record.get("text") or "") + text
                    await self.speak(self._ready_text())
            elif event == "flush":
                text, self.buffer = self.buffer, ""
                await self.speak(text)
            elif event == "stop":
                text, self.buffer = self.buffer, ""
                await self.speak(text)
                if self.encoder is not None:
                    tail = self.encoder.finish()
                    if tail:
                        await self._send({"event": "audio", "audio": tail})
                await self.finish("stop")
                return
            # unknown events are ignored, like the SDK ignores unknown server events

    async def _start(self, request: Any) -> bool:
        job = parse_tts_request(request, live=True)
        if isinstance(job, Response):
            self.record["status"] = job.status_code
            await self.finish("error")
            return False
        self.record.update({k: v for k, v in job.fields.items() if k != "text"})
        error = self.si.faults.take_error("ws")
        if error:
            self.record["status"] = ERRORS[error][0]
            await self.finish("error")
            return False
        if (denied := self.si.admit(job, "ws")) is not None:
            self.record["status"] = denied.status_code
            await self.finish("error")
            return False
        self.job = job
        self.encoder = StreamEncoder(job.audio_format)
        self.record["status"] = 200
        return True


async def live(si: StandIn, websocket: WebSocket) -> None:
    """Refuse a bad key at the handshake, else run a live session to its close."""
    record = si.requests.add(endpoint="live", method="WS", model=websocket.headers.get("model"), status=None)
    si.faults.counters["requests"] += 1
    if await si.faults.hang_on_connect("ws"):
        return  # never upgraded
    if not si.account.key_ok(websocket.headers.get("authorization")):
        record["status"] = 401
        await websocket.send_denial_response(error_response("invalid_token"))
        return
    await websocket.accept()
    si.account.active += 1
    session = _LiveSession(si, websocket, record)
    try:
        await session.run()
    except _Closed:
        pass
    finally:
        si.account.active -= 1
        if websocket.client_state == WebSocketState.CONNECTED and not session.closed:
            await session.close(1000)


def main(argv: list[str] | None = None) -> None:
    parser = base_arg_parser("ops.standins.fish",
                             "Fish Audio stand-in (HTTP + live WebSocket TTS spoken by local Piper)", DEFAULT_PORT,
                             "accepted bearer token (repeatable; env STANDIN_FISH_API_KEYS, comma-separated); "
                             "none configured: any non-empty token is accepted")
    parser.add_argument("--credit", default="10", help="API credit in USD (default 10)")
    parser.add_argument("--concurrency", type=int, default=5, help="concurrent syntheses before 429 (default 5)")
    args = parser.parse_args(argv)
    app = create_app(StandIn(keys=api_keys(args.api_key, "STANDIN_FISH_API_KEYS"), credit=args.credit,
                             concurrency_limit=args.concurrency))
    serve(app, args.host, args.port, args.log_level)


if __name__ == "__main__":
    main()
