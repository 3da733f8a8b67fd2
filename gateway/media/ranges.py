"""HTTP byte ranges (RFC 9110 section 14): one ``Range: bytes=...`` header against an item of ``size`` bytes.

One range is served (206); several ranges, another unit or a malformed header are ignored, so the whole item is
served (200), which the RFC allows; a range that starts past the end is unsatisfiable (416).
"""

from __future__ import annotations

from dataclasses import dataclass


class RangeNotSatisfiable(ValueError):
    """The range starts at or past the end of the item (HTTP 416, ``Content-Range: bytes */<size>``)."""


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    stop: int  #: exclusive

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for, clipped to the item; None to serve the whole item."""
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    first, last = first.strip(), last.strip()
    if not dash or not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(header)
    stop = size if last == "" else min(size, int(last) + 1)
    return ByteRange(start, stop)
