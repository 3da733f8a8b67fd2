"""Response classes of the HTTP API."""

from __future__ import annotations

import orjson
from fastapi.responses import JSONResponse


class FastJSONResponse(JSONResponse):
    """JSON with orjson: speak responses carry thousands of curve values, and this is the hot path."""

    def render(self, content) -> bytes:  # noqa: ANN001
        return orjson.dumps(content)
