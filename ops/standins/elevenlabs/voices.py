"""The ElevenLabs stand-in's catalogue: models and their character limits, premade voices, voice settings."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from ops.standins.elevenlabs.errors import validation_error

DEFAULT_MODEL = "eleven_multilingual_v2"
#: Characters per request by model family (models.mdx); others get 10,000.
MODEL_CHAR_LIMITS = {"eleven_flash_v2_5": 40000, "eleven_turbo_v2_5": 40000, "eleven_flash_v2": 30000,
                     "eleven_turbo_v2": 30000, "eleven_multilingual_v2": 10000, "eleven_v3": 3000}
MODELS = ["eleven_multilingual_v2", "eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_flash_v2", "eleven_turbo_v2",
          "eleven_v3", "eleven_monolingual_v1"]


def max_chars(model: str) -> int:
    """Characters one request may have with ``model``."""
    return MODEL_CHAR_LIMITS.get(model, 10000)


#: Stand-in voices (real premade voice ids). All speak with the local Piper voice at their own pace.
VOICES: list[dict[str, Any]] = [
    {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "speed": 1.0,
     "labels": {"accent": "american", "description": "calm", "age": "young", "gender": "female",
                "use_case": "narration"}},
    {"voice_id": "pNInz6obpgDQGcFmaJgB", "name": "Adam", "speed": 0.95,
     "labels": {"accent": "american", "description": "deep", "age": "middle_aged", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "JBFqnCBsd6RMkjVDRZzb", "name": "George", "speed": 1.05,
     "labels": {"accent": "british", "description": "warm", "age": "middle_aged", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "EXAVITQu4vr4xnSDxMaL", "name": "Sarah", "speed": 1.0,
     "labels": {"accent": "american", "description": "soft", "age": "young", "gender": "female",
                "use_case": "news"}},
    {"voice_id": "TxGEqnHWrfWFTfGW9XjX", "name": "Josh", "speed": 1.05,
     "labels": {"accent": "american", "description": "deep", "age": "young", "gender": "male",
                "use_case": "narration"}},
    {"voice_id": "XB0fDUnXU5powFXDhCwa", "name": "Charlotte", "speed": 0.95,
     "labels": {"accent": "swedish", "description": "seductive", "age": "young", "gender": "female",
                "use_case": "characters"}},
    {"voice_id": "onwK4e9ZLuTAKqWW03F9", "name": "Daniel", "speed": 1.0,
     "labels": {"accent": "british", "description": "deep", "age": "middle_aged", "gender": "male",
                "use_case": "news presenter"}},
    {"voice_id": "Xb7hH8MSUJpSbSDYk0k2", "name": "Alice", "speed": 0.95,
     "labels": {"accent": "british", "description": "confident", "gender": "female", "use_case": "news"}},
    {"voice_id": "ThT5KcBeYPX3keUQqHPh", "name": "Dorothy", "speed": 0.9,
     "labels": {"accent": "british", "description": "pleasant", "age": "young", "gender": "female",
                "use_case": "children's stories"}},
]
VOICE_BY_ID = {v["voice_id"]: v for v in VOICES}


def voice_json(v: dict) -> dict:
    return {"voice_id": v["voice_id"], "name": v["name"], "samples": None, "category": "premade",
            "fine_tuning": None, "labels": dict(v["labels"]),
            "description": f"{v['name']} (stand-in; spoken by the local Piper voice)", "preview_url": None,
            "available_for_tiers": [], "settings": None, "sharing": None,
            "high_quality_base_model_ids": ["eleven_flash_v2_5", "eleven_turbo_v2_5", "eleven_multilingual_v2"],
            "verified_languages": [{"language": "en", "model_id": "eleven_flash_v2_5",
                                    "accent": v["labels"]["accent"], "locale": "en-US", "preview_url": None}],
            "is_owner": False, "is_legacy": False, "is_mixed": False}


def voice_speed(voice: dict, settings: dict | None) -> float:
    speed = float((settings or {}).get("speed") or 1.0)
    return voice["speed"] * speed


_SETTING_RANGES = {"stability": (0.0, 1.0), "similarity_boost": (0.0, 1.0), "style": (0.0, 1.0),
                   "speed": (0.7, 1.2), "clone_strength": (0.0, 1.0)}


def check_voice_settings(vs: Any, loc_prefix: list) -> JSONResponse | None:
    if vs is None:
        return None
    if not isinstance(vs, dict):
        return validation_error(loc_prefix, "Input should be a valid dictionary", "dict_type")
    for key, (lo, hi) in _SETTING_RANGES.items():
        value = vs.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return validation_error(loc_prefix + [key], "Input should be a valid number", "float_type")
        if not lo <= value <= hi:
            return validation_error(loc_prefix + [key], f"Input should be between {lo} and {hi}",
                                    "less_than_equal" if value > hi else "greater_than_equal")
    return None
