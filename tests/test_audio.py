"""Real audio checks for gateway.audio: formats, resampling, encoding and decoding."""

from __future__ import annotations

import io
import os
import struct
import wave

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.audio.decode import AudioDecodeError, decode_audio, decode_pcm
from gateway.audio.encode import UNKNOWN_SIZE, create_encoder, encode_all, encode_wav, wav_header
from gateway.audio.formats import opus_available, parse_output_format, valid_output_formats
from gateway.audio.resample import Resampler, resample_pcm


def tone(freq: float, seconds: float, rate: int, amp: float = 0.3) -> bytes:
    t = np.arange(int(round(seconds * rate))) / rate
    return (np.sin(2 * np.pi * freq * t) * amp * 32767).astype("<i2").tobytes()


def peak_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def pyav_decode(data: bytes) -> tuple[int, int]:
    """(samples, rate) as FFmpeg decodes them, independently of gateway.audio.decode."""
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    return sum(f.samples for f in frames), frames[0].sample_rate


# --- formats -----------------------------------------------------------------------------------

def test_every_valid_name_parses_with_consistent_metadata():
    names = valid_output_formats()
    assert {"wav", "pcm_16000", "pcm_22050", "pcm_24000", "pcm_44100", "pcm_48000", "mp3",
            "mp3_22050_32", "mp3_44100_64", "mp3_44100_128", "wav_48000"} <= set(names)
    for name in names:
        fmt = parse_output_format(name)
        assert fmt.name == name
        assert fmt.media_type.startswith("audio/")
    assert parse_output_format("wav").sample_rate is None
    assert parse_output_format("wav").media_type == "audio/wav"
    assert parse_output_format(" PCM_24000 ").media_type == "audio/L16;rate=24000;channels=1"
    assert parse_output_format("pcm_24000").extension == "pcm"
    mp3 = parse_output_format("mp3_44100_128")
    assert (mp3.media_type, mp3.extension, mp3.sample_rate, mp3.bitrate) == ("audio/mpeg", "mp3", 44100, 128000)
    assert parse_output_format("mp3").output_rate(22050) == 22050
    assert parse_output_format("mp3").output_rate(37000) == 44100
    assert parse_output_format("wav").output_rate(24000) == 24000
    assert parse_output_format("wav_16000").output_rate(24000) == 16000


def test_opus_offered_only_when_encoder_present():
    assert ("opus" in valid_output_formats()) == opus_available()
    if opus_available():
        fmt = parse_output_format("opus_48000_64")
        assert (fmt.container, fmt.media_type, fmt.extension, fmt.sample_rate) == ("ogg", "audio/ogg", "ogg", 48000)
    else:
        with pytest.raises(ValueError, match="no Opus encoder"):
            parse_output_format("opus")


@pytest.mark.parametrize("bad", ["", "flac", "wav_8000", "mp3_44100_999", "pcm", "ogg"])
def test_unknown_format_lists_every_valid_name(bad):
    with pytest.raises(ValueError) as err:
        parse_output_format(bad)
    for name in valid_output_formats():
        assert name in str(err.value)


# --- resampling --------------------------------------------------------------------------------

