"""Split the prepared Kokoro model into a cheap front and a waveform decoder (idempotent, offline).

The duration-patched model (:func:`gateway.install.kokoro.kokoro_model_path`) is cut with
``onnx.utils.extract_model`` at the tensors the waveform decoder reads from the text side
(``docs/providers-local.md#how-kokoro-streams``):

* ``kokoro-front.onnx``: ``tokens [1, T]``, ``style [1, 256]``, ``speed [1]`` -> ``asr [1, 512, F]`` (text
  features expanded to frames, 40 per second), ``f0 [1, 2F]``, ``energy [1, 2F]`` (80 per second) and
  ``durations [T]`` (frames per token; ``sum == F``). About 1 % of the cost.
* ``kokoro-decoder.onnx``: ``asr``, ``f0``, ``energy``, ``style`` and ``phase0 [1, 1, 9]`` -> ``audio`` (600
  samples per frame). ``phase0`` is added after the harmonic source's ``CumSum`` (the running phase of its 9
  harmonics, in the units of that sum); zero gives the original model, exactly, and a window that starts at
  F0 index ``j`` continues the whole line's phase when fed :func:`gateway.providers.kokoro_windows.phase_offsets`.

:func:`prepare_kokoro_split` writes both next to the model and checks on a short line that
``decoder(front(x))`` equals the full model's audio sample for sample.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from gateway.install.kokoro import _atomic_write_bytes, kokoro_decoder_path, kokoro_front_path, kokoro_model_path

log = logging.getLogger(__name__)

#: The model's tensors at the cut, by the names the gateway uses for them.
ASR = "/encoder/MatMul_1_output_0"
F0 = "/encoder/Reshape_output_0"
ENERGY = "/encoder/Reshape_1_output_0"
DURATIONS = "/encoder/Clip_output_0"
CUMSUM = "/decoder/decoder/generator/m_source/l_sin_gen/CumSum"
PHASE_INPUT = "phase0"
#: Harmonics of the sine source (fundamental + 8).
HARMONICS = 9


def split_ready(models_dir: Path) -> bool:
    return all(p.is_file() and p.stat().st_size > 0
               for p in (kokoro_front_path(models_dir), kokoro_decoder_path(models_dir)))


def _add_phase_input(model) -> None:
    """Feed ``phase0`` into the sine source: ``CumSum(x) + phase0`` for every consumer of the sum."""
    from onnx import TensorProto, helper

    graph = model.graph
    cumsum = [n for n in graph.node if n.op_type == "CumSum" and n.name == CUMSUM]
    if len(cumsum) != 1:
        raise RuntimeError(f"kokoro: {CUMSUM} not found in the decoder; cannot carry the phase")
    total = cumsum[0].output[0]
    shifted = total + "_phase0"
    for node in graph.node:
        node.input[:] = [shifted if name == total else name for name in node.input]
    add = helper.make_node("Add", [total, PHASE_INPUT], [shifted], name=CUMSUM + "_phase0")
    index = list(graph.node).index(cumsum[0])
    graph.node.insert(index + 1, add)
    graph.input.append(helper.make_tensor_value_info(PHASE_INPUT, TensorProto.FLOAT, [1, 1, HARMONICS]))


def _extract(source: Path, inputs: list[str], outputs: list[str]):
    import onnx
    from onnx import utils

    with tempfile.TemporaryDirectory(prefix="kokoro-split-") as tmp:
        out = Path(tmp) / "part.onnx"
        utils.extract_model(str(source), str(out), inputs, outputs, check_model=False)
        return onnx.load(str(out))


def prepare_kokoro_split(models_dir: Path) -> tuple[Path, Path]:
    """Write ``kokoro-front.onnx`` and ``kokoro-decoder.onnx`` (idempotent; needs the prepared model)."""
    front_path, decoder_path = kokoro_front_path(models_dir), kokoro_decoder_path(models_dir)
    if split_ready(models_dir):
        log.info("kokoro: front and decoder already split in %s", front_path.parent)
        return front_path, decoder_path
    source = kokoro_model_path(models_dir)
    if not source.is_file():
        raise RuntimeError(f"kokoro: {source} missing; prepare the model first")
    front = _extract(source, ["tokens", "style", "speed"], [ASR, F0, ENERGY, DURATIONS])
    decoder = _extract(source, [ASR, F0, ENERGY, "style"], ["audio"])
    _add_phase_input(decoder)
    check_split(source, front, decoder)
    _atomic_write_bytes(decoder_path, decoder.SerializeToString())
    _atomic_write_bytes(front_path, front.SerializeToString())  # written last: split_ready means both are whole
    log.info("kokoro: split the model into %s (%d nodes) and %s (%d nodes)", front_path.name, len(front.graph.node),
             decoder_path.name, len(decoder.graph.node))
    return front_path, decoder_path


def check_split(source: Path, front, decoder) -> None:
    """``decoder(front(x)) == model(x)`` on a short line, sample for sample, else RuntimeError."""
    import numpy as np
    import onnxruntime as ort

    def session(model_bytes):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])

    rng = np.random.default_rng(7)
    feed = {"tokens": np.array([[0, *rng.integers(16, 150, 12), 0]], dtype=np.int64),
            "style": rng.normal(0, 0.2, (1, 256)).astype(np.float32), "speed": np.array([1.0], np.float32)}
    full_audio = session(str(source)).run(["audio"], feed)[0]
    asr, f0, energy, _dur = session(front.SerializeToString()).run(None, feed)
    audio = session(decoder.SerializeToString()).run(None, {
        ASR: asr, F0: f0, ENERGY: energy, "style": feed["style"],
        PHASE_INPUT: np.zeros((1, 1, HARMONICS), np.float32)})[0]
    if audio.shape != full_audio.shape or not np.array_equal(audio, full_audio):
        raise RuntimeError("kokoro: the split decoder does not reproduce the full model's audio")
