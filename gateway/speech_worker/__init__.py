"""``gateway speech-worker``: the local engines (Piper, Kokoro, espeak) in their own process, over the OpenAI speech
API, with the engines' phoneme timing as an extension (docs/speech-workers.md).

:mod:`.engines` loads the engines through their provider classes; :mod:`.request` is what the API accepts;
:mod:`.bodies` turns an engine's events into answers; :mod:`.app` is the HTTP API. The gateway's side is the
``openai_speech`` provider (:mod:`gateway.providers.openai_speech`).
"""
