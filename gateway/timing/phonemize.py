"""espeak-ng G2P shared by every local voice: one espeak-ng per process, one lock.

piper-tts's ``espeakbridge`` keeps a single voice and buffer for the whole process. Piper itself
phonemizes under ``piper.voice._ESPEAK_PHONEMIZER_LOCK`` and sets its voice on every call; everything
else here (Kokoro's G2P, cloud character alignments) goes through :func:`espeak_clauses`, which holds
that same lock, so no caller ever sees another's voice or buffer.
"""

from __future__ import annotations

from piper import voice as piper_voice

LOCK = piper_voice._ESPEAK_PHONEMIZER_LOCK  # noqa: SLF001 - the lock Piper's own phonemizer holds


def espeak_clauses(text: str, espeak_voice: str) -> list[tuple[str, str, bool]]:
    """``[(ipa, terminator, end_of_sentence), ...]`` for ``text`` with espeak-ng voice ``espeak_voice``."""
    from piper import espeakbridge
    from piper.phonemize_espeak import ESPEAK_DATA_DIR, EspeakPhonemizer

    with LOCK:
        if piper_voice._ESPEAK_PHONEMIZER is None:  # noqa: SLF001 - initialize espeak-ng once, as Piper would
            piper_voice._ESPEAK_PHONEMIZER = EspeakPhonemizer(str(ESPEAK_DATA_DIR))  # noqa: SLF001
        espeakbridge.set_voice(espeak_voice)
        return espeakbridge.get_phonemes(text)
