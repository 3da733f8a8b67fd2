"""OpenAI speech API stand-in, shaped like Kokoro-FastAPI: "a studio's own speech server" in the docs and tests.

A separate process that speaks the OpenAI-compatible speech API the way Kokoro-FastAPI serves it, with real speech
from the local Piper voice (each Kokoro voice name speaks with Piper at its own pace) and no timing extension, so
the gateway's ``openai_speech`` provider aligns the audio itself. Faults as on every stand-in
(``/__control/faults``, docs/standins.md); errors by name: ``processing_error`` (500), ``unavailable`` (503),
``rate_limited`` (429), ``validation_error`` (400).

* ``POST /v1/audio/speech`` ``{"model": "kokoro", "input", "voice": "af_heart", "response_format": "mp3",
  "speed": 1.0, "stream": true}`` -> audio streamed sentence by sentence; ``pcm`` is 24 kHz s16le mono
  (OpenAI's), ``wav`` a 24 kHz stream with unknown sizes, ``mp3``, ``opus``. Other fields are ignored.
* ``GET /v1/models`` (``tts-1``, ``tts-1-hd``, ``kokoro``), ``GET /v1/audio/voices`` (``{"voices": [{"id",
  "name"}]}``), ``GET /health``.
* Errors: ``{"detail": {"error", "message", "type"}}`` (400: unknown model or voice, a format it does not make),
  FastAPI's 422 for bodies that are not its schema, OpenAI's ``{"error": {...}}`` 401 for a wrong key when
  ``--api-key`` is given.

Modules: :mod:`.app` (the routes), :mod:`.speech` (the request schema, voices, formats and the audio body).
"""
