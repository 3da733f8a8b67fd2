"""``GET /api/avatar/voices``: every provider's voices with their traits, the cast, and the vendor voice ids.

The shape is the one clients already read (``voices`` and ``characters``); traits and the vendor list are extra
fields: ``accent``, ``age``, ``pitch_hz`` on each voice, and the original contract's ``id`` (the same as ``voice_id``)
and ``preview_url``; on each character its ``voice_plan`` (the voice every
provider of its chain speaks it with); ``vendor_voices``: the catalogue's cloud voices, each with the local
voice it maps to on this gateway's chain (``served_as``).
"""

from __future__ import annotations

from urllib.parse import quote

from gateway.service import Mouthpiece


def preview_url(voice_id: str) -> str:
    """Where a voice's preview is (served by ``gateway.api.routes_compat``)."""
    return f"/api/avatar/voices/{quote(voice_id, safe=':')}/preview"

#: Catalogue sections whose voices are vendor ids a client may hold.
VENDOR_SECTIONS = ("elevenlabs", "fish_audio")


def voices_json(mouthpiece: Mouthpiece) -> dict:
    catalogue = mouthpiece.catalogue
    voices = []
    for v in mouthpiece.voices():
        p = mouthpiece.providers.get(v.provider)
        section = catalogue.section_of(v.provider, p.family if p is not None else "") or v.provider
        traits = catalogue.describe(section, v.voice, [v]).traits
        voices.append({"id": v.voice_id, "voice_id": v.voice_id, "provider": v.provider, "voice": v.voice, "name": v.name,
                       "preview_url": preview_url(v.voice_id),
                       "language": v.language, "gender": v.gender, "sample_rate": v.sample_rate,
                       "accent": traits.accent, "age": traits.age,
                       "pitch_hz": round(traits.pitch_hz) if traits.pitch_hz is not None else None})
    characters = []
    for c in mouthpiece.cast.characters.values():
        plan = mouthpiece.router.voice_plan(c)
        characters.append({"id": c.id, "display_name": c.display_name, "voices": c.voices, "emotion": c.emotion,
                           "chain": c.chain or mouthpiece.settings.chain,
                           "voice_plan": {name: v.voice_id for name, v in plan.by_provider.items()}})
    vendor = []
    default = mouthpiece.cast.get(mouthpiece.settings.default_character) or next(
        iter(mouthpiece.cast.characters.values()))
    for section in VENDOR_SECTIONS:
        for v in catalogue.voices(section):
            plan = mouthpiece.router.voice_plan(default, mouthpiece.voice_ids.resolve(v.voice_id))
            first = next(iter(plan.by_provider.values()), None)
            vendor.append({**v.to_dict(), "id": v.voice, "provider": section,
                           "served_as": first.voice_id if first is not None else None})
    return {"voices": voices, "characters": characters, "vendor_voices": vendor}
