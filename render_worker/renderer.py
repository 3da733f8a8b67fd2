"""Frames and MP4: prepare an avatar's static layers once, then draw each frame and encode it.

Preparation (:func:`prepare`) rasterizes the layers that never change (background and body, the
head's static parts, the parts over the features) at the output size. A frame is: the back
layer, then under the head transform (roll, sway, nod) the head layer, the eyes, brows and mouth
as vectors, and the over layer. Frames go to libx264 (yuv420p, 25 fps by default) and the speech
to AAC, muxed into one MP4 with PyAV.
"""

from __future__ import annotations

import os
import tempfile
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import skia

from render_worker.avatars import STYLES
from render_worker.avatars.kit import DESIGN
from render_worker.avatars.spec import AvatarSpec
from render_worker.drawing import FeaturePainter
from render_worker.face import Expression, expression_for, mouth_from_energy, mouth_from_track
from render_worker.motion import build_motion, energy_envelope

AAC_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MIN_AUDIO_S = 0.05


class DeadlineExceeded(Exception):
    """The render passed its deadline and was abandoned."""


class AudioError(ValueError):
    """Audio the renderer can't use; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class PreparedAvatar:
    spec: AvatarSpec
    back: skia.Image  #: background and body, rasterized at the output size
    head: skia.Picture  #: the head's static parts, recorded vectors (drawn under the head transform)
    over: skia.Picture  #: parts over the animated features
    painter: FeaturePainter
    prepare_ms: float

    @property
    def size(self) -> int:
        return self.spec.size

    def mouth_box_px(self) -> list[int]:
        """Where the mouth is in output pixels at rest, ``[x, y, w, h]``."""
        s = self.size / DESIGN
        x, y, w, h = self.spec.geometry.mouth_box()
        return [round(x * s), round(y * s), round(w * s), round(h * s)]


def _picture(draw) -> skia.Picture:  # noqa: ANN001 - a drawing callable
    recorder = skia.PictureRecorder()
    draw(recorder.beginRecording(skia.Rect.MakeWH(DESIGN, DESIGN)))
    return recorder.finishRecordingAsPicture()


def prepare(spec: AvatarSpec) -> PreparedAvatar:
    """Rasterize the background and record the head's vectors (done once per avatar)."""
    started = time.perf_counter()
    style = STYLES[spec.base]
    pal = spec.palette
    surface = skia.Surface(spec.size, spec.size)
    canvas = surface.getCanvas()
    canvas.scale(spec.size / DESIGN, spec.size / DESIGN)
    style.back(canvas, pal)
    back = surface.makeImageSnapshot()
    head = _picture(lambda c: style.head(c, pal))
    over = _picture(lambda c: style.over(c, pal))
    painter = FeaturePainter(spec.geometry, pal)
    return PreparedAvatar(spec, back, head, over, painter, (time.perf_counter() - started) * 1000)


def load_audio(data: bytes, max_seconds: float) -> tuple[np.ndarray, int]:
    """Any audio file FFmpeg can probe -> (int16 mono samples at an AAC-friendly rate, rate)."""
    from gateway.audio.decode import AudioDecodeError, decode_audio
    from gateway.audio.resample import resample_pcm

    try:
        pcm, rate = decode_audio(data, max_seconds=max_seconds)
    except AudioDecodeError as exc:
        raise AudioError(exc.message) from None
    if rate not in AAC_RATES:
        pcm, rate = resample_pcm(pcm, rate, 24000), 24000
    samples = np.frombuffer(pcm, dtype="<i2")
    if samples.size < MIN_AUDIO_S * rate:
        raise AudioError(f"audio shorter than {MIN_AUDIO_S * 1000:.0f} ms")
    return samples, rate


@dataclass(slots=True)
class RenderJob:
    samples: np.ndarray  #: int16 mono
    rate: int
    track: list[tuple[int, int, int]]  #: (start_ms, end_ms, viseme id), may be empty
    emotion: str | None = None
    fps: int = 25
    seed: int = 0
    deadline: float | None = None  #: time.monotonic() limit
    frame_delay_s: float = 0.0  #: test hook: sleep per frame (simulates a slow device)
    stats: dict = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return max(1, round(self.samples.size * self.fps / self.rate))

    @staticmethod
    def seed_for(request_id: str | None) -> int:
        return zlib.crc32((request_id or "").encode())


