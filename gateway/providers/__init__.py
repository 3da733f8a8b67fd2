"""TTS providers: one file per implementation, one interface (:class:`gateway.providers.base.Provider`)."""
