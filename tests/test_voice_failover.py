"""Voice continuity through fail-over, with the ElevenLabs stand-in (a real process) and the real local engines.

The chain is ElevenLabs WebSocket, ElevenLabs REST, Kokoro, Piper, espeak-ng; the queen speaks with ElevenLabs
Alice (female, British), Kokoro bf_emma, Piper joe (the only Piper voice: male), espeak en-gb-f.
"""

from __future__ import annotations

import pytest

from gateway.audio.pitch import median_f0
from gateway.core.events import AudioEvent, StatusEvent
from gateway.export.speak import result_body
from gateway.service import Mouthpiece
from gateway.settings import Settings
from gateway.speak.events import LineFinished
from gateway.speak.line import SpeakInput
from tests.test_cloud_chain import KEY, elevenlabs  # noqa: F401 - the stand-in fixture

pytestmark = pytest.mark.slow
ALICE, RACHEL = "Xb7hH8MSUJpSbSDYk0k2", "21m00Tcm4TlvDq8ikWAM"
LINE = "The northern road is closed. Turn back at the mill, traveller. The bridge is out."
#: Median F0 above this is a female-range voice (Kokoro's female voices measure 141-228 Hz, its male ones 82-160).
FEMALE_HZ = 165


@pytest.fixture
async def gateway(elevenlabs, tmp_path):
    elevenlabs.control("DELETE", "faults")
    settings = Settings(data_dir=tmp_path, chain=["elevenlabs_ws", "elevenlabs_rest", "kokoro", "piper", "espeak"],
                        elevenlabs={"api_key": KEY, "base_url": elevenlabs.url, "ws_url": elevenlabs.ws_url},
                        # Generous deadlines: on a loaded test machine Kokoro may take seconds to its first audio,
                        # and these tests are about voices, not deadlines (the stand-in's faults are immediate).
                        retry_initial_s=0.05, first_audio_timeout_s=60, chunk_gap_timeout_s=60,
                        total_timeout_s=180, latency_critical_s=60, delivery_rtf_critical=0,
                        log_level="ERROR")
    gw = Mouthpiece(settings, cache=None, redis=None)
    await gw.start()
    yield gw
    await gw.close()
    elevenlabs.control("DELETE", "faults")


async def run(gateway: Mouthpiece, **request) -> tuple[list, dict]:
    line = gateway.prepare(SpeakInput(LINE, output_format="pcm_24000", **request))
    events = [e async for e in gateway.stream(line)]
    assert isinstance(events[-1], LineFinished), events[-1]
    return events, result_body(events[-1].result)


def statuses(events: list, code: str) -> list[StatusEvent]:
    return [e for e in events if isinstance(e, StatusEvent) and e.code == code]


def audio_after(events: list, at_ms: int) -> tuple[bytes, int]:
    chunks = [e for e in events if isinstance(e, AudioEvent) and e.start_ms >= at_ms]
    return b"".join(e.pcm for e in chunks), chunks[0].sample_rate


async def test_same_voice_on_the_other_transport_is_no_voice_change(gateway, elevenlabs):
    elevenlabs.control("POST", "faults", {"disconnect_after_sentence": True, "targets": ["ws"]})
    events, body = await run(gateway, character="queen")
    switch = statuses(events, "provider_switch")
    assert switch and switch[0].detail["from"] == "elevenlabs_ws" and switch[0].provider == "elevenlabs_rest"
    assert statuses(events, "voice_changed") == [] and body["voice_changed"] is False
    assert body["provider"] == "elevenlabs_rest" and body["voice"]["voice_id"] == f"elevenlabs:{ALICE}"


async def test_cloud_voice_falls_to_the_matching_local_voice_silently(gateway, elevenlabs):
    elevenlabs.control("POST", "faults", {"disconnect_after_sentence": True, "targets": ["ws", "rest"]})
    events, body = await run(gateway, character="queen")
    switch = statuses(events, "provider_switch")[-1]
    assert switch.provider == "kokoro" and switch.detail["resume_segment"] >= 1
    assert statuses(events, "voice_changed") == [] and body["voice_changed"] is False
    assert body["voice"] == {"voice_id": "kokoro:bf_emma", "name": "bf_emma", "gender": "female", "accent": "gb",
                             "age": None, "pitch_hz": 178}
    pcm, rate = audio_after(events, switch.detail["at_ms"])
    assert median_f0(pcm, rate) > FEMALE_HZ, "the rest of the line is a female voice"


async def test_no_matching_voice_left_says_voice_changed_once(gateway, elevenlabs):
    elevenlabs.control("POST", "faults", {"disconnect_after_sentence": True, "targets": ["ws", "rest"]})
    gateway.breakers["kokoro"].force_open()
    events, body = await run(gateway, character="queen")
    changed = statuses(events, "voice_changed")
    assert len(changed) == 1, [e.code for e in statuses(events, "provider_switch")]
    detail = changed[0].detail
    assert detail["from"]["voice_id"] == f"elevenlabs:{ALICE}" and detail["to"]["voice_id"] == "piper:joe"
    assert "gender" in detail["reasons"] and detail["to"]["gender"] == "male"
    switch = statuses(events, "provider_switch")[-1]
    assert changed[0].provider == "piper" and detail["at_ms"] == switch.detail["at_ms"] > 0
    assert detail["segment"] == switch.detail["resume_segment"]
    piper_audio = [i for i, e in enumerate(events) if isinstance(e, AudioEvent) and e.start_ms >= detail["at_ms"]]
    assert events.index(changed[0]) < piper_audio[0], "announced before the new voice is heard"
    assert body["voice_changed"] is True and body["voice_changes"] == [detail]
    assert body["voice"]["voice_id"] == "piper:joe"


async def test_a_vendor_id_keeps_working_when_its_vendor_fails(gateway, elevenlabs):
    events, body = await run(gateway, voice_id=RACHEL)
    assert body["provider"] == "elevenlabs_ws" and body["voice"]["voice_id"] == f"elevenlabs:{RACHEL}"
    elevenlabs.control("POST", "faults", {"quota_exhausted": True, "targets": ["ws", "rest"]})
    events, body = await run(gateway, voice_id=RACHEL)
    assert body["provider"] == "kokoro" and body["voice"]["voice_id"] == "kokoro:af_heart"
    assert body["voice_changed"] is False and body["degradation_level"] == "degraded-2"
    pcm, rate = audio_after(events, 0)
    assert median_f0(pcm, rate) > FEMALE_HZ
