"""HTTP API (FastAPI): speak, stream, voices, health, metrics, audio files."""
