"""The avatar demo page: the web/ static export served at ``/avatar_demo``.

``mount_demo(app, build_dir)`` is called after the API routers are included, so the API always wins. When the
export is missing (``scripts/build_web.sh`` was not run), ``/avatar_demo`` answers ``503`` with a short page
that says how to build it, or JSON for clients that ask for JSON, instead of a bare 404.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from gateway.settings import REPO_ROOT

DEMO_PATH = "/avatar_demo"
DEFAULT_BUILD_DIR = REPO_ROOT / "web" / "out"
BUILD_COMMAND = "scripts/build_web.sh"

_MISSING_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Avatar demo not built</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2937}}
code{{background:#f1f5f9;padding:.1rem .3rem;border-radius:.25rem}}</style></head>
<body><h1>The avatar demo is not built</h1>
<p>The gateway serves the web page from <code>{build_dir}</code>, which has no <code>index.html</code>.</p>
<p>Build it (Node 20 and npm), then reload this page:</p>
<pre><code>{command}</code></pre>
<p>The API itself works: see <a href="/docs">/docs</a> and <a href="/api/health">/api/health</a>.</p>
</body></html>
"""


def demo_available(build_dir: Path) -> bool:
    return (Path(build_dir) / "index.html").is_file()


def _missing_response(request: Request, build_dir: Path) -> Response:
    body = {"error": "demo_not_built", "message": f"The avatar demo is not built: run {BUILD_COMMAND}",
            "build_dir": str(build_dir), "command": BUILD_COMMAND}
    headers = {"Retry-After": "60", "Cache-Control": "no-store"}
    accept = request.headers.get("accept", "")
    if "json" in accept and "text/html" not in accept:
        return JSONResponse(body, status_code=503, headers=headers)
    return HTMLResponse(_MISSING_HTML.format(build_dir=build_dir, command=BUILD_COMMAND), status_code=503,
                        headers=headers)


class _DemoFiles(StaticFiles):
    """StaticFiles that re-checks the build on every request, so building while the gateway runs just works."""

    def __init__(self, build_dir: Path) -> None:
        self.build_dir = Path(build_dir)
        super().__init__(directory=self.build_dir, html=True, check_dir=False)

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http" and not demo_available(self.build_dir):
            response = _missing_response(Request(scope, receive), self.build_dir)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def file_response(self, full_path, stat_result, scope, status_code=200):  # noqa: ANN001, ANN201
        response = super().file_response(full_path, stat_result, scope, status_code)
        # hashed assets never change; pages must be re-read after a rebuild
        if "/_next/static/" in str(full_path):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response


def mount_demo(app: FastAPI, build_dir: Path | str | None = None) -> None:
    """Serve the static export in ``build_dir`` (default: ``$GATEWAY_DEMO_DIR``, else ``web/out``) at ``/avatar_demo``.

    Call it after the API routers: the mount is a catch-all below ``/avatar_demo`` only.
    """
    build = Path(build_dir or os.environ.get("GATEWAY_DEMO_DIR") or DEFAULT_BUILD_DIR)

    @app.get(DEMO_PATH, include_in_schema=False)
    async def demo_root() -> RedirectResponse:
        # the export is built with trailingSlash: /avatar_demo -> /avatar_demo/ (relative URLs then resolve)
        return RedirectResponse(DEMO_PATH + "/", status_code=307)

    app.mount(DEMO_PATH, _DemoFiles(build), name="avatar_demo")
