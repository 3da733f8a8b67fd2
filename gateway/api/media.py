"""Serving stored audio and video by request id, from any media backend, with HTTP Range support.

``GET`` answers 200 with the whole item, 206 with one range (``Content-Range``), 416 for a range past the end,
404 for an unknown or expired request id and 503 (``Retry-After``) while the media backend cannot be reached.
``If-Range`` with another validator than the item's ``ETag`` serves the whole item.
"""

from __future__ import annotations

import structlog
from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gateway.media.ranges import RangeNotSatisfiable, parse_range
from gateway.media.store import MediaKind, MediaStore, MediaUnavailable
from gateway.observability.metrics import MEDIA_READS

log = structlog.get_logger(__name__)


async def media_response(store: MediaStore, kind: MediaKind, request_id: str, request: Request) -> Response:
    try:
        info = await store.info(kind, request_id)
    except MediaUnavailable as exc:
        MEDIA_READS.labels(kind.value, store.backend, "unavailable").inc()
        log.warning("media_unavailable", kind=kind.value, backend=store.backend, error=str(exc))
        return JSONResponse({"error": "media_unavailable", "message": f"The {kind} store cannot be reached; retry."},
                            status_code=503, headers={"Retry-After": "1"})
    if info is None:
        MEDIA_READS.labels(kind.value, store.backend, "not_found").inc()
        return JSONResponse({"error": "not_found", "message": f"No {kind} for that request id"}, status_code=404)
    headers = {"Accept-Ranges": "bytes", "ETag": info.etag}
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != info.etag:
        wanted = None
    try:
        byte_range = parse_range(wanted, info.size)
    except RangeNotSatisfiable:
        MEDIA_READS.labels(kind.value, store.backend, "range_not_satisfiable").inc()
        return JSONResponse({"error": "range_not_satisfiable", "message": f"The {kind} has {info.size} bytes"},
                            status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    if byte_range is None:
        start, stop, status = 0, info.size, 200
    else:
        start, stop, status = byte_range.start, byte_range.stop, 206
        headers["Content-Range"] = byte_range.content_range(info.size)
    headers["Content-Length"] = str(stop - start)
    MEDIA_READS.labels(kind.value, store.backend, "partial" if status == 206 else "ok").inc()
    return StreamingResponse(store.read(info, start, stop), status_code=status, media_type=info.media_type,
                             headers=headers)
