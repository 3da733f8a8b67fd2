"""Offline stand-ins for cloud TTS providers: the real wire protocols, local Piper speech, fault knobs.

Each stand-in is a separate process (``python -m ops.standins.<vendor> --port N``) so the
gateway and the official vendor SDKs talk to it exactly as they would to the cloud. See
``docs/standins.md``.
"""
