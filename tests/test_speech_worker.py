"""``gateway speech-worker`` as a real process: the OpenAI speech API (checked with the official ``openai`` SDK too),
its timing extension against the same engine in-process, readiness, keys, and bad input."""

from __future__ import annotations

import asyncio
import base64
import io
import wave

import httpx
import orjson
import pytest

from gateway.audio.decode import decode_audio
from gateway.core.events import AlignmentEvent, AudioEvent, SegmentEndEvent
from gateway.core.segments import Prosody, Segment
from gateway.core.voices import VoiceSettings
from gateway.providers.base import SynthesisRequest
from gateway.providers.espeak import EspeakProvider
from gateway.settings import Settings
from gateway.upstream.speech_api import NDJSON, EventReader, segment_body
from tests.speech_fixtures import WORKER_KEY, speech_worker  # noqa: F401 - fixture

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {WORKER_KEY}"}
TEXT = "Hello there, adventurer! You owe me 42 gold pieces."


def post(worker, body: dict, **kw) -> httpx.Response:  # noqa: ANN001, ANN003
    return httpx.post(worker.url + "/v1/audio/speech", json=body, headers=AUTH, timeout=30, **kw)


def test_models_voices_and_readiness(speech_worker):
    assert httpx.get(speech_worker.url + "/readyz").status_code == 200
    models = httpx.get(speech_worker.url + "/v1/models", headers=AUTH).json()
    by_id = {m["id"]: m for m in models["data"]}
    assert {"piper", "espeak", "tts-1", "tts-1-hd"} <= set(by_id) and "kokoro" not in by_id
    piper = by_id["piper"]["mouthpiece"]
    assert piper["ready"] and piper["timing"] == "ndjson" and piper["sample_rate"] == 22050
    assert [v["id"] for v in piper["voices"]] == ["joe"] and piper["default_voice"] == "joe"
    assert by_id["tts-1"]["mouthpiece"]["alias_of"] == "piper"
    assert httpx.get(speech_worker.url + "/v1/models/espeak", headers=AUTH).json()["id"] == "espeak"
    missing = httpx.get(speech_worker.url + "/v1/models/nope", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"
    voices = httpx.get(speech_worker.url + "/v1/audio/voices?model=espeak", headers=AUTH).json()["voices"]
    assert {"id": "en-gb", "name": "English (Great Britain)", "model": "espeak", "language": "en-GB",
            "gender": "male"} in voices


def test_keys(speech_worker):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        resp = httpx.post(speech_worker.url + "/v1/audio/speech", json={"input": "Hi."}, headers=headers)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(speech_worker.url + "/healthz").status_code == 200  # probes need no key


def test_audio_formats(speech_worker):
    wav = post(speech_worker, {"model": "piper", "input": TEXT, "voice": "joe", "response_format": "wav"})
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    pcm_wav, rate = decode_audio(wav.content, max_seconds=30)
    assert rate == 22050 and len(pcm_wav) > rate  # more than half a second
    pcm = post(speech_worker, {"model": "piper", "input": TEXT, "voice": "joe", "response_format": "pcm"})
    assert pcm.headers["x-sample-rate"] == "24000" and len(pcm.content) % 2 == 0  # OpenAI's pcm: 24 kHz
    assert abs(len(pcm.content) / 48000 - len(pcm_wav) / 44100) < 0.6  # same line, within Piper's variation
    mp3 = post(speech_worker, {"model": "tts-1", "input": TEXT, "voice": "joe"})  # OpenAI's defaults: mp3
    assert mp3.headers["content-type"] == "audio/mpeg" and decode_audio(mp3.content, max_seconds=30)[1] == 22050
    whole = post(speech_worker, {"model": "espeak", "input": TEXT, "response_format": "wav", "stream": False})
    with wave.open(io.BytesIO(whole.content)) as w:  # exact sizes when not streamed
        assert w.getframerate() == 22050 and w.getnframes() * 2 + 44 == len(whole.content)
    assert int(whole.headers["content-length"]) == len(whole.content)


def test_sse(speech_worker):
    resp = post(speech_worker, {"model": "espeak", "input": TEXT, "response_format": "pcm", "stream_format": "sse"})
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [orjson.loads(block.removeprefix(b"data: ")) for block in resp.content.split(b"\n\n") if block]
    assert {e["type"] for e in events[:-1]} == {"speech.audio.delta"} and events[-1]["type"] == "speech.audio.done"
    audio = b"".join(base64.b64decode(e["audio"]) for e in events[:-1])
    assert len(audio) > 48000 and len(audio) % 2 == 0  # over a second of 24 kHz PCM
    assert events[-1]["usage"]["output_tokens"] == len(audio)


def _events(resp: httpx.Response, name: str) -> tuple[list, EventReader]:
    reader = EventReader(name)
    return [e for line in resp.content.splitlines() if (e := reader.event(line)) is not None], reader


def test_timing_extension_is_the_engines_own(speech_worker):
    """Planned segments (a break, volume, rate, an emotion, an IPA hint) spoken by espeak in-process and through
    the worker: the same phonemes and words in the same places (espeak's own durations vary a little from run to
    run), pauses where the plan has them, and times that match the audio to the sample."""
    text = "Halt! Who goes there? Show yourself."
    segments = (Segment(0, "Halt!", 0), Segment(1, "Who goes there?", 6, Prosody(volume_db=-6.0), 250),
                Segment(2, "Show yourself.", 22, Prosody(rate=1.2, emotion="angry"), 0, ((0, 4, "ʃoʊ"),)))
    request = SynthesisRequest(segments, "en-gb", VoiceSettings(speed=1.1), text=text)

    async def in_process() -> list:
        provider = EspeakProvider(Settings())
        await provider.start()
        return [e async for e in provider.stream(request)]

    local = asyncio.run(in_process())
    resp = post(speech_worker, {"model": "espeak", "input": text, "voice": "en-gb", "speed": 1.1,
                                "response_format": "pcm", "stream_format": "ndjson",
                                "segments": [segment_body(s) for s in segments]})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith(NDJSON)
    remote, reader = _events(resp, "espeak")
    assert reader.done is not None and reader.rate == 22050

    def shape(events: list) -> tuple:
        return ([(e.segment, [p.phoneme for p in e.phonemes], [(w.word, w.char_start, w.char_end) for w in e.words])
                 for e in events if isinstance(e, AlignmentEvent)],
                [e.segment for e in events if isinstance(e, SegmentEndEvent)])

    assert shape(remote) == shape(local)
    samples = 0
    for event in remote:
        if isinstance(event, AudioEvent):
            assert event.start_ms == round(samples * 1000 / 22050)
            samples += event.num_samples
        elif isinstance(event, SegmentEndEvent):
            assert event.end_ms == round(samples * 1000 / 22050)  # a segment ends where its audio does
    pause = next(e for e in remote if isinstance(e, AlignmentEvent) and e.segment == 1).phonemes[0]
    assert pause.phoneme == " " and pause.end_ms - pause.start_ms == 250  # the planned break
    assert reader.done["audio_ms"] == round(samples * 1000 / 22050)


def test_bad_requests_are_clear_400s(speech_worker):
    cases = [({"model": "nope", "input": "Hi."}, "model_not_found", "model"),
             ({"model": "piper", "input": "Hi.", "voice": "nobody"}, "voice_not_found", "voice"),
             ({"model": "piper", "input": "Hi.", "response_format": "aac"}, "unsupported_format", "response_format"),
             ({"model": "piper", "input": ""}, "invalid_value", "input"),
             ({"model": "piper", "input": "Hi.", "speed": 9}, "invalid_value", "speed"),
             ({"model": "piper", "input": "Hi.", "segments": [{"index": 0, "text": "Hi.", "ipa": [[0, 9, "x"]]}]},
              "invalid_value", "segments.0"),
             ({"model": "piper", "input": "Hi.", "segments": [{"index": 1, "text": "a"}, {"index": 0, "text": "b"}]},
              "invalid_value", None)]
    for body, code, param in cases:
        resp = post(speech_worker, body)
        error = resp.json()["error"]
        assert resp.status_code == 400 and error["code"] == code, (body, resp.text)
        assert param is None or (error["param"] or "").startswith(param)
    broken = httpx.post(speech_worker.url + "/v1/audio/speech", content=b"{not json", headers=AUTH)
    assert broken.status_code == 400 and broken.json()["error"]["type"] == "invalid_request_error"
    huge = httpx.post(speech_worker.url + "/v1/audio/speech", content=b"x" * 300_000, headers=AUTH)
    assert huge.status_code == 413
    assert post(speech_worker, {"model": "espeak", "input": "Still here."}).status_code == 200


def test_openai_sdk_against_the_worker(speech_worker):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(api_key=WORKER_KEY, base_url=speech_worker.url + "/v1", max_retries=0)
    audio = client.audio.speech.create(model="tts-1", voice="joe", input=TEXT, response_format="wav")
    assert decode_audio(audio.content, max_seconds=30)[1] == 22050
    with client.audio.speech.with_streaming_response.create(model="espeak", voice="en-us", input=TEXT,
                                                            response_format="pcm") as resp:
        assert resp.headers["x-sample-rate"] == "24000"
        streamed = b"".join(resp.iter_bytes())
    assert len(streamed) > 48000 and len(streamed) % 2 == 0
    assert {"piper", "espeak"} <= {m.id for m in client.models.list()}
    with pytest.raises(openai.BadRequestError, match="voice"):
        client.audio.speech.create(model="piper", voice="nobody", input=TEXT)
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(api_key="wrong", base_url=speech_worker.url + "/v1", max_retries=0).audio.speech.create(
            model="piper", voice="joe", input=TEXT)
