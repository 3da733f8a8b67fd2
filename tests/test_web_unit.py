"""The demo's own unit tests (track math, audio scheduling, NDJSON parsing, mouth geometry) under vitest."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

WEB = ROOT / "web"


@pytest.mark.skipif(shutil.which("npm") is None or not (WEB / "node_modules").exists(),
                    reason="npm or web/node_modules missing: run scripts/build_web.sh (./run test does)")
def test_web_unit_tests_pass():
    out = subprocess.run(["npm", "test", "--silent"], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
