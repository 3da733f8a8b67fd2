"""README's first example, run against the default install: the same request answers the fields the README shows,
with a video_url that serves an MP4 of the line's length."""

from __future__ import annotations

import io
import json
import re

import av
import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def first_example() -> tuple[dict, dict]:
    """The request body of README's first curl and the JSON it shows ("…" marks what was left out)."""
    readme = (ROOT / "README.md").read_text()
    body = json.loads(re.search(r"-d '(\{.*?\})'", readme).group(1))
    shown = json.loads(re.search(r"```json\n(\{.*?\n\})\n```", readme, re.S).group(1))
    return body, shown


def test_readme_first_example_is_what_a_fresh_install_answers(default_install):
    body, shown = first_example()
    r = httpx.post(default_install.url + "/api/avatar/speak", json=body, timeout=90)
    assert r.status_code == 200, r.text
    got = r.json()
    assert set(shown) <= set(got), sorted(set(shown) - set(got))
    for key in ("text", "degradation_level", "degradation_reasons", "provider", "voice_changed"):
        assert got[key] == shown[key], key
    assert got["voice"]["voice_id"] == shown["voice"]["voice_id"]
    assert shown["video"]["ok"] and got["video"]["ok"] and got["video_url"]
    video = httpx.get(default_install.url + got["video_url"], timeout=30)
    with av.open(io.BytesIO(video.content)) as container:
        assert abs(container.duration / av.time_base - got["duration"]) < 0.15
    assert abs(got["duration"] - shown["duration"]) < 0.3  # the same voice says the same line
