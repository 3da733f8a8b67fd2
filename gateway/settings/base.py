"""What every settings group is made of: list values from the environment, the per-group configuration, worker
URLs."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BeforeValidator, SecretStr
from pydantic_settings import NoDecode, SettingsConfigDict


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


def _config(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore", use_attribute_docstrings=True)


def check_urls(value: list[str]) -> list[str]:
    """Worker base URLs: ``http(s)://`` only, without a trailing slash."""
    out = []
    for url in value:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"worker URL must start with http:// or https://: {url!r}")
        out.append(url.rstrip("/"))
    return out
