"""Exporters: one module per output shape, each turning typed results into what a client reads.

* :mod:`.speak`: the speak response body and headers;
* :mod:`.stream`: one NDJSON object per stream event;
* :mod:`.elevenlabs_ws`: the ElevenLabs-protocol WebSocket messages (character alignment, visemes);
* :mod:`.alignment`: the ``POST /api/lipsync`` / ``gateway align`` body;
* :mod:`.health`: the health report;
* :mod:`.files`: files for a game's pipeline (ARKit CSV, SRT subtitles) written by ``gateway bake``.
"""