def frames(avatar: PreparedAvatar, job: RenderJob) -> Iterator[np.ndarray]:
    """BGRA frames (one reused ``size x size x 4`` array: copy it before the next step)."""
    n, fps, size = job.frames, job.fps, avatar.size
    emotion, expr = expression_for(job.emotion)
    job.stats["emotion"] = emotion
    energy = energy_envelope(job.samples, job.rate, n, fps)
    times = (np.arange(n, dtype=np.float32) + 0.5) * (1000.0 / fps)
    mouth = mouth_from_track(job.track, times) if job.track else mouth_from_energy(energy)
    if expr.jaw_scale != 1.0:
        mouth[:, 0] = np.minimum(mouth[:, 0] * expr.jaw_scale, 1.15)
    motion = build_motion(n, fps, energy, job.seed, expr.blink_rate)
    pixels = np.zeros((size, size, 4), dtype=np.uint8)
    info = skia.ImageInfo.Make(size, size, skia.ColorType.kBGRA_8888_ColorType, skia.AlphaType.kPremul_AlphaType)
    surface = skia.Surface.MakeRasterDirect(info, pixels)
    canvas = surface.getCanvas()
    s = size / DESIGN
    g = avatar.spec.geometry
    for i in range(n):
        if job.deadline is not None and i % 8 == 0 and time.monotonic() > job.deadline:
            raise DeadlineExceeded()
        if job.frame_delay_s:
            time.sleep(job.frame_delay_s)
        _draw_frame(canvas, avatar, expr, s, g.pivot_x, g.pivot_y, float(motion.angle[i]), float(motion.dx[i]),
                    float(motion.dy[i]) + expr.pitch, mouth[i], float(motion.blink[i]),
                    float(motion.gaze_x[i]), float(motion.gaze_y[i]))
        yield pixels


def _draw_frame(c: skia.Canvas, av_: PreparedAvatar, expr: Expression, s: float, px: float, py: float,
                angle: float, dx: float, dy: float, mouth, blink: float, gx: float, gy: float) -> None:  # noqa: ANN001
    c.drawImage(av_.back, 0, 0)
    c.save()
    c.scale(s, s)
    c.translate(px + dx, py + dy)
    c.rotate(angle)
    c.translate(-px, -py)
    c.drawPicture(av_.head)
    av_.painter.eyes(c, expr, blink, gx, gy)
    av_.painter.mouth(c, mouth, expr.smile)
    c.drawPicture(av_.over)
    c.restore()


def render_mp4(avatar: PreparedAvatar, job: RenderJob, *, threads: int = 1, crf: int = 23,
               preset: str = "veryfast") -> bytes:
    """H.264 + AAC MP4 of the avatar speaking ``job``; timings land in ``job.stats``."""
    import av

    started = time.perf_counter()
    # faststart (the index first, so players start before the download ends) needs a real file
    fd, path = tempfile.mkstemp(suffix=".mp4", prefix="render-")
    os.close(fd)
    out = av.open(path, "w", format="mp4", options={"movflags": "+faststart"})
    try:
        vs = out.add_stream("libx264", rate=job.fps, options={
            "preset": preset, "tune": "animation", "crf": str(crf), "g": str(2 * job.fps), "threads": str(threads)})
        vs.width = vs.height = avatar.size
        vs.pix_fmt = "yuv420p"
        aus = out.add_stream("aac", rate=job.rate, layout="mono")
        aus.bit_rate = 64000
        samples, per_frame, fed = job.samples, job.rate / job.fps, 0
        draw_s = 0.0
        t0 = time.perf_counter()
        for i, bgra in enumerate(frames(avatar, job)):
            draw_s += time.perf_counter() - t0
            frame = av.VideoFrame.from_ndarray(bgra, format="bgra")
            frame.pts, frame.time_base = i, Fraction(1, job.fps)
            for packet in vs.encode(frame):
                out.mux(packet)
            upto = samples.size if i == job.frames - 1 else min(samples.size, round((i + 1) * per_frame))
            if upto > fed:
                chunk = av.AudioFrame.from_ndarray(samples[fed:upto].reshape(1, -1), format="s16", layout="mono")
                chunk.sample_rate, chunk.pts, chunk.time_base = job.rate, fed, Fraction(1, job.rate)
                for packet in aus.encode(chunk):
                    out.mux(packet)
                fed = upto
            t0 = time.perf_counter()
        for stream in (vs, aus):
            for packet in stream.encode(None):
                out.mux(packet)
        out.close()
        with open(path, "rb") as fh:
            data = fh.read()
    finally:
        try:
            out.close()
        except Exception:  # noqa: BLE001 - already closed, or closing a failed file
            pass
        os.unlink(path)
    total = time.perf_counter() - started
    job.stats.update(frames=job.frames, render_ms=round(total * 1000, 1), draw_ms=round(draw_s * 1000, 1),
                     fps=round(job.frames / total, 1) if total > 0 else None,
                     audio_ms=round(job.samples.size * 1000 / job.rate))
    return data


def render_jpegs(avatar: PreparedAvatar, job: RenderJob, quality: int = 85) -> Iterator[tuple[int, int, bytes]]:
    """``(index, pts_ms, jpeg)`` per frame, for streaming frames out as they are drawn."""
    for i, bgra in enumerate(frames(avatar, job)):
        image = skia.Image.fromarray(bgra, colorType=skia.ColorType.kBGRA_8888_ColorType)
        data = image.encodeToData(skia.EncodedImageFormat.kJPEG, quality)
        yield i, round(i * 1000 / job.fps), bytes(data)
