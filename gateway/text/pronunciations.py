"""How a character says the names of the game world: IPA for voices that take phonemes, a respelling for all.

:func:`mark_pronunciations` turns plain text into SSML where those names carry ``<phoneme>`` or ``<sub>``, so the
line planner reads them like any other SSML (the rest of the text is escaped, never interpreted).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Pronunciation(BaseModel):
    """How to say a name: an IPA transcription or a respelling (alias).

    ``ipa`` is exact on voices that take phonemes (Piper); the others read the written name with their own
    G2P. ``alias`` is read by every voice. Given both, ``ipa`` wins (SSML cannot nest ``<sub>`` in ``<phoneme>``).
    """

    model_config = ConfigDict(extra="forbid")

    ipa: str | None = Field(None, description="IPA, used by voices that take phonemes (Piper).")
    alias: str | None = Field(None, description="A respelling every voice can read (\"Ee-zolde\").")

    @model_validator(mode="after")
    def _one_of(self) -> "Pronunciation":
        if not (self.ipa or self.alias):
            raise ValueError("needs ipa or alias")
        return self


def mark_pronunciations(text: str, pronunciations: Mapping[str, Pronunciation]) -> str | None:
    """Plain ``text`` as SSML with the names of ``pronunciations`` marked up; ``None`` when no name occurs."""
    if not pronunciations:
        return None
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(pronunciations, key=len, reverse=True))
                         + r")\b", re.IGNORECASE)
    by_lower = {w.lower(): p for w, p in pronunciations.items()}
    out, pos = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[pos:match.start()], quote=False))
        word = escape(match.group(0))
        p = by_lower[match.group(0).lower()]
        if p.ipa:
            out.append(f'<phoneme alphabet="ipa" ph="{escape(p.ipa)}">{word}</phoneme>')
        else:
            out.append(f'<sub alias="{escape(p.alias or "")}">{word}</sub>')
        pos = match.end()
    if not out:
        return None
    out.append(escape(text[pos:], quote=False))
    return "<speak>" + "".join(out) + "</speak>"
