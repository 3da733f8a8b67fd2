"""The Fish Audio stand-in's voices (reference ids of ``config/characters.yaml``) as Fish model entities."""

from __future__ import annotations

from typing import Any

#: The service's default model; the ``model`` header is only recorded (any value is served).
DEFAULT_MODEL = "s2-pro"

#: Stand-in voices (reference ids of config/characters.yaml); all speak with Piper at their own pace.
VOICES: list[dict[str, Any]] = [
    {"_id": "7f92f8afb8ec43bf81429cc1c9199cb1", "title": "Narrator", "speed": 1.0, "tags": ["male", "calm"]},
    {"_id": "54a5170264694bfc8e9ad98df7bd89c3", "title": "Blacksmith", "speed": 0.95, "tags": ["male", "gruff"]},
    {"_id": "8ef4a238714b45718ce04243307c57a7", "title": "Innkeeper", "speed": 1.05, "tags": ["female", "cheerful"]},
    {"_id": "802e3bc2b27e49c2995d23ef70e6ac89", "title": "Rogue", "speed": 1.1, "tags": ["male", "whisper"]},
    {"_id": "e58b0d7efca34eb38d5c4985e378abcb", "title": "Queen", "speed": 0.95, "tags": ["female", "regal"]},
    {"_id": "728f6ff2240d49308e8137ffe66008e2", "title": "Guard", "speed": 1.0, "tags": ["male", "bored"]},
    {"_id": "0eb38bc974e1459facca38b359e13511", "title": "Oracle", "speed": 0.9, "tags": ["female", "ancient"]},
]
VOICE_BY_ID = {v["_id"]: v for v in VOICES}


def model_json(v: dict, user_id: str) -> dict:
    return {"_id": v["_id"], "type": "tts", "title": v["title"], "description": f"{v['title']} (stand-in, Piper)",
            "cover_image": "", "train_mode": "fast", "state": "trained", "tags": v["tags"], "samples": [],
            "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z", "languages": ["en"],
            "visibility": "public", "lock_visibility": False, "like_count": 0, "mark_count": 0, "shared_count": 0,
            "task_count": 0, "liked": False, "marked": False,
            "author": {"_id": user_id, "nickname": "stand-in", "avatar": ""}}
