"""ElevenLabs stand-in: the REST and WebSocket TTS API, spoken by the local Piper voice.

    python -m ops.standins.elevenlabs --port 8701 [--api-key KEY ...] [--character-limit 100000]

Implements, as the official SDK and our providers use them (``docs/standins.md``):

* ``POST /v1/text-to-speech/{voice_id}`` (+ ``/stream``, ``/with-timestamps``,
  ``/stream/with-timestamps``) with ``output_format`` (``mp3_*``, ``pcm_*``, ``wav_*``,
  ``ulaw_8000``, ``alaw_8000``, ``opus_48000_*`` when PyAV has libopus), the JSON body
  (``text`` required; ``model_id``, ``voice_settings``, ``previous_text``, ``next_text``, ...),
  ``xi-api-key`` auth and the vendor's error bodies;
* ``GET /v1/voices``, ``GET /v1/voices/{id}``, ``GET /v1/user/subscription`` (characters used are
  counted), ``GET /v1/models``;
* ``WS /v1/text-to-speech/{voice_id}/stream-input`` and ``/multi-stream-input``: initial ``" "``
  message (key in the handshake header or the first message), ``chunk_length_schedule``
  buffering, ``try_trigger_generation``, ``flush``, keep-alive, ``{"text": ""}`` to end,
  ``inactivity_timeout`` (close 1008 ``input_timeout_exceeded``), per-chunk alignment in ms
  relative to the chunk, ``{"isFinal": true}``; contexts (``context_id``, ``close_context``,
  ``close_socket``; more than 5 open contexts close the socket 1008).

Speech is real: Piper synthesizes each sentence, every input character gets a start/end time
from Piper's word timings (see :mod:`ops.standins.speech`). Faults are set through
``/__control/faults``; account state through ``/__control/account``; recent requests (never
keys) are listed at ``/__control/requests``.

Modules: :mod:`~.app` (the FastAPI app: control, voices, models, subscription), :mod:`~.rest`
(REST text-to-speech), :mod:`~.websocket` and :mod:`~.context` (the stream-input state machine),
:mod:`~.formats` (``output_format`` names), :mod:`~.voices` (voices, models, voice settings),
:mod:`~.errors` (error names and bodies), :mod:`~.state` (account and faults), ``__main__``
(the command line).
"""
