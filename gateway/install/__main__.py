"""``python -m gateway.install``: prepare every local model once into the data dir (idempotent)."""

from __future__ import annotations

import logging
import sys

from gateway.install.piper import prepare_piper
from gateway.settings import Settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="prepare: %(message)s")
    settings = Settings()
    models = settings.models_dir
    models.mkdir(parents=True, exist_ok=True)
    prepare_piper(models)
    try:
        from gateway.install.kokoro import prepare_kokoro  # optional: its failure must not stop the Piper set-up
        from gateway.install.kokoro_split import prepare_kokoro_split

        prepare_kokoro(models)
        prepare_kokoro_split(models)  # front + decoder, so Kokoro streams inside a sentence
    except Exception as exc:  # noqa: BLE001 - Kokoro is optional: the gateway runs on Piper without it
        logging.warning("Kokoro not prepared (%s); the gateway will serve without it", exc)
    try:
        from gateway.install.whisper import prepare_whisper  # optional, like Kokoro

        prepare_whisper(models)
    except Exception as exc:  # noqa: BLE001 - optional: audio-only lip-sync falls back to pocketsphinx
        logging.warning("Whisper not prepared (%s); audio-only lip-sync will use pocketsphinx", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
