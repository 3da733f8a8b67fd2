"""What every settings group is built from: the repository root, list values from the environment, the config of a
group (its environment prefix, the ``.env`` file, docstrings as field descriptions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


def split_list(value: object) -> object:
    """A list from the environment: a JSON list, or comma-separated values."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


#: A list setting that may be written ``a,b,c`` or ``["a", "b", "c"]`` in the environment.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(split_list)]
SecretList = Annotated[list[SecretStr], NoDecode, BeforeValidator(split_list)]


def group_config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", use_attribute_docstrings=True)
