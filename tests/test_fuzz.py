"""Client input never causes a 500: random bodies against the real app (fast espeak chain)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.api.app import create_app
from gateway.settings import Settings

FIELDS = ["text", "voice_id", "character", "avatar_id", "output_format", "visemes", "blendshapes", "fps"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=60),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=8,
)
texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    st.sampled_from(["", " ", "<speak>hi</speak>", "\x00\x01", "a" * 1001, "Hello there.", "🙂🙂", "ﷺ", "1/0"]),
)
bodies = st.fixed_dictionaries(
    {"text": texts},
    optional={"character": st.sampled_from(["narrator", "guard", "", "../../etc", "x" * 300]) | st.text(max_size=20),
              "voice_id": st.sampled_from(["espeak:en-us", "piper:joe", ":", "a:b:c", ""]) | st.text(max_size=20),
              "output_format": st.sampled_from(["wav", "mp3", "pcm_16000", "opus", "", "wav_1"]) | st.text(max_size=12),
              "fps": st.integers(-5, 500) | json_values,
              "visemes": json_values, "blendshapes": json_values, "avatar_id": json_values},
) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), json_values, max_size=6)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), enabled_providers=["espeak", "canned"],
                        chain=["espeak", "canned"], cache_enabled=False, log_level="ERROR")
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_random_json_bodies_never_500(client, body):
    for path in ("/api/avatar/speak", "/api/avatar/speak/stream"):
        r = client.post(path, json=body)
        assert r.status_code < 500, (path, body, r.text[:300])
        if r.status_code == 200 and path.endswith("stream"):
            last = json.loads(r.text.strip().splitlines()[-1])
            assert last["type"] in ("final", "error")


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_random_bytes_never_500(client, raw):
    r = client.post("/api/avatar/speak", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 404), r.text[:300]


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request_id=st.text(max_size=80))
def test_audio_path_never_500(client, request_id):
    r = client.get("/api/avatar/audio/" + quote(request_id, safe=""))
    assert r.status_code in (200, 404, 405), r.text[:200]
