"""Step 3's vendor levelling: a cloud voice's audio brought to the local voices' loudness target.

An async-generator filter on the chain's events. The chain announces each provider attempt (``provider`` status);
when that provider is a vendor (``levelled`` False: ElevenLabs, Fish Audio, OpenAI-compatible speech servers), its
audio goes through a :class:`gateway.audio.vendor_level.VendorLeveller` for the voice it speaks with, so a line
that falls from a cloud voice to a local one (or back) does not jump in level. Local engines, the cache (it holds
levelled audio) and the canned clips pass untouched. Off with ``GATEWAY_DELIVERY_VENDOR_LEVELLING=false``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.audio.vendor_level import VendorLeveller, VoiceLoudness
from gateway.core.events import AudioEvent, StatusEvent
from gateway.settings.audio import DeliverySettings
from gateway.speak.run import LineRun


async def level_vendors(events: AsyncIterator, run: LineRun, levels: VoiceLoudness | None,
                        delivery: DeliverySettings | None) -> AsyncIterator:
    vendors = {s.provider.name: f"{s.provider.family}/{s.voice}" for s in run.line.steps
               if not s.provider.levelled}
    if levels is None or delivery is None or not vendors:
        async for event in events:
            yield event
        return
    key: str | None = None  # the vendor voice now speaking (None: a local engine, the cache, canned)
    leveller: VendorLeveller | None = None  # made with that attempt's first audio (its sample rate)
    async for event in events:
        if isinstance(event, StatusEvent) and event.code == "provider":
            key, leveller = vendors.get(event.provider or ""), None
        elif isinstance(event, AudioEvent) and key is not None:
            if leveller is None or leveller.sample_rate != event.sample_rate:
                leveller = VendorLeveller(levels, key, event.sample_rate, target_lufs=delivery.target_lufs,
                                          ceiling_dbtp=delivery.true_peak_dbtp)
            event = AudioEvent(leveller.process(event.pcm), event.sample_rate, event.segment, event.start_ms)
        yield event
