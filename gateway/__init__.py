"""Mouthpiece: a resilient, provider-agnostic TTS gateway with lip-sync data for game characters."""

__version__ = "0.1.0"
