"""The voice catalogue (``config/voices.yaml``): every provider's voices with their traits, and the rule that
says which voices match (:mod:`gateway.voices.match`)."""

from gateway.voices.catalogue import CatalogueError, CatalogueVoice, VoiceCatalogue, VoiceTraits, load_catalogue
from gateway.voices.match import VoiceChange, VoicePlan, differences, distance, nearest

__all__ = ["CatalogueError", "CatalogueVoice", "VoiceCatalogue", "VoiceChange", "VoicePlan", "VoiceTraits", "differences",
           "distance", "load_catalogue", "nearest"]
