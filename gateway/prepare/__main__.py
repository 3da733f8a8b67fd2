"""``python -m gateway.prepare``: prepare every local model once into the data dir (idempotent)."""

from __future__ import annotations

import logging
import sys

from gateway.prepare.piper import prepare_piper
from gateway.settings import Settings


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="prepare: %(message)s")
    settings = Settings()
    models = settings.models_dir
    models.mkdir(parents=True, exist_ok=True)
    prepare_piper(models)
    try:
        from gateway.prepare.kokoro import prepare_kokoro_model, prepare_kokoro_voices

        prepare_kokoro_model(models)
        prepare_kokoro_voices(models)
    except Exception as exc:  # noqa: BLE001 - Kokoro is optional: the gateway runs on Piper without it
        logging.warning("Kokoro not prepared (%s); the gateway will serve without it", exc)
    try:
        from gateway.prepare.whisper import prepare_whisper

        prepare_whisper(models)
    except Exception as exc:  # noqa: BLE001 - optional: audio-only lip-sync falls back to pocketsphinx
        logging.warning("Whisper not prepared (%s); audio-only lip-sync will use pocketsphinx", exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