@pytest.mark.parametrize("in_rate,out_rate", [(22050, 48000), (24000, 16000), (22050, 44100), (48000, 22050)])
def test_resample_keeps_duration_and_frequency(in_rate, out_rate):
    pcm = tone(1000, 1.0, in_rate)
    out = resample_pcm(pcm, in_rate, out_rate)
    assert abs(len(out) // 2 - out_rate) <= 1
    assert abs(peak_hz(out, out_rate) - 1000) <= 2


def test_streaming_resampler_matches_one_shot():
    pcm = tone(440, 1.0, 22050) + tone(3000, 0.5, 22050)
    one_shot = np.frombuffer(resample_pcm(pcm, 22050, 48000), dtype="<i2").astype(int)
    resampler = Resampler(22050, 48000)
    parts = [resampler.process(pcm[i:i + 777]) for i in range(0, len(pcm), 777)]  # odd-sized chunks
    parts.append(resampler.flush())
    streamed = np.frombuffer(b"".join(parts), dtype="<i2").astype(int)
    assert len(streamed) == len(one_shot) == 72000
    assert np.max(np.abs(streamed - one_shot)) <= 4  # same filter; only rounding at chunk edges differs
    assert abs(peak_hz(b"".join(parts)[: 48000 * 2], 48000) - 440) <= 2


def test_resampler_passthrough_is_identity():
    pcm = tone(440, 0.1, 24000)
    resampler = Resampler(24000, 24000)
    assert resampler.passthrough
    assert resampler.process(pcm) is pcm
    assert resampler.process(b"\x01") == b"" and resampler.process(b"\x02") == b"\x01\x02"
    assert resampler.flush() == b""
    assert resample_pcm(pcm, 24000, 24000) is pcm


# --- encoding ----------------------------------------------------------------------------------

def test_wav_header_is_exact():
    pcm = tone(440, 0.25, 22050)
    data = encode_wav(pcm, 22050)
    assert len(data) == 44 + len(pcm)
    riff, riff_size, wave_id = struct.unpack("<4sI4s", data[:12])
    assert (riff, riff_size, wave_id) == (b"RIFF", 36 + len(pcm), b"WAVE")
    assert struct.unpack("<4sIHHIIHH", data[12:36]) == (b"fmt ", 16, 1, 1, 22050, 44100, 2, 16)
    assert struct.unpack("<4sI", data[36:44]) == (b"data", len(pcm))
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 22050)
        assert wav.readframes(wav.getnframes()) == pcm


