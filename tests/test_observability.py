"""Logs carry the request id, traces have a span per request and per provider attempt, metrics count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_json_logs_carry_request_id(gateway_proc):
    r = httpx.post(gateway_proc.url + "/api/avatar/speak", json={"text": "Log this line, please."}, timeout=60)
    request_id = r.json()["request_id"]
    assert r.headers["X-Request-ID"] == request_id
    records = []
    for line in gateway_proc.logs().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    served = [rec for rec in records if rec.get("event") == "line_served" and rec.get("request_id") == request_id]
    assert served, "no line_served log record with the request id"
    assert served[0]["provider"] == r.json()["provider"] and served[0]["degradation_level"] == "normal"
    assert "timestamp" in served[0] and served[0]["level"] == "info"


def test_metrics_count_requests_by_provider(gateway_proc):
    httpx.post(gateway_proc.url + "/api/avatar/speak", json={"text": "Count me."}, timeout=60)
    text = httpx.get(gateway_proc.url + "/metrics").text
    lines = [ln for ln in text.splitlines() if ln.startswith("mouthpiece_requests_total{")]
    assert any('endpoint="speak"' in ln and 'outcome="ok"' in ln and float(ln.rsplit(" ", 1)[1]) >= 1 for ln in lines)
    assert 'mouthpiece_breaker_state{provider="piper"} 0.0' in text
    assert 'mouthpiece_degradation_level{level="normal"} 1.0' in text


def test_console_traces_have_request_and_attempt_spans(tmp_path):
    env = {**os.environ, "GATEWAY_OTEL_EXPORTER": "console", "GATEWAY_DATA_DIR": str(tmp_path),
           "GATEWAY_ENABLED_PROVIDERS": '["espeak","canned"]', "GATEWAY_CHAIN": '["espeak","canned"]'}
    out = subprocess.run([sys.executable, "-m", "gateway.cli", "speak", "Trace me.", "-o", str(tmp_path / "a.wav")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    spans = _console_spans(out.stdout)
    by_name = {s["name"]: s for s in spans}
    assert {"speak", "provider_attempt"} <= set(by_name)
    attempt, request = by_name["provider_attempt"], by_name["speak"]
    assert attempt["parent_id"] == request["context"]["span_id"]
    assert attempt["attributes"]["provider"] == "espeak" and attempt["attributes"]["outcome"] == "ok"


def _console_spans(stdout: str) -> list[dict]:
    spans, depth, start = [], 0, None
    for i, ch in enumerate(stdout):  # the console exporter prints indented JSON objects back to back
        if ch == "{":
            depth += 1
            start = i if depth == 1 else start
        elif ch == "}":
            depth -= 1
            if depth == 0 and start is not None:
                spans.append(json.loads(stdout[start:i + 1]))
    return spans
