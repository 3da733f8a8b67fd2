"""Fish Audio stand-in: the HTTP and live WebSocket TTS API, spoken by the local Piper voice.

    python -m ops.standins.fish --port 8702 [--api-key KEY ...] [--credit 10] [--concurrency 5]

Implements, as the official SDKs (``fish_audio_sdk`` legacy and ``fishaudio``, both in
fish-audio-sdk 1.3.0) and our provider use them (``docs/standins.md``):

* ``POST /v1/tts``: ``Authorization: Bearer <key>``, ``model`` header (any value; recorded),
  body as msgpack (``application/msgpack``, explicit nils accepted) or JSON; the TTSRequest
  fields (``text``, ``chunk_length`` 100..300, ``format`` wav|pcm|mp3|opus, ``sample_rate``
  (nil: 44100, opus 48000), ``mp3_bitrate``, ``opus_bitrate``, ``references``, ``reference_id``,
  ``normalize``, ``latency``, ``prosody {speed, volume}``, ``top_p``, ``temperature``, and the
  newer ``max_new_tokens`` ... ``early_stop_threshold``). Answer: 200 with raw audio bytes,
  ``Transfer-Encoding: chunked``, no framing, no timestamps;
* errors as ``{"status": <int>, "message": <str>}`` (exactly those two keys: the legacy SDK does
  ``HttpCodeErr(**resp.json())``), except 422 which is an array of ``{loc, type, msg, ctx, in}``;
  429 carries no ``Retry-After``; 402 when credit runs out;
* ``GET /wallet/self/api-credit``, ``GET /wallet/self/package``, ``GET /model`` (paginated),
  ``GET /model/{id}``;
* ``WS /v1/tts/live``: binary msgpack frames; client ``start`` (request with ``text: ""``),
  ``text``*, ``flush``, ``stop``; server ``{"event": "audio", "audio": <bin>}``* then one
  ``{"event": "finish", "reason": "stop"|"error"}`` and close. Buffered text is spoken at
  ``flush``, at ``stop``, and whenever ``chunk_length`` characters ending a sentence are waiting.
  A bad key is refused at the handshake (HTTP 401, same body as HTTP).

Faults come from the shared model in :mod:`ops.standins.faults` (``/__control/faults``): error
names are the keys of :data:`~.errors.ERRORS`; ``stream_error`` on the WebSocket is a
``finish``/``error`` after ``start``. Account state: ``/__control/account`` (``credit``,
``package_balance``, ``concurrency_limit``); recent requests (never keys): ``/__control/requests``.

Modules: :mod:`~.app` (the FastAPI app: control, wallet, models), :mod:`~.rest` (``/v1/tts``),
:mod:`~.live` (``/v1/tts/live``), :mod:`~.request` (TTSRequest parsing), :mod:`~.state`
(wallet and admission), :mod:`~.voices`, :mod:`~.errors`, ``__main__`` (the command line).
"""