def test_streaming_wav_has_unknown_size_header_and_decodes():
    pcm = tone(440, 0.5, 24000)
    encoder = create_encoder(parse_output_format("wav"), 24000)
    first = encoder.feed(pcm[:1000])
    assert first[:4] == b"RIFF" and first[4:8] == struct.pack("<I", UNKNOWN_SIZE)
    assert first[40:44] == struct.pack("<I", UNKNOWN_SIZE)
    assert first == wav_header(24000, None) + pcm[:1000]
    stream = first + encoder.feed(pcm[1000:]) + encoder.finish()
    assert stream[44:] == pcm
    assert pyav_decode(stream) == (len(pcm) // 2, 24000)


def test_pcm_format_resamples_to_its_rate():
    pcm = tone(440, 1.0, 22050)
    out = encode_all(pcm, 22050, parse_output_format("pcm_16000"))
    assert abs(len(out) // 2 - 16000) <= 1
    encoder = create_encoder(parse_output_format("pcm_22050"), 22050)
    assert encoder.feed(pcm) == pcm and encoder.finish() == b""


LOSSY = ["mp3", "mp3_22050_32", "mp3_44100_128"] + (["opus", "opus_48000_32"] if opus_available() else [])


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_whole_file_round_trip(name):
    fmt = parse_output_format(name)
    rate = 22050
    pcm = tone(1000, 1.0, rate)
    data = encode_all(pcm, rate, fmt)
    samples, out_rate = pyav_decode(data)
    assert out_rate == fmt.output_rate(rate)
    frame = 1152 if out_rate > 24000 else 576
    assert abs(samples - out_rate) <= frame  # MP3 carries a LAME tag, Ogg Opus pre-skip: near exact
    decoded, dec_rate = decode_audio(data, max_seconds=5)
    assert dec_rate == out_rate
    assert abs(peak_hz(decoded, dec_rate) - 1000) <= 3


@pytest.mark.parametrize("name", LOSSY)
def test_lossy_streaming_round_trip(name):
    fmt = parse_output_format(name)
    rate = 24000
    pcm = tone(500, 2.0, rate)
    encoder = create_encoder(fmt, rate)
    chunks = [encoder.feed(pcm[i:i + 4800]) for i in range(0, len(pcm), 4800)]  # 100 ms chunks
    tail = encoder.finish()
    assert sum(1 for c in chunks if c) >= len(chunks) // 2, "encoder must stream, not buffer everything"
    assert encoder.finish() == b""
    samples, out_rate = pyav_decode(b"".join(chunks) + tail)
    frame = 1152 if out_rate > 24000 else 576
    expected = 2 * out_rate
    # Streaming MP3 has no LAME tag: decoders keep the encoder delay (~1 frame) and padding.
    assert expected <= samples + frame and samples <= expected + 3 * frame


def test_feed_after_finish_fails():
    encoder = create_encoder(parse_output_format("mp3"), 22050)
    encoder.finish()
    with pytest.raises(RuntimeError):
        encoder.feed(b"\x00\x00")


# --- decoding ----------------------------------------------------------------------------------

def _flac_stereo(rate: int = 44100, seconds: float = 0.5) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="stereo")
        mono = np.frombuffer(tone(440, seconds, rate), dtype="<i2")
        frame = av.AudioFrame.from_ndarray(np.repeat(mono, 2).reshape(1, -1), format="s16", layout="stereo")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buf.getvalue()


def test_decode_wav_and_stereo_flac_to_mono():
    pcm = tone(440, 0.5, 16000)
    assert decode_audio(encode_wav(pcm, 16000), max_seconds=1) == (pcm, 16000)
    out, rate = decode_audio(_flac_stereo(), max_seconds=1)
    assert rate == 44100 and len(out) // 2 == 22050
    peak = np.abs(np.frombuffer(out, dtype="<i2")).max()
    assert 0.28 * 32767 < peak < 0.32 * 32767  # downmix averages the channels, no clipping
    assert abs(peak_hz(out, rate) - 440) <= 3


@pytest.mark.parametrize("data", [
    b"",
    b"hello, this is plain text and not audio at all\n" * 20,
    b'{"audio": "nope"}',
    bytes(4096),
    os.urandom(8192),
    b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(range(256)) * 4,
    wav_header(22050, 0),
], ids=["empty", "text", "json", "zeros", "random", "corrupt-wav", "header-only"])
def test_decode_rejects_non_audio(data):
    with pytest.raises(AudioDecodeError):
        decode_audio(data, max_seconds=10)


def test_decode_rejects_corrupt_body_after_valid_header():
    good = encode_all(tone(440, 1.0, 22050), 22050, parse_output_format("mp3"))
    with pytest.raises(AudioDecodeError):
        decode_audio(good[:40] + os.urandom(6000), max_seconds=10)


@pytest.mark.parametrize("name", ["wav", "mp3"] + (["opus"] if opus_available() else []))
def test_decode_rejects_too_long(name):
    data = encode_all(tone(440, 3.0, 22050), 22050, parse_output_format(name))
    assert decode_audio(data, max_seconds=4)[1] > 0
    with pytest.raises(AudioDecodeError, match="longer than"):
        decode_audio(data, max_seconds=1.5)  # container duration says so up front
    with pytest.raises(AudioDecodeError, match="longer than"):
        decode_audio(data, max_seconds=2.9)  # caught while counting decoded samples


def test_decode_pcm_validates():
    assert decode_pcm(b"\x01\x00\x02\x00", 16000) == (b"\x01\x00\x02\x00", 16000)
    for data, rate in [(b"\x01", 16000), (b"", 16000), (b"\x00\x00", 0), (b"\x00\x00", 10**7)]:
        with pytest.raises(AudioDecodeError):
            decode_pcm(data, rate)
    with pytest.raises(AudioDecodeError, match="longer than"):
        decode_pcm(bytes(64000), 16000, max_seconds=1)


_MP3 = encode_all(tone(440, 0.3, 22050), 22050, parse_output_format("mp3"))
_WAV = encode_wav(tone(440, 0.3, 22050), 22050)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([b"", _MP3[:64], _WAV[:44], b"OggS", b"fLaC", b"ID3\x04\x00\x00\x00\x00\x00\x00"]),
       body=st.binary(max_size=4096), cut=st.integers(0, len(_MP3)))
def test_decode_never_raises_anything_but_audio_decode_error(prefix, body, cut):
    for data in (prefix + body, _MP3[:cut] + body):
        try:
            pcm, rate = decode_audio(data, max_seconds=2)
        except AudioDecodeError:
            continue
        assert pcm and len(pcm) % 2 == 0 and 1000 <= rate <= 384000
