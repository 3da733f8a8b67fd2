"""A game client written only from the original service contract (/work/shared/reference/original-contract.md).

It knows three calls and five status codes, nothing of Mouthpiece's own fields: ``POST /api/avatar/speak``
(``text``, ``voice_id``, ``avatar_id``; optional ElevenLabs-style ``voice_settings`` and ``model_id``) answering
``audio_url``, ``video_url``, ``duration``, ``processing_time``, ``request_id``; ``GET /api/avatar/voices``
answering ``voices: [{id, name, preview_url}]``; ``GET /api/health`` answering ``status``, ``timestamp``,
``services``. Errors are ``{"error": "..."}`` with 400, 429, 500 or 503. Media are fetched from the URLs given.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

#: Rachel, the contract's example voice.
RACHEL = "21m00Tcm4TlvDq8ikWAM"
SEED = {"text": "Hello, how can I help you today?", "voice_id": RACHEL, "avatar_id": "default"}
CONTRACT_STATUSES = {200, 400, 429, 500, 503}


class ContractError(Exception):
    """A non-200 answer: its status and the message in ``error``."""

    def __init__(self, status: int, error: str, retry_after: str | None = None) -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error
        self.retry_after = retry_after


@dataclass(frozen=True)
class Spoken:
    audio_url: str
    video_url: str | None
    duration: float
    processing_time: float
    request_id: str
    body: dict


class ContractClient:
    def __init__(self, base_url: str, timeout: float = 90.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _json(self, response: httpx.Response) -> dict:
        body = response.json()
        if response.status_code != 200:
            assert response.status_code in CONTRACT_STATUSES, (response.status_code, body)
            assert isinstance(body.get("error"), str) and body["error"], body
            raise ContractError(response.status_code, body["error"], response.headers.get("retry-after"))
        return body

    def speak(self, text: str | None, voice_id: str | None = RACHEL, avatar_id: str | None = "default",
              **extra: object) -> Spoken:
        payload = {k: v for k, v in {"text": text, "voice_id": voice_id, "avatar_id": avatar_id}.items()
                   if v is not None}
        body = self._json(self.http.post("/api/avatar/speak", json={**payload, **extra}))
        return Spoken(body["audio_url"], body["video_url"], float(body["duration"]),
                      float(body["processing_time"]), body["request_id"], body)

    def post_raw(self, content: bytes) -> dict:
        return self._json(self.http.post("/api/avatar/speak", content=content,
                                         headers={"content-type": "application/json"}))

    def voices(self) -> list[dict]:
        return self._json(self.http.get("/api/avatar/voices"))["voices"]

    def health(self) -> dict:
        return self._json(self.http.get("/api/health"))

    def media(self, url: str) -> httpx.Response:
        response = self.http.get(url)
        if response.status_code != 200:
            raise ContractError(response.status_code, response.text[:200])
        return response
